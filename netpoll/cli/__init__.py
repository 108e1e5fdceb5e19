"""Command line: one module per verb (check, poll, ping, run), composed by ``main``."""
