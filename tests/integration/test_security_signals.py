"""Security signals (docs/security.md) from real agents, through the poller and the default alert rules.

- A real snmpd: bad-community guesses and SNMPv3 unknown-user and wrong-key attempts from net-snmp's own
  tools raise the agent's counters, the poll's rates and the default rules; restarting snmpd resets its
  sysUpTime: an unexpected reboot, and an announced one when its coldStart trap (snmpd's own, sent on start
  to netpoll's trap receiver) was noted as the trap pipeline notes it.
- snmpsim serving recordings written from the MIB structures (``data/security/``): the test moves a Cisco's
  and a Juniper's last-configuration-change time by SNMP SET (snmpsim's ``writecache``) for
  ``config_changed``, and a FortiGate's session count for ``firewall_sessions_surge``.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest
from pydantic import SecretStr

from netpoll.alerts.alert import Alert
from netpoll.alerts.engine import AlertEngine
from netpoll.alerts.rules import load_rules
from netpoll.inputs.snmp.client import SnmpClientPool
from netpoll.inputs.snmp.poller import SnmpPoller
from netpoll.inputs.snmp.profiles import load_profiles
from netpoll.inputs.traps.receiver import TrapReceiver
from netpoll.inputs.traps.record import Trap
from netpoll.inputs.traps.sources import Sources
from netpoll.inventory.models import CommunityCredentials, Device, SnmpSettings
from netpoll.probe import Budget
from netpoll.restarts import RESTART_TRAPS, RestartNotices
from netpoll.sample import FieldValue
from tests.harness.process import require_binary
from tests.harness.snmpd import SnmpdAgent
from tests.harness.snmpsim import SnmpsimAgent

pytestmark = pytest.mark.network

DATA = Path(__file__).parent / "data" / "security"
BAD_COMMUNITY_NAMES = "1.3.6.1.2.1.11.4.0"
USM_UNKNOWN_USERS = "1.3.6.1.6.3.15.1.1.3.0"
USM_WRONG_DIGESTS = "1.3.6.1.6.3.15.1.1.5.0"
GUESSES = 40
# What net-snmp's tools print when the agent refuses an SNMPv3 request with a report.
UNKNOWN_USER = "snmpget: Unknown user name"
WRONG_KEY = "snmpget: Authentication failure (incorrect password, community or key)"


def device(name: str, host: str, port: int, community: str) -> Device:
    credentials = CommunityCredentials(profile="t", version="2c", community=SecretStr(community))
    return Device(
        name=name, address=host, snmp=SnmpSettings(credentials=credentials, port=port, timeout_s=2, retries=1)
    )


class Watch:
    """A poller and the default rules over one device's polls."""

    def __init__(self, pool: SnmpClientPool, restarts: RestartNotices | None = None) -> None:
        self.poller = SnmpPoller(pool, load_profiles(), restarts=restarts)
        self.engine = AlertEngine(load_rules(None))

    async def poll(self, dev: Device) -> tuple[dict[str, FieldValue], list[Alert]]:
        """One poll: the ``snmp`` record's fields and the alerts the default rules made of it."""
        result = await self.poller.run(dev, Budget.start(30))
        (record,) = [s for s in result.samples if s.measurement == "snmp"]
        assert record.fields["poll_ok"] == 1, record.fields
        return dict(record.fields), self.engine.evaluate(result.samples)


