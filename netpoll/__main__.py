"""``python -m netpoll``."""

import sys

from netpoll.cli.main import main

sys.exit(main())
