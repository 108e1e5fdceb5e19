"""The one exception hierarchy of netpoll; library exceptions are translated at the boundary."""

from __future__ import annotations


class NetpollError(Exception):
    """Base of every error netpoll raises on purpose."""


class ConfigError(NetpollError):
    """An inventory, configuration, profile or rules file is invalid.

    ``problems`` holds one ``file:line: message`` string per problem, so callers can print all of them.
    """

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("\n".join(problems))


class SnmpError(NetpollError):
    """An SNMP agent answered with an error, or the exchange failed."""

    def __init__(self, agent: str, message: str) -> None:
        self.agent = agent
        super().__init__(f"{agent}: {message}")


class SnmpTimeout(SnmpError):
    """No answer from the agent within the timeout and retries."""


class SnmpDecodeError(SnmpError):
    """The agent's reply could not be decoded (malformed BER, a value the SNMP types do not allow)."""


class SnmpAuthError(SnmpError):
    """SNMPv3 authentication or privacy failed (wrong user, key or protocol): distinct from a timeout."""


class IcmpError(NetpollError):
    """ICMP probing cannot run at all (no privileges, no socket)."""
