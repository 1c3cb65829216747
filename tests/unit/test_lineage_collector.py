"""The processors pause Python's cycle collector while they handle a batch, always restore it,
and set what a batch left alive aside until the heap has grown and they are idle (or have not
been for a while)."""

from __future__ import annotations

import gc
import sys
import time
import weakref
from collections.abc import Iterator

import pytest

from pachstream import processor
from pachstream.processor import collector_paused


def test_the_collector_is_off_inside_and_back_on_after() -> None:
    assert gc.isenabled()
    with collector_paused():
        assert not gc.isenabled()
    assert gc.isenabled()


def test_the_collector_is_back_on_after_an_error() -> None:
    with pytest.raises(RuntimeError), collector_paused():
        raise RuntimeError("decode failed")
    assert gc.isenabled()


def test_a_collector_that_was_off_stays_off() -> None:
    gc.disable()
    try:
        with collector_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()
    finally:
        gc.enable()


class _Node:
    """An object that can sit in a reference cycle and be watched by a weak reference."""

    other: _Node | None = None


def _cycle() -> weakref.ref[_Node]:
    """A garbage cycle of two nodes; the weak reference says when it is collected."""
    a, b = _Node(), _Node()
    a.other, b.other = b, a
    return weakref.ref(a)


@pytest.fixture
def set_aside(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """A fresh base for the full collection, with no floor; nothing left frozen after."""
    monkeypatch.setattr(processor, "RECLAIM_FLOOR", 0)
    monkeypatch.setattr(processor._SetAside, "after_reclaim", 0)
    monkeypatch.setattr(processor._SetAside, "due_since", None)
    yield
    gc.unfreeze()


@pytest.mark.usefixtures("set_aside")
def test_what_a_batch_left_alive_is_not_walked_again_and_dies_by_its_count() -> None:
    with collector_paused():
        pass  # the base
    with collector_paused():
        kept = [_Node() for _ in range(1000)]
        probe = weakref.ref(kept[0])
    # Set aside: in no generation the collector walks.
    assert not any(o is kept[0] for o in gc.get_objects())
    del kept
    assert probe() is None  # freed by its reference count, set aside or not


@pytest.mark.usefixtures("set_aside")
def test_a_cycle_set_aside_waits_for_the_processor_to_be_idle() -> None:
    with collector_paused():
        pass  # the base
    with collector_paused():
        cycle = _cycle()
    gc.collect()
    assert cycle() is not None  # set aside: the collector does not look at it yet
    with collector_paused():
        grown = [[i] for i in range(2 * sys.getallocatedblocks())]
    # The heap grew, but a batch had just ended: its write still holds what it built.
    assert cycle() is not None
    assert processor._SetAside.due_since is not None
    assert processor.reclaim_when_idle()  # nothing to do: everything went back and was collected
    assert cycle() is None
    assert processor._SetAside.due_since is None
    del grown


@pytest.mark.usefixtures("set_aside")
def test_an_idle_processor_whose_heap_has_not_grown_collects_nothing() -> None:
    with collector_paused():
        cycle = _cycle()  # the base, with a cycle in it
    assert not processor.reclaim_when_idle()
    assert cycle() is not None


def test_before_any_batch_an_idle_processor_collects_nothing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(processor, "RECLAIM_FLOOR", 0)
    monkeypatch.setattr(processor._SetAside, "after_reclaim", 0)
    assert not processor.reclaim_when_idle()  # no set-aside in this process: gc's own rules


@pytest.mark.usefixtures("set_aside")
def test_a_processor_never_idle_collects_between_batches_once_the_wait_is_over() -> None:
    with collector_paused():
        pass  # the base
    with collector_paused():
        cycle = _cycle()
        grown = [[i] for i in range(2 * sys.getallocatedblocks())]
    with collector_paused():
        pass
    assert cycle() is not None  # due, but not for long
    # Due for the whole wait, as if every batch since had ended with the heap grown.
    processor._SetAside.due_since = time.monotonic() - processor.RECLAIM_WAIT_S
    with collector_paused():
        pass
    assert cycle() is None
    del grown


@pytest.mark.usefixtures("set_aside")
def test_a_heap_back_at_rest_is_no_longer_due() -> None:
    with collector_paused():
        pass  # the base
    with collector_paused():
        grown = [[i] for i in range(2 * sys.getallocatedblocks())]
    assert processor._SetAside.due_since is not None
    del grown
    with collector_paused():
        pass
    assert processor._SetAside.due_since is None
