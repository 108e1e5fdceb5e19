"""netpoll.outputs.mqtt."""
