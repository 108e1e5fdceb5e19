"""Bounds on what a configuration file can make netpoll read and build, all in one place.

Every loader reads through :mod:`netpoll.configkit.files` and parses through
:mod:`netpoll.configkit.yamlsource`, which take their bounds from here; a bound added for hostile files
(size, nesting, alias expansion, file kinds) belongs here too. They hold on start-up and on every reload
alike, and are checked before anything the file describes is built.
"""

from __future__ import annotations

# A secret file (community, key, token, password) larger than this is the wrong file.
MAX_SECRET_BYTES = 64 * 1024
# Any other file netpoll reads (inventory, configuration, rules, profile): 4 MiB is ~40,000 device lines;
# larger inventories are split into files or use ranges:. PyYAML needs ~30x the file's size in memory.
MAX_FILE_BYTES = 4 * 1024 * 1024
# Nesting deeper than this is a mistake (or a recursive alias) in any netpoll file.
MAX_YAML_DEPTH = 40
# Values (mappings, lists, scalars, keys) one YAML document may stand for once its aliases (*anchor) and
# merge keys (<<:) are expanded: a 300-byte "billion laughs" file stands for billions; a 4 MiB inventory
# written out by hand holds well under one million.
MAX_YAML_NODES = 1_000_000
# A range's name pattern renders a device name of at most 128 characters; no format width or precision
# beyond this many digits is meaningful ({index:>1000000000} would render 1 GB).
MAX_FORMAT_WIDTH = 128
# Devices one inventory (all its files and ranges) may expand to.
MAX_INVENTORY_DEVICES = 200_000
