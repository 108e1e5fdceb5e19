"""netpoll.daemon."""
