import random

import pytest

from netpoll.backoff import Backoff, backoff_delay


@pytest.mark.parametrize(
    ("attempt", "low", "high"),
    [(0, 0.25, 0.5), (1, 0.5, 1.0), (2, 1.0, 2.0), (5, 8.0, 16.0), (6, 15.0, 30.0), (10_000, 15.0, 30.0)],
)
def test_delay_is_jittered_within_half_and_whole_of_the_capped_ceiling(
    attempt: int, low: float, high: float
) -> None:
    rng = random.Random(attempt)
    delays = [backoff_delay(attempt, 0.5, 30.0, rng) for _ in range(200)]
    assert all(low <= d <= high for d in delays)
    assert max(delays) - min(delays) > (high - low) / 2  # jittered, not fixed


def test_attempts_count_up_and_reset() -> None:
    backoff = Backoff(1.0, 4.0, random.Random(1))
    ceilings = []
    for _ in range(5):
        ceilings.append(backoff.next_delay())
    assert [backoff.attempt] == [5]
    assert 0.5 <= ceilings[0] <= 1.0
    assert 2.0 <= ceilings[4] <= 4.0
    backoff.reset()
    assert backoff.next_delay() <= 1.0


def test_total_wait_of_n_attempts_has_a_floor() -> None:
    # The pacing guarantee the publisher and the writer rely on: n failures take at least sum(c/2).
    backoff = Backoff(0.5, 30.0, random.Random(7))
    assert sum(backoff.next_delay() for _ in range(10)) >= sum(min(30.0, 0.5 * 2**n) / 2 for n in range(10))


def test_bad_bounds_are_refused() -> None:
    with pytest.raises(ValueError, match="base"):
        Backoff(0.0, 1.0)
    with pytest.raises(ValueError, match="cap"):
        Backoff(2.0, 1.0)
