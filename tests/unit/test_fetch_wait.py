"""The reader's fetch wait: short when caught up (parked at a broker that answers it when
records arrive), a growing deadline when behind."""

from __future__ import annotations

import pytest

from pachstream.kafka import (
    ASLEEP_AFTER_S,
    BEHIND_MARGIN,
    BEHIND_SAMPLES,
    FETCH_WAIT_ASLEEP_MS,
    FETCH_WAIT_BEHIND_MIN_MS,
    FETCH_WAIT_BEHIND_MS,
    FETCH_WAIT_HOT_MS,
    FETCH_WAIT_IDLE_MS,
    FETCH_WAIT_MAX_MS,
    FETCH_WAIT_PARKED_MS,
    HOT_DECAY,
    HOT_WINDOW_S,
    fetch_wait_ms,
)


@pytest.mark.parametrize(
    ("behind", "stalled", "wait"),
    [
        # Caught up, no record ever got: the time since a move means nothing.
        (False, 0.0, FETCH_WAIT_ASLEEP_MS),
        (False, 60.0, FETCH_WAIT_ASLEEP_MS),
        (True, 0.0, FETCH_WAIT_BEHIND_MS),
        (True, -1.0, FETCH_WAIT_BEHIND_MS),  # a clock step back never shortens it
        (True, 1.0, FETCH_WAIT_BEHIND_MS + 2_000),
        (True, 5.5, FETCH_WAIT_BEHIND_MS + 11_000),
        (True, 14.0, FETCH_WAIT_MAX_MS),
        (True, 1e9, FETCH_WAIT_MAX_MS),  # never past the request timeout
    ],
)
def test_fetch_wait(behind: bool, stalled: float, wait: int) -> None:
    assert fetch_wait_ms(behind, stalled) == wait


def test_the_behind_wait_is_a_deadline_not_a_hold() -> None:
    # Behind, data is there and the broker answers once it has read it: the wait only bounds
    # the broker's listing. It must exceed the idle wait, or a long partition stalls.
    assert FETCH_WAIT_IDLE_MS < FETCH_WAIT_BEHIND_MS <= FETCH_WAIT_MAX_MS < 40_000


@pytest.mark.parametrize(
    ("behind", "quiet", "wait"),
    [
        (False, 0.0, FETCH_WAIT_HOT_MS),  # records just came: the next hop is near
        (False, 0.004, FETCH_WAIT_HOT_MS),  # never below the hot wait
        (False, 0.020, 5),  # grows with the quiet, a quarter of it
        (False, 0.039, 9),
        (False, 0.040, FETCH_WAIT_IDLE_MS),  # ... up to the idle wait
        (False, HOT_WINDOW_S / 2, FETCH_WAIT_IDLE_MS),
        (False, HOT_WINDOW_S, FETCH_WAIT_IDLE_MS),  # quiet for the window: back to idle
        (False, ASLEEP_AFTER_S / 2, FETCH_WAIT_IDLE_MS),
        (False, ASLEEP_AFTER_S, FETCH_WAIT_ASLEEP_MS),  # a quiet spell: poll less often
        (False, 3600.0, FETCH_WAIT_ASLEEP_MS),
        (False, float("inf"), FETCH_WAIT_ASLEEP_MS),  # never got a record
        (False, -1.0, FETCH_WAIT_IDLE_MS),  # a clock step back does not make a reader hot
        (True, 0.0, FETCH_WAIT_BEHIND_MS),  # behind: the listing deadline, hot or not
    ],
)
def test_a_reader_that_just_got_records_waits_less(behind: bool, quiet: float, wait: int) -> None:
    assert fetch_wait_ms(behind, 0.0, quiet) == wait


def test_the_hot_wait_is_the_shortest() -> None:
    assert 0 < FETCH_WAIT_HOT_MS < FETCH_WAIT_IDLE_MS < FETCH_WAIT_ASLEEP_MS < FETCH_WAIT_BEHIND_MS
    assert HOT_WINDOW_S < ASLEEP_AFTER_S


def test_the_hot_wait_grows_to_the_idle_wait_inside_the_window() -> None:
    # The decay reaches the idle wait before the window closes, so nothing jumps back down.
    assert FETCH_WAIT_IDLE_MS * HOT_DECAY / 1000 < HOT_WINDOW_S
    waits = [fetch_wait_ms(False, 0.0, ms / 1000) for ms in range(0, 500)]
    assert waits == sorted(waits)


