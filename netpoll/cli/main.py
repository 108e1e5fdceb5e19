"""Entry point of the ``netpoll`` command: parses the verb and hands over to its module."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from netpoll import __version__
from netpoll.cli import check, ping, poll, run, traps
from netpoll.errors import ConfigError, NetpollError

VERBS = (check, poll, ping, run, traps)


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser, one sub-command per verb module."""
    parser = argparse.ArgumentParser(
        prog="netpoll",
        description="SNMP and ICMP polling of network devices into InfluxDB, threshold alerts over MQTT.",
    )
    parser.add_argument("--version", action="version", version=f"netpoll {__version__}")
    sub = parser.add_subparsers(dest="verb", required=True, metavar="VERB")
    for verb in VERBS:
        verb.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one verb; user mistakes become one-line errors and exit 1, never tracebacks."""
    args = build_parser().parse_args(argv)
    try:
        code: int = args.handler(args)
    except ConfigError as exc:
        for problem in exc.problems:
            print(problem, file=sys.stderr)
        return 1
    except NetpollError as exc:
        print(f"netpoll: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    return code


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
