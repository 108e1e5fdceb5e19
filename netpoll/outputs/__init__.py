"""Sinks: InfluxDB, local files, MQTT. They consume Samples and know nothing of SNMP or ICMP."""
