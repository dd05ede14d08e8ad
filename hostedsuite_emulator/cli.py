"""``hostedsuite-emulator``: serve emulated HostedSuite data on 127.0.0.1 until Ctrl-C."""

from __future__ import annotations

import argparse
import shlex
import sys
import time

import orjson

from .config import TIME_FORMATS, TZ_STYLES, EmulatorSettings, Faults
from .emulator import Emulator


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="hostedsuite-emulator",
        description="A local HostedSuite web service with deterministic call data.",
    )
    p.add_argument("--port", type=int, default=8080, help="port on 127.0.0.1 (0 = any free)")
    p.add_argument("--calls", type=int, default=5000, help="calls to generate")
    p.add_argument("--seed", type=int, default=1, help="data seed")
    p.add_argument("--start", default="2024-03-01", help="first day of data (YYYY-MM-DD)")
    p.add_argument("--days", type=int, default=45, help="days of data")
    p.add_argument("--page-base", type=int, choices=(0, 1), default=0)
    p.add_argument("--max-page-size", type=int, default=None, help="silent ItemsPerPage cap")
    p.add_argument("--time-format", choices=TIME_FORMATS, default="iso")
    p.add_argument("--tz-style", choices=TZ_STYLES, default="windows")
    p.add_argument("--window-zone", default="local", help='"local" or an IANA zone, e.g. UTC')
    p.add_argument("--end-inclusive", action="store_true", help="EndDate compared with <=")
    p.add_argument("--date-only-end", choices=("midnight", "end_of_day"), default="midnight")
    p.add_argument("--auth-error-status", type=int, choices=(400, 401), default=401)
    p.add_argument("--bad-records", type=int, default=0, help="malformed records to inject")
    p.add_argument(
        "--orphan-center-calls",
        type=int,
        default=0,
        help="calls served with a CenterId missing from /api/centers",
    )
    p.add_argument(
        "--hostile-names",
        action="store_true",
        help="give some centers, clients and agents names full of markup and template syntax",
    )
    p.add_argument(
        "--retention-days",
        type=float,
        default=None,
        help="calls that started more than this many days before the clock are no longer served",
    )
    p.add_argument(
        "--disable-stats-ignored",
        action="store_true",
        help="DisableStats=true does not zero TotalCount/TotalPages",
    )
    p.add_argument("--latency-ms", type=float, default=0.0)
    p.add_argument("--error-rate", type=float, default=0.0)
    p.add_argument("--rate-limit-rate", type=float, default=0.0)
    p.add_argument("--reset-rate", type=float, default=0.0)
    p.add_argument("--truncate-rate", type=float, default=0.0)
    p.add_argument("--slow-rate", type=float, default=0.0)
    p.add_argument("--slow-seconds", type=float, default=2.0)
    p.add_argument("--fault-seed", type=int, default=0)
    p.add_argument(
        "--empty-page-nth",
        type=int,
        default=0,
        help="answer the Nth calls page that has items with no items, once (0 = never)",
    )
    p.add_argument(
        "--empty-page-number",
        type=int,
        default=None,
        help="answer this served Page number with no items, every time",
    )
    p.add_argument(
        "--wrong-shape",
        action="append",
        default=[],
        metavar="ROUTE=JSON",
        help="answer ROUTE with this JSON value, e.g. /api/centers='\"OK\"' (repeatable)",
    )
    p.add_argument("--customer", default="democorp", help="CustomerName to accept")
    p.add_argument("--user", default="etl", help="UserName to accept")
    p.add_argument("--password", default="emu-secret-pw", help="Password to accept")
    return p


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        settings = EmulatorSettings(
            page_base=args.page_base,
            max_page_size=args.max_page_size,
            disable_stats_zeroes=not args.disable_stats_ignored,
            time_format=args.time_format,
            tz_style=args.tz_style,
            window_zone=args.window_zone,
            end_inclusive=args.end_inclusive,
            date_only_end=args.date_only_end,
            auth_error_status=args.auth_error_status,
            bad_records=args.bad_records,
            orphan_center_calls=args.orphan_center_calls,
            hostile_names=args.hostile_names,
            retention_days=args.retention_days,
        )
    except (ValueError, LookupError) as exc:  # ZoneInfoNotFoundError is a KeyError
        print(f"error: {exc}", file=sys.stderr)
        return 2
    try:
        wrong_shape = {
            route: orjson.loads(value)
            for route, value in (item.split("=", 1) for item in args.wrong_shape)
        }
    except (ValueError, orjson.JSONDecodeError) as exc:
        print(f"error: --wrong-shape wants ROUTE=JSON: {exc}", file=sys.stderr)
        return 2
    try:
        faults = Faults(
            latency_ms=args.latency_ms,
            error_rate=args.error_rate,
            rate_limit_rate=args.rate_limit_rate,
            reset_rate=args.reset_rate,
            truncate_rate=args.truncate_rate,
            slow_rate=args.slow_rate,
            slow_seconds=args.slow_seconds,
            fault_seed=args.fault_seed,
            empty_page_nth=args.empty_page_nth,
            empty_page_number=args.empty_page_number,
            wrong_shape=wrong_shape,
        )
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    emulator = Emulator(
        calls=args.calls,
        seed=args.seed,
        start=args.start,
        days=args.days,
        settings=settings,
        faults=faults,
        customer_name=args.customer,
        user_name=args.user,
        password=args.password,
    )
    emulator.start(port=args.port)
    creds = emulator.credentials
    # The seed's sample request, with working credentials and a one-day window.
    sample = {
        "StartDate": args.start,
        "EndDate": emulator.now.subtract(days=args.days - 1).to_date_string(),
        "Page": 0,
        "ItemsPerPage": 5,
        "SortField": "StartTime",
        "SortDir": "Asc",
        "CustomerName": creds["customer_name"],
        "UserName": creds["user_name"],
        "Password": creds["password"],
    }
    print(f"HostedSuite emulator at {emulator.url} ({args.calls} calls, seed {args.seed})")
    print(f"credentials: {orjson.dumps(creds).decode()}")
    # The environment a pipeline run needs to read from it (with its start_date).
    env = {**emulator.config_env(), "SOURCES__HOSTEDSUITE__START_DATE": args.start}
    exports = " ".join(f"{name}={shlex.quote(value)}" for name, value in env.items())
    print(f"load it:\n  {exports} hostedsuite load")
    print("try:")
    print(
        f"  curl -s -X POST {emulator.url}/api/calls -H 'Content-Type: application/json' "
        f"-H 'Accept: application/json' -d {shlex.quote(orjson.dumps(sample).decode())}"
    )
    print(f"truth: curl -s {emulator.url}/_emulator/truth   (Ctrl-C to stop)", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        emulator.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
