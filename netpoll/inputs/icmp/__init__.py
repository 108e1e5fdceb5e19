"""ICMP echo probing: latency, loss and jitter of thousands of targets over one socket per address family."""

from netpoll.inputs.icmp.prober import IcmpProber, ProbeResult
from netpoll.inputs.icmp.stats import EchoStats, ResultCode

__all__ = ["EchoStats", "IcmpProber", "ProbeResult", "ResultCode"]
