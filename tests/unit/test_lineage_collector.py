"""The processors pause Python's cycle collector while they handle a batch, always restore it,
and set what a batch left alive aside until the heap has grown."""

from __future__ import annotations

import gc
import sys
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
def test_a_cycle_set_aside_is_collected_once_the_heap_has_grown() -> None:
    with collector_paused():
        pass  # the base
    with collector_paused():
        cycle = _cycle()
    gc.collect()
    assert cycle() is not None  # set aside: the collector does not look at it yet
    with collector_paused():
        grown = [[i] for i in range(2 * sys.getallocatedblocks())]
    assert cycle() is None  # the heap grew: everything went back and was collected
    del grown
