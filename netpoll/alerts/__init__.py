"""netpoll.alerts."""
