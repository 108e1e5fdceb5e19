"""``python -m netpoll``."""

from netpoll.cli.main import entry

entry()
