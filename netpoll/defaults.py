"""Built-in defaults that more than one module needs, each written once.

The daemon configuration's models (:mod:`netpoll.config`), the daemon's run settings and the components'
own keyword defaults all take them from here, so a component used on its own behaves as in the daemon.
Device defaults (SNMP port, intervals, timeouts, ping count, ...) are the fields of
:class:`~netpoll.inventory.models.SnmpSettings` and :class:`~netpoll.inventory.models.PingSettings`, which
the CLI's options and help texts read.
"""

from __future__ import annotations

# How often a device is polled and pinged unless its inventory says otherwise; also the daemon's cycle
# (console line, self-monitoring record) while it has no device to set one.
INTERVAL_S = 60.0
# SNMP polls in flight at once (scheduler.max_concurrent_snmp; netpoll poll's too). A poll has one request in
# flight at a time, so this also bounds the SNMP requests in flight.
MAX_CONCURRENT_SNMP = 256
# ICMP probes in flight at once (scheduler.max_concurrent_icmp).
MAX_CONCURRENT_ICMP = 512
# A poll's budget (its one deadline), as a fraction of its interval: it ends as a failed poll before the next
# one is due.
DEADLINE_FRACTION = 0.95
# Shutdown: polls in flight get SHUTDOWN_GRACE_S to finish (then are cancelled); everything after them (state,
# the MQTT drain, the output's flush or spool) shares SHUTDOWN_FLUSH_S. Past both plus a margin, a watchdog
# ends the process whatever still runs.
SHUTDOWN_GRACE_S = 5.0
SHUTDOWN_FLUSH_S = 10.0
# State files too large to encode in one go (the counter state, the alert edges) are encoded in steps of at
# most this much CPU time, between which the event loop runs its polls.
STATE_STEP_S = 0.02
# The self-monitoring HTTP endpoint's address when only a port is known; http.listen is off by default.
HTTP_HOST = "127.0.0.1"
# The line-protocol file output (no influxdb: section) starts a new file at this size or age.
FILE_MAX_BYTES = 64 * 1024 * 1024
FILE_ROTATE_S = 3600.0
# How often the inventory files' modification times and sizes are compared for a reload.
RELOAD_POLL_S = 2.0
# Reloads are at least this far apart; SIGHUPs meanwhile make one reload (a storm costs one a second).
RELOAD_MIN_INTERVAL_S = 1.0
# The SNMP trap receiver: the standard notification port, datagrams waiting at most, and datagrams per second
# accepted from one sender (a burst of twice that).
TRAP_PORT = 162
TRAP_QUEUE_SIZE = 10_000
TRAP_RATE_PER_SOURCE = 200.0
