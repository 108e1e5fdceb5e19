"""``netpoll ping``."""

from __future__ import annotations

import argparse
from typing import Any


def register(sub: Any) -> None:
    """Add the ``ping`` sub-command."""
    parser: argparse.ArgumentParser = sub.add_parser("ping", help="ping (not yet implemented)")
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    """Not yet implemented."""
    print("netpoll ping: not yet")
    return 0
