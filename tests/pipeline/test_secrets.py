"""A distinctive password never appears in output, logs, the pipeline folder or the warehouse."""

from __future__ import annotations

from pathlib import Path

from .loader import Loader


def _hits(loader: Loader, needle: str, *texts: str) -> list[str]:
    found = [f"output #{n}" for n, text in enumerate(texts) if needle in text]
    for folder in (loader.pipelines_dir, loader.duckdb_path.parent):
        for path in Path(folder).rglob("*"):
            if path.is_file() and needle.encode() in path.read_bytes():
                found.append(str(path))
    return found


def test_password_appears_nowhere_after_success_and_after_auth_failure(loader_factory) -> None:
    secret = "S3cr3t-Zebra-Quokka-42"
    loader = loader_factory(calls=500, seed=51, password=secret)
    debug = {"RUNTIME__LOG_LEVEL": "DEBUG"}  # dlt's most talkative setting
    ok = loader.cli("load", "--until", loader.emulator.now.isoformat(), env=debug)
    assert ok.returncode == 0, ok.stderr
    loader.emulator.faults.script = ["500", "429"]  # retried requests are logged too
    loader.emulator.advance(minutes=30, new_calls=5)
    again = loader.cli("load", "--until", loader.emulator.now.isoformat(), env=debug)
    assert again.returncode == 0, again.stderr

    wrong = "Wr0ng-Marmot-Sapphire-77"
    failed = loader.cli("load", env={**debug, "SOURCES__HOSTEDSUITE__PASSWORD": wrong})
    assert failed.returncode == 3
    texts = (ok.stdout, ok.stderr, again.stdout, again.stderr, failed.stdout, failed.stderr)
    assert _hits(loader, secret, *texts) == []
    assert _hits(loader, wrong, *texts) == []
