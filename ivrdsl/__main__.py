"""``python -m ivrdsl check FILE...`` (every problem as file:line:column) and ``schema``."""

from __future__ import annotations

import argparse
import sys

from ivrdsl.schema import schema_text
from ivrdsl.validator import check_file


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ivrdsl",
                                     description="IVR scenario tools")
    commands = parser.add_subparsers(dest="command", required=True)
    check = commands.add_parser("check", help="validate scenario files")
    check.add_argument("files", nargs="+", metavar="FILE")
    commands.add_parser("schema", help="print the JSON Schema of the language")
    args = parser.parse_args(argv)
    if args.command == "schema":
        sys.stdout.write(schema_text())
        return 0
    failed = 0
    for name in args.files:
        problems = check_file(name)
        for problem in problems:
            sys.stdout.write(f"{problem}\n")
        if problems:
            failed += 1
        else:
            sys.stdout.write(f"{name}: ok\n")
    if failed:
        sys.stderr.write(f"{failed} of {len(args.files)} file(s) have errors\n")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
