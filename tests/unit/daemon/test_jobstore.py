"""HeapJobStore keeps APScheduler's job store contract: due jobs in (run time, id) order, updates, removal."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from apscheduler.jobstores.base import ConflictingIdError, JobLookupError

from netpoll.daemon.jobstore import HeapJobStore

T0 = datetime(2026, 1, 1, tzinfo=UTC)


@dataclass
class _Job:
    """What a job store reads of an APScheduler job."""

    id: str
    next_run_time: datetime | None


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def store_of(**runs: float | None) -> tuple[HeapJobStore, dict[str, _Job]]:
    store = HeapJobStore()
    jobs = {name: _Job(name, None if when is None else at(when)) for name, when in runs.items()}
    for job in jobs.values():
        store.add_job(job)
    return store, jobs


def due_ids(store: HeapJobStore, now: float) -> list[str]:
    return [job.id for job in store.get_due_jobs(at(now))]


def test_due_jobs_come_in_run_time_then_id_order_and_stay_until_updated() -> None:
    store, _ = store_of(b=2.0, a=2.0, c=1.0, d=5.0, paused=None)
    assert due_ids(store, 0.5) == []
    assert due_ids(store, 2.0) == ["c", "a", "b"]
    assert due_ids(store, 2.0) == ["c", "a", "b"], "asking again changes nothing"
    assert store.get_next_run_time() == at(1.0)
    assert [job.id for job in store.get_all_jobs()] == ["c", "a", "b", "d", "paused"]


def test_a_run_moves_the_job_to_its_next_run_time() -> None:
    store, jobs = store_of(a=1.0, b=3.0)
    jobs["a"].next_run_time = at(4.0)
    store.update_job(jobs["a"])
    assert due_ids(store, 3.5) == ["b"]
    assert store.get_next_run_time() == at(3.0)
    jobs["b"].next_run_time = at(6.0)
    store.update_job(jobs["b"])
    assert due_ids(store, 10.0) == ["a", "b"]
    assert store.lookup_job("a") is jobs["a"]


def test_a_job_set_back_to_an_earlier_time_is_due_once() -> None:
    store, jobs = store_of(a=1.0)
    for when in (2.0, 1.0, 1.0):
        jobs["a"].next_run_time = at(when)
        store.update_job(jobs["a"])
    assert due_ids(store, 5.0) == ["a"]


@pytest.mark.parametrize("when", [None, 7.0])
def test_paused_or_later_jobs_are_not_due(when: float | None) -> None:
    store, jobs = store_of(a=1.0)
    jobs["a"].next_run_time = None if when is None else at(when)
    store.update_job(jobs["a"])
    assert due_ids(store, 5.0) == []
    assert store.get_next_run_time() == (None if when is None else at(when))


def test_removed_jobs_are_gone_and_the_heap_stays_bounded() -> None:
    store, _ = store_of(**{f"j{i}": float(i) for i in range(500)})
    for i in range(0, 500, 2):
        store.remove_job(f"j{i}")
    assert due_ids(store, 5.0) == ["j1", "j3", "j5"]
    assert store.lookup_job("j2") is None
    assert len(store._heap) <= 2 * 250 + 64
    store.remove_all_jobs()
    assert store.get_all_jobs() == []
    assert store.get_next_run_time() is None


def test_unknown_and_duplicate_ids_raise_as_apscheduler_expects() -> None:
    store, jobs = store_of(a=1.0)
    with pytest.raises(ConflictingIdError):
        store.add_job(jobs["a"])
    with pytest.raises(JobLookupError):
        store.update_job(_Job("nope", at(1.0)))
    with pytest.raises(JobLookupError):
        store.remove_job("nope")
