"""Probes: SNMP polling and ICMP echo. They produce Samples and know nothing of outputs."""
