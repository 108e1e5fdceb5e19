"""netpoll.inputs.traps: the SNMP trap and inform receiver (README.md)."""
