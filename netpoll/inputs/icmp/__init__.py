"""netpoll.inputs.icmp."""
