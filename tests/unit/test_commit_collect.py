"""The commit processor's delete of staged records: what it names goes, and a store that
refuses or does not answer leaves them behind with a warning, never failing the batch (which
is already checkpointed)."""

import logging
from collections.abc import Sequence

import pytest

from pachstream.commits import CommitProcessor
from pachstream.errors import ObjectStoreRefused, PachstreamError, Unavailable
from pachstream.objectstore import MemoryObjectStore
from pachstream.settings import Settings

STAGED = ["staging/c1/00000000", "staging/c1/00000001"]
OTHERS = ["staging/c2/00000000", "packs/p"]


def _processor(objects: MemoryObjectStore) -> CommitProcessor:
    # Addresses only: nothing connects until start(), and _collect needs the store alone.
    settings = Settings.from_env(
        {
            "PACHSTREAM_KAFKA_BOOTSTRAP": "127.0.0.1:1",
            "PACHSTREAM_POSTGRES_DSN": "postgresql://u:p@127.0.0.1:1/d",
            "PACHSTREAM_S3_ENDPOINT": "http://127.0.0.1:1",
        },
        stack_file=False,
    )
    return CommitProcessor(settings, objects=objects)


class FailingStore(MemoryObjectStore):
    def __init__(self, error: PachstreamError) -> None:
        super().__init__()
        self.error = error

    async def delete(self, keys: Sequence[str]) -> None:
        raise self.error


async def test_the_keys_named_are_deleted_and_only_they() -> None:
    store = MemoryObjectStore()
    for key in STAGED + OTHERS:
        await store.put(key, b"x")
    await _processor(store)._collect(list(STAGED))
    assert sorted(store.objects) == sorted(OTHERS)


@pytest.mark.parametrize(
    "error",
    [
        ObjectStoreRefused("DELETE refused: AccessDenied", key=STAGED[0]),
        Unavailable("object store at http://127.0.0.1:1 did not answer"),
    ],
    ids=["refused", "unavailable"],
)
async def test_a_failed_delete_leaves_the_records_with_a_warning(
    error: PachstreamError, caplog: pytest.LogCaptureFixture
) -> None:
    store = FailingStore(error)
    for key in STAGED:
        await store.put(key, b"x")
    with caplog.at_level(logging.WARNING, logger="pachstream.commits"):
        await _processor(store)._collect(list(STAGED))  # no raise: the batch goes on
    assert sorted(store.objects) == STAGED
    (warning,) = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert "2 staged batches" in warning and STAGED[0] in warning and error.message in warning


async def test_nothing_to_collect_asks_the_store_nothing() -> None:
    store = FailingStore(Unavailable("must not be asked"))
    await _processor(store)._collect([])
