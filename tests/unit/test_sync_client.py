"""SyncClient has every verb of Client, with the same parameters, as a real method."""

import inspect

import pytest

from pachstream.client import Client, SyncClient
from pachstream.client._gen_sync import SKIP, verbs

REGENERATE = "run 'python -m pachstream.client._gen_sync' to regenerate _sync_verbs.py"
VERBS = verbs(Client)


def test_every_verb_is_generated():
    missing = [
        name for name, _ in VERBS if "_sync_verbs" not in getattr(SyncClient, name).__module__
    ]
    assert missing == [], f"SyncClient lacks {missing}; {REGENERATE}"
    assert len(VERBS) > 40  # the verbs were found at all


@pytest.mark.parametrize(("name", "verb"), VERBS, ids=[n for n, _ in VERBS])
def test_same_parameters(name, verb):
    mine = inspect.signature(getattr(SyncClient, name))
    theirs = inspect.signature(verb)
    assert list(mine.parameters.values()) == list(theirs.parameters.values()), REGENERATE
    returns = theirs.return_annotation
    if inspect.isasyncgenfunction(verb):
        returns = returns.replace("AsyncIterator[", "Iterator[", 1)
    assert mine.return_annotation == returns, REGENERATE
    assert inspect.getdoc(getattr(SyncClient, name)) == inspect.getdoc(verb), REGENERATE


def test_hand_written_verbs():
    for name in SKIP:
        assert name in SyncClient.__dict__
    connect = inspect.signature(SyncClient.connect).parameters
    assert list(connect) == ["settings", "timeout_s"]
