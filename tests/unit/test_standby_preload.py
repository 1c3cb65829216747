"""A standby worker has done, before its shard comes, what a worker would do after: the
imports of its argument parsing and of its start, and the decoding behind its S3 client."""

from __future__ import annotations

import json
import subprocess
import sys

AFTER_THE_SHARD = """
import asyncio, json, sys
from pachstream.cli._standby import preload

preload()
import botocore.loaders

decoded = []
load_file = botocore.loaders.JSONFileLoader.load_file
def counting(self, *args, **kwargs):
    decoded.append(args[0] if args else kwargs)
    return load_file(self, *args, **kwargs)
botocore.loaders.JSONFileLoader.load_file = counting
before = set(sys.modules)

# What a worker does once its shard is named (pachstream.cli._run and the worker's open).
import typer._adapters
from pachstream.stack import await_release, waits_for_release
from pachstream.objectstore import S3ObjectStore
from pachstream.settings import ObjectStoreSettings

async def first_client():
    store = S3ObjectStore(
        ObjectStoreSettings(endpoint="http://127.0.0.1:9", bucket="b", access_key="a",
                            secret_key="s"), "ns")
    await store._s3()
    await store.close()

asyncio.run(first_client())
print(json.dumps({"imported": sorted(set(sys.modules) - before), "decoded": len(decoded)}))
"""


def test_a_standbys_first_s3_client_decodes_nothing_and_its_start_imports_nothing():
    ran = subprocess.run(
        [sys.executable, "-c", AFTER_THE_SHARD], capture_output=True, text=True, check=True
    )
    seen = json.loads(ran.stdout.splitlines()[-1])
    assert seen == {"imported": [], "decoded": 0}, seen
