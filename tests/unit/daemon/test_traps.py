"""The daemon's trap intake without sockets: what one accepted notification or auth failure turns into."""

from __future__ import annotations

from typing import Any

from netpoll.config import TrapsConfig
from netpoll.daemon.traps import TrapIntake
from netpoll.restarts import RestartNotices
from netpoll.sample import Sample
from tests.unit.inputs.traps.datagrams import V1_LINK_DOWN, V2C_INFORM_COLD_START
from tests.unit.inputs.traps.test_sources import device


class Pipeline:
    def __init__(self) -> None:
        self.samples: list[Sample] = []
        self.events: list[tuple[str, str, str, dict[str, Any]]] = []
        self.polled: list[str] = []

    def emit(self, samples: list[Sample]) -> None:
        self.samples.extend(samples)

    def publish_event(self, event_id: str, dev: str, name: str, payload: dict[str, Any]) -> None:
        self.events.append((event_id, dev, name, payload))

    def poll_now(self, name: str) -> bool:
        self.polled.append(name)
        return True


def intake(pipe: Pipeline, *, poll: bool = True, community: str = "public") -> TrapIntake:
    return TrapIntake(
        TrapsConfig(enabled=True, listen=("127.0.0.1:0",), poll_on_link_change=poll),
        [
            device("r1", "127.0.0.5", community=community),
            device("off", "127.0.0.6").model_copy(update={"enabled": False}),
        ],
        emit=pipe.emit,
        publish_event=pipe.publish_event,
        poll_now=pipe.poll_now,
        if_name=lambda name, index: f"{name}-eth{index}",
    )


def test_link_down_is_a_record_an_event_and_an_immediate_poll() -> None:
    pipe = Pipeline()
    traps = intake(pipe)
    trap = traps.receiver.accept(V1_LINK_DOWN, "127.0.0.5")
    assert trap is not None
    traps.handle(trap)
    [sample] = pipe.samples
    assert (sample.measurement, sample.tags["trap"], sample.tags["ifName"]) == ("trap", "linkDown", "r1-eth3")
    [(event_id, dev, name, payload)] = pipe.events
    assert (dev, name, payload["id"], payload["ifName"]) == ("r1", "linkDown", event_id, "r1-eth3")
    assert pipe.polled == ["r1"]


def test_cold_start_is_noted_as_an_announced_restart() -> None:
    pipe = Pipeline()
    restarts = RestartNotices()
    traps = TrapIntake(
        TrapsConfig(enabled=True, listen=("127.0.0.1:0",)),
        [device("r1", "127.0.0.5")],
        emit=pipe.emit,
        restarts=restarts,
    )
    trap = traps.receiver.accept(V2C_INFORM_COLD_START, "127.0.0.5")
    assert trap is not None
    traps.handle(trap)
    assert restarts.announced("r1", trap.time_ns)
    assert not restarts.announced("r2", trap.time_ns)


def test_other_traps_poll_nothing_and_link_polls_can_be_off() -> None:
    pipe = Pipeline()
    traps = intake(pipe, poll=False)
    for datagram in (V2C_INFORM_COLD_START, V1_LINK_DOWN):
        trap = traps.receiver.accept(datagram, "127.0.0.5")
        assert trap is not None
        traps.handle(trap)
    assert [e[2] for e in pipe.events] == ["coldStart", "linkDown"]
    assert pipe.polled == []


def test_auth_failure_is_a_trap_auth_record_never_an_event() -> None:
    pipe = Pipeline()
    traps = intake(pipe, community="other")
    for _ in range(2):
        assert traps.receiver.accept(V1_LINK_DOWN, "127.0.0.5") is None
    assert [(s.measurement, s.tags["reason"], s.fields["failures"]) for s in pipe.samples] == [
        ("trap_auth", "community", 1),
        ("trap_auth", "community", 2),
    ]
    assert pipe.events == []
    # A disabled device is no known sender.
    assert traps.receiver.accept(V1_LINK_DOWN, "127.0.0.6") is None
    assert traps.stats.unknown_source == 1
