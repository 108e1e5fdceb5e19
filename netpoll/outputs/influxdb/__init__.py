"""netpoll.outputs.influxdb."""
