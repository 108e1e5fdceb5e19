"""The demo lab: generated recordings served by snmpsim on loopback, and its inventory."""
