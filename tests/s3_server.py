"""A throw-away S3-compatible server on 127.0.0.1 for the tests: moto's server mode.

moto (``moto[server]``, pinned in the dev extras) answers S3's REST API from memory, in a
thread of the test process, on a free loopback port: DuckDB's ``httpfs`` and boto3 talk to it
as to any S3 endpoint over plain HTTP with path-style URLs. It accepts any key pair; the tests
use the fixed test keys below, never a real credential. What it does not show: AWS's own
authentication, IAM policies, TLS and latency (see the README's "When one machine is not
enough").

``python -m tests.s3_server`` starts one in the foreground and prints its endpoint.
"""

from __future__ import annotations

import socket
import time
from dataclasses import dataclass
from typing import Any

import boto3
from moto.server import ThreadedMotoServer

ACCESS_KEY_ID = "hostedsuite-test-key"
SECRET_ACCESS_KEY = "hostedsuite-test-S3cr3t"  # a server on loopback only; never a real key
REGION = "us-east-1"


@dataclass
class S3Server:
    """A running server; ``bucket(name)`` creates an empty bucket."""

    port: int
    server: ThreadedMotoServer

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def client(self) -> Any:
        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            aws_access_key_id=ACCESS_KEY_ID,
            aws_secret_access_key=SECRET_ACCESS_KEY,
            region_name=REGION,
        )

    def bucket(self, name: str) -> str:
        self.client().create_bucket(Bucket=name)
        return name

    def keys(self, bucket: str) -> list[str]:
        """Every object key in ``bucket``."""
        pages = self.client().get_paginator("list_objects_v2").paginate(Bucket=bucket)
        return [item["Key"] for page in pages for item in page.get("Contents", [])]

    def stop(self) -> None:
        self.server.stop()


def start_s3() -> S3Server:
    """Starts a server on a free loopback port and waits until it answers."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    running = S3Server(port, server)
    deadline = time.monotonic() + 30
    while True:
        try:
            running.client().list_buckets()
            return running
        except Exception:
            if time.monotonic() > deadline:
                server.stop()
                raise
            time.sleep(0.1)


if __name__ == "__main__":
    s3 = start_s3()
    print(f"S3 endpoint {s3.endpoint}, key {ACCESS_KEY_ID}, secret {SECRET_ACCESS_KEY}")
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        s3.stop()
