"""The configuration toolkit every netpoll loader is built on (inventory, daemon config, rules, profiles).

One module per job:

- :mod:`~netpoll.configkit.problems`: the ``file:line: message`` problem collector and did-you-mean hints;
- :mod:`~netpoll.configkit.files`: reading a file a user named;
- :mod:`~netpoll.configkit.limits`: the bounds on what a file can make netpoll read and build;
- :mod:`~netpoll.configkit.yamlsource`: YAML parsed into plain data plus the line of every key and item;
- :mod:`~netpoll.configkit.validation`: pydantic errors and unknown keys turned into problems at their line;
- :mod:`~netpoll.configkit.secrets`: ``${VAR}`` and ``*_file`` secrets, never echoed;
- :mod:`~netpoll.configkit.units`: durations (``90s``, ``5m``) and byte sizes (``256MiB``).
"""
