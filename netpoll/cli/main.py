"""Entry point of the ``netpoll`` command: parses the verb and hands over to its module."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence

from netpoll import __version__
from netpoll.cli import check, ping, poll, run, traps
from netpoll.cli.argtypes import Parser
from netpoll.errors import ConfigError, NetpollError

VERBS = (check, poll, ping, run, traps)


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser, one sub-command per verb module."""
    parser = Parser(
        prog="netpoll",
        description="SNMP and ICMP polling of network devices into InfluxDB, threshold alerts over MQTT.",
        epilog="examples:\n  netpoll run\n  netpoll poll 127.0.0.1:1161 --community public\n"
        "  netpoll ping 127.0.0.1 ::1\n  netpoll VERB --help",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"netpoll {__version__}")
    sub = parser.add_subparsers(dest="verb", required=True, metavar="VERB", parser_class=Parser)
    for verb in VERBS:
        verb.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one verb; user mistakes become one-line errors and exit 1, never tracebacks."""
    parser = build_parser()
    args, extras = parser.parse_known_args(argv)
    if extras:  # the verb's own parser explains, with its options to suggest from
        verbs = {action.dest: action for action in parser._actions}["verb"].choices
        assert isinstance(verbs, dict)
        verbs[args.verb].error(f"unrecognized arguments: {' '.join(extras)}")
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


def entry() -> None:
    """The ``netpoll`` command (and ``python -m netpoll``): ``main()`` on the process's arguments, then exit.

    After ``netpoll run`` the process leaves at once: by then the daemon has saved its state, flushed or
    spooled its output and drained its MQTT queue. The interpreter's own exit would tear a daemon's heap down
    object by object, after one last collection over all of it: seconds at tens of thousands of devices,
    past the shutdown budget and out of the watchdog's reach (its thread no longer runs then).
    """
    argv = sys.argv[1:]
    code = main(argv)
    if build_parser().parse_known_args(argv)[0].verb == "run":
        logging.shutdown()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    sys.exit(code)


if __name__ == "__main__":  # pragma: no cover
    entry()
