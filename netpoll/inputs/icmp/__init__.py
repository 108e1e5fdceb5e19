"""ICMP echo probing: latency, loss and jitter of thousands of targets over one socket per address family."""

from netpoll.inputs.icmp.prober import EchoResult, IcmpProber
from netpoll.inputs.icmp.stats import EchoStats, ResultCode

__all__ = ["EchoResult", "EchoStats", "IcmpProber", "ResultCode"]
