"""An APScheduler 3.x job store for many interval jobs: a heap of run times instead of one sorted list.

APScheduler's ``MemoryJobStore`` keeps every job in one list sorted by next run time; each run moves its job
from the front of the list to near its end (a memmove of the whole list: tens of microseconds at 40,000
jobs) after two binary searches written in Python. Here the run times sit in a heap (``heapq``, in C): a run
pushes the job's new time, and the entry of its old one, left behind, is dropped when it comes to the top.
Same contract: jobs come due in (run time, id) order; a paused job (no next run time) is never due.
"""

from __future__ import annotations

import heapq
import math
from datetime import datetime

from apscheduler.job import Job
from apscheduler.jobstores.base import BaseJobStore, ConflictingIdError, JobLookupError


def _timestamp(job: Job) -> float:
    when: datetime | None = job.next_run_time
    return math.inf if when is None else when.timestamp()


class HeapJobStore(BaseJobStore):  # type: ignore[misc]  # APScheduler 3.x has no type hints
    """Jobs in memory, their run times in a heap; for thousands of jobs that each run often."""

    def __init__(self) -> None:
        super().__init__()
        self._jobs: dict[str, tuple[Job, float]] = {}  # id -> (job, its run time in the heap)
        self._heap: list[tuple[float, str]] = []  # (run time, id); entries of older run times are stale

    def _top(self) -> tuple[float, str] | None:
        """The earliest entry that is still current, stale ones above it dropped."""
        heap = self._heap
        jobs = self._jobs
        while heap:
            entry = heap[0]
            current = jobs.get(entry[1])
            if current is not None and current[1] == entry[0]:
                return entry
            heapq.heappop(heap)
        return None

    def lookup_job(self, job_id: str) -> Job | None:
        found = self._jobs.get(job_id)
        return None if found is None else found[0]

    def get_due_jobs(self, now: datetime) -> list[Job]:
        limit = now.timestamp()
        heap = self._heap
        due: list[tuple[float, str]] = []
        seen: set[str] = set()
        while (entry := self._top()) is not None and entry[0] <= limit:
            heapq.heappop(heap)
            if entry[1] not in seen:  # a job set back to an earlier run time has two current entries
                seen.add(entry[1])
                due.append(entry)
        for entry in due:  # still in the store until the scheduler updates or removes them
            heapq.heappush(heap, entry)
        return [self._jobs[job_id][0] for _, job_id in due]

    def get_next_run_time(self) -> datetime | None:
        entry = self._top()
        if entry is None:
            return None
        when: datetime | None = self._jobs[entry[1]][0].next_run_time
        return when

    def get_all_jobs(self) -> list[Job]:
        jobs = sorted(self._jobs.values(), key=lambda item: (item[1], item[0].id))
        return [job for job, _ in jobs]

    def add_job(self, job: Job) -> None:
        if job.id in self._jobs:
            raise ConflictingIdError(job.id)
        self._put(job)

    def update_job(self, job: Job) -> None:
        if job.id not in self._jobs:
            raise JobLookupError(job.id)
        self._put(job)

    def _put(self, job: Job) -> None:
        when = _timestamp(job)
        old = self._jobs.get(job.id)
        self._jobs[job.id] = (job, when)
        if old is None or old[1] != when:
            heapq.heappush(self._heap, (when, job.id))

    def remove_job(self, job_id: str) -> None:
        if self._jobs.pop(job_id, None) is None:
            raise JobLookupError(job_id)
        if len(self._heap) > 2 * len(self._jobs) + 64:
            self._compact()

    def _compact(self) -> None:
        """Drop the stale entries (many jobs removed at once would otherwise stay in the heap)."""
        self._heap = [(when, job_id) for job_id, (_, when) in self._jobs.items()]
        heapq.heapify(self._heap)

    def remove_all_jobs(self) -> None:
        self._jobs = {}
        self._heap = []

    def shutdown(self) -> None:
        self.remove_all_jobs()

    def __repr__(self) -> str:
        return f"<{self.__class__.__name__} ({len(self._jobs)} jobs)>"
