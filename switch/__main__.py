"""`python -m switch --config PATH`: start the switch."""

from __future__ import annotations

import argparse
import sys

from config import ConfigError, default_config_path, load_config


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m switch", description=__doc__)
    parser.add_argument("--config", help="YAML configuration (default: the embedded default)")
    parser.add_argument(
        "--loop", choices=("uvloop", "asyncio"), default="uvloop",
        help="event loop implementation (default: uvloop)",
    )
    args = parser.parse_args(argv)
    try:
        config = load_config(args.config or default_config_path())
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)  # noqa: T201
        return 2
    from switch.app import run

    try:
        return run(config, loop_kind=args.loop)
    except OSError as exc:
        print(f"error: {exc}", file=sys.stderr)  # noqa: T201
        return 1


if __name__ == "__main__":
    sys.exit(main())