async def run(*argv: str) -> tuple[str, str]:
    """Run a command: what it printed on stdout and on stderr."""
    proc = await asyncio.create_subprocess_exec(
        *argv, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    out, err = await asyncio.wait_for(proc.communicate(), 30)
    return out.decode(), err.decode()


async def counter(agent: SnmpdAgent, oid: str) -> int:
    snmpget = require_binary("snmpget", "Debian package snmp")
    out, _ = await run(snmpget, "-v2c", "-c", agent.community, "-Oqv", f"{agent.host}:{agent.port}", oid)
    return int(out.split()[-1])


async def attempts(commands: Sequence[Sequence[str]], batch: int = 10) -> list[str]:
    """Run failing net-snmp commands, ``batch`` at a time: the error each printed."""
    errors: list[str] = []
    for start in range(0, len(commands), batch):
        ran = await asyncio.gather(*(run(*argv) for argv in commands[start : start + batch]))
        errors += [err.strip() for _, err in ran]
    return errors


def fired(alerts: list[Alert], rule: str, state: str) -> bool:
    return any(alert.rule == rule and alert.state == state for alert in alerts)


async def test_guessed_communities_and_users_raise_the_rates_and_the_rules(
    snmpd_factory: Callable[..., SnmpdAgent],
) -> None:
    snmpget = require_binary("snmpget", "Debian package snmp")
    agent = snmpd_factory()
    target = f"{agent.host}:{agent.port}"
    dev = device("r1", agent.host, agent.port, agent.community)
    user = agent.v3_users["sha_nopriv"]
    # A bad community gets no answer, so each guess waits out a short timeout. An SNMPv3 attempt is an
    # exchange (engine discovery, then the request the agent refuses with a report): its timeout is long
    # so that a busy machine cannot cut it short before the refused request is sent.
    unanswered = ["-r", "0", "-t", "0.2"]
    answered = ["-r", "0", "-t", "10"]
    guesses = [
        [snmpget, "-v2c", "-c", f"guess{i}", *unanswered, target, "1.3.6.1.2.1.1.5.0"] for i in range(GUESSES)
    ]
    unknown = [[snmpget, "-v3", "-l", "noAuthNoPriv", "-u", f"nosuch{i}", *answered, target,
                "1.3.6.1.2.1.1.5.0"] for i in range(5)]  # fmt: skip
    wrong_key = [[snmpget, "-v3", "-l", "authNoPriv", "-u", user.name, "-a", "SHA", "-A", f"wrong-key-{i}",
                  *answered, target, "1.3.6.1.2.1.1.5.0"] for i in range(5)]  # fmt: skip
    async with SnmpClientPool() as pool:
        watch = Watch(pool)
        first_poll = time.monotonic()
        first, _ = await watch.poll(dev)
        first_done = time.monotonic()
        assert "bad_community_names_ps" not in first  # a rate needs two polls
        before = {
            oid: await counter(agent, oid)
            for oid in (BAD_COMMUNITY_NAMES, USM_UNKNOWN_USERS, USM_WRONG_DIGESTS)
        }
        started = time.monotonic()
        errors = await attempts([*guesses, *unknown, *wrong_key])
        after = {oid: await counter(agent, oid) for oid in before}
        await asyncio.sleep(max(0.0, 1.0 - (time.monotonic() - started)))
        second_poll = time.monotonic()
        second, alerts = await watch.poll(dev)
        second_done = time.monotonic()
    # Each SNMPv3 attempt was refused by the agent (a timeout would mean it never reached the check).
    assert errors[GUESSES:] == [UNKNOWN_USER] * 5 + [WRONG_KEY] * 5, errors[GUESSES:]
    grown = {oid: after[oid] - before[oid] for oid in before}
    assert grown[BAD_COMMUNITY_NAMES] >= GUESSES
    assert grown[USM_UNKNOWN_USERS] >= 5
    assert grown[USM_WRONG_DIGESTS] >= 5
    for field, oid in (
        ("bad_community_names_ps", BAD_COMMUNITY_NAMES),
        ("usm_unknown_users_ps", USM_UNKNOWN_USERS),
        ("usm_wrong_digests_ps", USM_WRONG_DIGESTS),
    ):
        assert isinstance(second[field], float), (field, second[field])
        assert second[field] > 0.05, (field, second[field])
        # The rate is the growth over the interval between the two polls' reads, which spans the attempts.
        low, high = grown[oid] / (second_done - first_poll), grown[oid] / (second_poll - first_done)
        assert low * 0.99 <= second[field] <= high * 1.01, (field, second[field], low, high)
        print(f"{field}: agent +{grown[oid]}, rate {second[field]:.2f}/s (bounds {low:.2f}-{high:.2f})")
    assert second["bad_community_uses_ps"] == 0.0
    for rule in ("snmp_bad_community", "snmp_usm_unknown_user", "snmp_usm_wrong_digest"):
        assert fired(alerts, rule, "breach"), (rule, [a.message for a in alerts])
    assert not fired(alerts, "snmp_bad_community_use", "breach")


async def _uptime_at_least(watch: Watch, dev: Device, seconds: float) -> dict[str, FieldValue]:
    """Poll until the agent's uptime is ``seconds`` (so that its restart is a clear step back)."""
    deadline = time.monotonic() + 30
    while True:
        fields, alerts = await watch.poll(dev)
        assert not alerts, [a.message for a in alerts]
        uptime = fields["uptime_s"]
        assert isinstance(uptime, float)
        if uptime >= seconds or time.monotonic() > deadline:
            return fields
        await asyncio.sleep(seconds - uptime)


async def test_snmpd_restart_is_an_unexpected_reboot_unless_its_cold_start_trap_came(
    snmpd_factory: Callable[..., SnmpdAgent],
) -> None:
    restarts = RestartNotices()
    # The trap receiver knows the device by its address (the port is the agent's, known once it runs).
    known = device("r1", "127.0.0.1", 161, "public")
    async with TrapReceiver([("127.0.0.1", 0)], Sources([known])) as receiver:
        trap_port = receiver.addresses[0][1]
        # snmpd sends coldStart to the trap sink each time it starts.
        agent = snmpd_factory(extra_config=f"trap2sink 127.0.0.1:{trap_port} public\n")
        dev = device("r1", agent.host, agent.port, agent.community)
        await asyncio.wait_for(_restart_trap(receiver), 10)  # the first start's
        async with SnmpClientPool() as pool:
            unannounced = Watch(pool)
            announced = Watch(pool, restarts)
            for watch in (unannounced, announced):
                await _uptime_at_least(watch, dev, 3.0)

            agent.stop()
            agent.start()
            # The trap pipeline's part (netpoll.restarts): note each coldStart/warmStart by device.
            trap = await asyncio.wait_for(_restart_trap(receiver), 10)
            restarts.note(trap.device_name, trap.time_ns)

            fields, alerts = await unannounced.poll(dev)
            assert (fields["rebooted"], fields["unexpected_reboot"]) == (1, 1)
            assert [a.rule for a in alerts] == ["unexpected_reboot"]
            assert alerts[0].severity == "major"

            fields, alerts = await announced.poll(dev)
            assert (fields["rebooted"], fields["unexpected_reboot"]) == (1, 0)
            assert [a.rule for a in alerts] == ["device_rebooted"]

            fields, alerts = await unannounced.poll(dev)
            assert (fields["rebooted"], fields["unexpected_reboot"], alerts) == (0, 0, [])


async def _restart_trap(receiver: TrapReceiver) -> Trap:
    async for trap in receiver:
        if trap.name in RESTART_TRAPS and trap.device_name == "r1":
            return trap
    raise AssertionError("the receiver stopped")


async def _set(agent: SnmpsimAgent, community: str, oid: str, kind: str, value: int) -> None:
    snmpset = require_binary("snmpset", "Debian package snmp")
    out, err = await run(
        snmpset, "-v2c", "-c", community, "-Oqv", f"{agent.host}:{agent.port}", oid, kind, str(value)
    )
    assert out.strip(), f"SET {oid} refused: {err.strip()}"


@pytest.mark.parametrize(
    ("community", "profile", "oid"),
    [
        ("cisco-ios-config", "cisco", "1.3.6.1.4.1.9.9.43.1.1.1.0"),  # ccmHistoryRunningLastChanged
        ("juniper-junos-config", "juniper", "1.3.6.1.4.1.2636.3.18.1.2.0"),  # jnxCmCfgChgLatestTime
    ],
)
async def test_a_configuration_change_fires_config_changed(
    snmpsim_factory: Callable[..., SnmpsimAgent], community: str, profile: str, oid: str
) -> None:
    agent = snmpsim_factory(DATA)
    dev = device(community, agent.host, agent.port, community)
    async with SnmpClientPool() as pool:
        watch = Watch(pool)
        first, _ = await watch.poll(dev)
        assert first["profile"] == profile
        assert "config_changed" not in first  # nothing to compare with yet
        second, alerts = await watch.poll(dev)
        assert second["config_changed"] == 0
        assert not alerts
        # A change: the agent's last-change time moves to its uptime now.
        uptime = second["uptime_s"]
        assert isinstance(uptime, float)
        await _set(agent, community, oid, "t", int(uptime * 100) + 100)
        third, alerts = await watch.poll(dev)
        assert third["config_changed"] == 1
        assert third["config_changed_uptime_s"] == pytest.approx(uptime + 1.0)
        assert [(a.rule, a.state) for a in alerts] == [("config_changed", "event")]
        fourth, alerts = await watch.poll(dev)
        assert fourth["config_changed"] == 0
        assert not alerts


async def test_a_session_surge_fires_firewall_sessions_surge_and_clears(
    snmpsim_factory: Callable[..., SnmpsimAgent],
) -> None:
    community = "fortinet-fortigate-sessions"
    ses_count = "1.3.6.1.4.1.12356.101.4.1.8.0"  # FORTINET-FORTIGATE-MIB fgSysSesCount
    agent = snmpsim_factory(DATA)
    dev = device(community, agent.host, agent.port, community)
    quiet = [5000, 5300, 4800, 5100, 5200, 4900]  # the baseline: half of 12 polls before any judgement
    surge = [40000, 41000]  # 8 x the median, for the rule's 2 polls
    after = [5100, 5000]
    seen: list[tuple[int, list[tuple[str, str]]]] = []
    async with SnmpClientPool() as pool:
        watch = Watch(pool)
        for sessions in [*quiet, *surge, *after]:
            await _set(agent, community, ses_count, "u", sessions)
            fields, alerts = await watch.poll(dev)
            assert (fields["profile"], fields["sessions"]) == ("fortinet", sessions)
            seen.append((sessions, [(a.rule, a.state) for a in alerts]))
    assert seen == [
        *((n, []) for n in quiet),
        (40000, []),
        (41000, [("firewall_sessions_surge", "breach")]),
        (5100, []),
        (5000, [("firewall_sessions_surge", "clear")]),
    ]


def test_recordings_are_in_oid_order() -> None:
    """snmpsim walks a file in its line order: every recording here is sorted by numeric OID."""
    for path in DATA.glob("*.snmprec"):
        oids = [
            tuple(int(p) for p in line.split("|")[0].split(".")) for line in path.read_text().splitlines()
        ]
        assert oids == sorted(oids), path.name
