"""Restart policies (issue 18, recovery under 15 s): the supervisor's backoff starts over
for a child that had been healthy, and a service whose server went away starts again in its
own process, fresh, after a short capped wait.
"""

from __future__ import annotations

import asyncio

import asyncpg
import pytest

from pachstream import pg
from pachstream.service import RESTART_CAP_S, Service, restart_delay, run_until_stopped
from pachstream.stack._supervisor import HEALTHY_AFTER_S, restart_plan


@pytest.mark.parametrize(
    ("restarts", "ran_s", "expected"),
    [
        (0, 0.5, (1, 1.0)),  # first death: restarted at once, next one after 1 s
        (1, 0.5, (2, 2.0)),
        (4, 0.5, (5, 16.0)),
        (9, 0.5, (10, 30.0)),  # a crash loop waits at most half a minute
        # Killed again after a healthy run: the count starts over, however high it was.
        (9, HEALTHY_AFTER_S, (1, 1.0)),
        (5, HEALTHY_AFTER_S + 100, (1, 1.0)),
    ],
)
def test_supervisor_backoff_starts_over_after_a_healthy_run(
    restarts: int, ran_s: float, expected: tuple[int, float]
) -> None:
    assert restart_plan(restarts, ran_s) == expected


def test_in_process_restart_delays_double_to_a_short_cap() -> None:
    assert [restart_delay(n) for n in range(1, 8)] == [0.25, 0.5, 1.0, 2.0, 4.0, 4.0, 4.0]
    assert restart_delay(10_000) == RESTART_CAP_S


class _Flaky(Service):
    """A service whose loop fails once per instance with ``error`` after ``steps`` steps."""

    name = "flaky"

    def __init__(self, made: list[_Flaky], error: Exception, steps: int) -> None:
        super().__init__()
        made.append(self)
        self.error, self.steps, self.closed = error, steps, False

    async def _open(self) -> None:
        pass

    async def _step(self) -> None:
        await asyncio.sleep(0)
        self.steps -= 1
        if self.steps < 0:
            raise self.error

    async def _close(self) -> None:
        self.closed = True


async def test_a_lost_server_makes_a_fresh_service_in_the_same_process() -> None:
    made: list[_Flaky] = []
    stop = asyncio.Event()
    lost = ConnectionResetError("server went away")

    def again() -> Service:  # the second fails as the first did; the third keeps running
        return _Flaky(made, lost, 1_000_000 if len(made) >= 2 else 2)

    async def stop_soon() -> None:
        while len(made) < 3:
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.05)
        stop.set()

    stopper = asyncio.create_task(stop_soon())
    await asyncio.wait_for(
        run_until_stopped(_Flaky(made, lost, 2), stop, again=again, transient=lambda e: e is lost),
        timeout=10,
    )
    await stopper
    assert len(made) == 3  # two failed and were replaced; the third ran until the stop
    assert all(s.closed for s in made)  # each failed instance was closed before the next


async def test_other_errors_and_no_factory_end_the_run() -> None:
    made: list[_Flaky] = []
    bug = ValueError("a bug, not an outage")
    with pytest.raises(ValueError, match="a bug"):
        await run_until_stopped(
            _Flaky(made, bug, 1),
            asyncio.Event(),
            again=lambda: _Flaky(made, bug, 1),
            transient=lambda e: isinstance(e, ConnectionError),
        )
    lost = ConnectionResetError("gone")
    with pytest.raises(ConnectionResetError):
        await run_until_stopped(_Flaky(made, lost, 1), asyncio.Event(), transient=lambda e: True)
    assert len(made) == 2  # no second instance in either case


@pytest.mark.parametrize(
    ("exc", "lost"),
    [
        (ConnectionRefusedError(111, "refused"), True),
        (asyncpg.CannotConnectNowError("the database system is starting up"), True),
        (asyncpg.InterfaceError("the underlying connection is closed"), True),
        # A pooled connection left mid-operation by a lost server (chaos: Postgres SIGKILL).
        (asyncpg.InternalClientError("another operation is in progress"), True),
        (asyncpg.UniqueViolationError("duplicate key"), False),  # a refused statement
        (ValueError("a bug"), False),
    ],
)
def test_which_postgres_errors_mean_the_connection_was_lost(exc: BaseException, lost: bool) -> None:
    assert pg.connection_lost(exc) is lost
