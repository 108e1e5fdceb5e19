"""netpoll: an SNMP and ICMP polling daemon for network operations centres."""

__version__ = "0.1.0"
