"""Bounds on what a configuration file can make netpoll read and build, all in one place.

Every loader reads through :mod:`netpoll.configkit.files` and parses through
:mod:`netpoll.configkit.yamlsource`, which take their bounds from here; a bound added for hostile files
(size, nesting, alias expansion, file kinds) belongs here too.
"""

from __future__ import annotations

# A secret file (community, key, token, password) larger than this is the wrong file.
MAX_SECRET_BYTES = 64 * 1024
# Nesting deeper than this is a mistake (or a recursive alias) in any netpoll file.
MAX_YAML_DEPTH = 40
