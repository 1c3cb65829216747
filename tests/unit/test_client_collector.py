"""While puts run, the objects held before them are set aside from the cycle collector; after
the last one ends they are given back, and garbage cycles made before are collected again."""

from __future__ import annotations

import gc
import weakref

from pachstream.client._collector import held_objects_set_aside


class _Node:
    def __init__(self) -> None:
        self.me = self  # a cycle: only the collector frees it


def test_held_objects_are_set_aside_while_a_put_runs_and_given_back_after() -> None:
    gc.unfreeze()
    before = _Node()
    with held_objects_set_aside():
        assert gc.get_freeze_count() > 0
        ref = weakref.ref(before)
        del before
        gc.collect()
        assert ref() is not None  # set aside: the collector does not walk it
    assert gc.get_freeze_count() == 0
    gc.collect()
    assert ref() is None  # given back: collected as any garbage cycle


def test_a_puts_own_garbage_cycles_are_collected_meanwhile() -> None:
    with held_objects_set_aside():
        ref = weakref.ref(_Node())
        gc.collect()
        assert ref() is None


def test_nested_puts_give_back_only_when_the_last_ends() -> None:
    gc.unfreeze()
    with held_objects_set_aside():
        with held_objects_set_aside():
            assert gc.get_freeze_count() > 0
        assert gc.get_freeze_count() > 0  # the outer put still runs
    assert gc.get_freeze_count() == 0


def test_a_failing_put_gives_back_too() -> None:
    gc.unfreeze()
    try:
        with held_objects_set_aside():
            raise RuntimeError("refused")
    except RuntimeError:
        pass
    assert gc.get_freeze_count() == 0
