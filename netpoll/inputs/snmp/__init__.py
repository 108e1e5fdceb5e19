"""netpoll.inputs.snmp."""
