"""``netpoll check``."""

from __future__ import annotations

import argparse
from typing import Any


def register(sub: Any) -> None:
    """Add the ``check`` sub-command."""
    parser: argparse.ArgumentParser = sub.add_parser("check", help="check (not yet implemented)")
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    """Not yet implemented."""
    print("netpoll check: not yet")
    return 0
