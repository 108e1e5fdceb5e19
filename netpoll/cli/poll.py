"""``netpoll poll``."""

from __future__ import annotations

import argparse
from typing import Any


def register(sub: Any) -> None:
    """Add the ``poll`` sub-command."""
    parser: argparse.ArgumentParser = sub.add_parser("poll", help="poll (not yet implemented)")
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    """Not yet implemented."""
    print("netpoll poll: not yet")
    return 0
