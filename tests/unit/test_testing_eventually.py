"""The shared polling wait: it returns the first answer wanted, takes plain and coroutine
probes, and a timeout names what was waited for and the last answer."""

from __future__ import annotations

import itertools

import pytest

from pachstream.testing.waits import eventually


async def test_returns_the_first_answer_that_holds_from_a_coroutine_probe() -> None:
    answers = iter([0, None, 3, 4])

    async def probe() -> int | None:
        return next(answers)

    assert await eventually(probe, "a count", every_s=0) == 3


async def test_a_plain_probe_and_a_condition_of_its_own() -> None:
    counter = itertools.count()
    assert await eventually(lambda: next(counter), "five", every_s=0, until=(5).__eq__) == 5


async def test_a_timeout_names_what_and_the_last_answer_cut_short() -> None:
    with pytest.raises(AssertionError) as err:
        await eventually(
            lambda: "x" * 500, "the rows", timeout_s=0.05, every_s=0.01, until=lambda _: False
        )
    message = str(err.value)
    assert message.startswith("not within 0.05 s: the rows (last: 'xxx"), message
    assert message.endswith("...)") and len(message) < 300, message