@pytest.mark.parametrize(
    ("behind", "stalled", "quiet", "wait"),
    [
        # Caught up on a broker that answers a waiting fetch when records arrive: parked,
        # whatever the quiet (the hot and asleep waits are for a broker that holds it).
        (False, 0.0, 0.0, FETCH_WAIT_PARKED_MS),
        (False, 0.0, 0.020, FETCH_WAIT_PARKED_MS),
        (False, 0.0, HOT_WINDOW_S, FETCH_WAIT_PARKED_MS),
        (False, 60.0, ASLEEP_AFTER_S, FETCH_WAIT_PARKED_MS),
        (False, 0.0, float("inf"), FETCH_WAIT_PARKED_MS),
        (False, 0.0, -1.0, FETCH_WAIT_PARKED_MS),
        # Behind: the same deadline as on any broker.
        (True, 0.0, 0.0, FETCH_WAIT_BEHIND_MS),
        (True, 5.5, 0.0, FETCH_WAIT_BEHIND_MS + 11_000),
        (True, 1e9, float("inf"), FETCH_WAIT_MAX_MS),
    ],
)
def test_a_broker_that_answers_on_records_gets_a_parked_fetch(
    behind: bool, stalled: float, quiet: float, wait: int
) -> None:
    assert fetch_wait_ms(behind, stalled, quiet, parks=True) == wait


def test_the_parked_wait_is_long_and_within_the_request_timeout() -> None:
    # Parked, the wait costs no hop: it only bounds how often a quiet reader asks.
    assert FETCH_WAIT_ASLEEP_MS < FETCH_WAIT_PARKED_MS <= FETCH_WAIT_MAX_MS


@pytest.mark.parametrize(
    ("trip", "stalled", "wait"),
    [
        # Unknown (no behind fetch brought records yet): the listing deadline.
        (None, 0.0, FETCH_WAIT_BEHIND_MS),
        # Tansu in memory answers a behind fetch in a few ms: a short deadline, so a fetch
        # that came before its batch was stored sleeps 10 ms, not a second.
        (0.002, 0.0, FETCH_WAIT_BEHIND_MIN_MS),
        (0.0, 0.0, FETCH_WAIT_BEHIND_MIN_MS),
        (-0.5, 0.0, FETCH_WAIT_BEHIND_MIN_MS),  # a clock step back: still the least
        (0.030, 0.0, BEHIND_MARGIN * 30),
        # A slow listing (Tansu on S3, a long partition): never past the listing deadline.
        (0.400, 0.0, BEHIND_MARGIN * 400),
        (0.600, 0.0, FETCH_WAIT_BEHIND_MS),
        (5.0, 0.0, FETCH_WAIT_BEHIND_MS),
        # Stalled, it grows as the listing deadline does, from where it starts.
        (0.002, 0.05, FETCH_WAIT_BEHIND_MIN_MS + 100),
        (0.002, 1.0, FETCH_WAIT_BEHIND_MIN_MS + 2_000),
        (0.002, 1e9, FETCH_WAIT_MAX_MS),
    ],
)
def test_the_behind_wait_follows_the_broker_s_round_trip(
    trip: float | None, stalled: float, wait: int
) -> None:
    assert fetch_wait_ms(True, stalled, 0.0, behind_trip_s=trip) == wait
    assert fetch_wait_ms(True, stalled, 0.0, parks=True, behind_trip_s=trip) == wait


def test_a_caught_up_reader_ignores_the_behind_round_trip() -> None:
    for quiet in (0.0, 0.02, HOT_WINDOW_S, ASLEEP_AFTER_S):
        assert fetch_wait_ms(False, 0.0, quiet, behind_trip_s=0.002) == fetch_wait_ms(
            False, 0.0, quiet
        )


def test_the_least_behind_wait_lies_between_the_idle_wait_and_the_deadline() -> None:
    assert FETCH_WAIT_IDLE_MS < FETCH_WAIT_BEHIND_MIN_MS < FETCH_WAIT_BEHIND_MS
    assert BEHIND_MARGIN > 1 and BEHIND_SAMPLES > 1
