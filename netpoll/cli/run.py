"""``netpoll run``."""

from __future__ import annotations

import argparse
from typing import Any


def register(sub: Any) -> None:
    """Add the ``run`` sub-command."""
    parser: argparse.ArgumentParser = sub.add_parser("run", help="run (not yet implemented)")
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    """Not yet implemented."""
    print("netpoll run: not yet")
    return 0
