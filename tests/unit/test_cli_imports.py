"""The CLI starts fast: `--help` and a Postgres read load none of the heavy modules.

Importing aiobotocore, aiokafka and the processors (through the `pachstream.commits`,
`pachstream.lineage` and `pachstream.dispatch` packages) took 1-2 s before every command.
Each check runs in a fresh interpreter, since this test process has imported everything.
"""

import subprocess
import sys

import pytest

DRIVERS = ("aiobotocore", "botocore", "aiohttp", "aiokafka")
"""The S3 and Kafka drivers: only commands that read content or write need them."""
PROCESSORS = (
    "pachstream.commits._processor",
    "pachstream.lineage._materializer",
    "pachstream.dispatch._dispatcher",
    "pachstream.tree",
    "pachstream.objectstore",
    "pachstream.kafka",
)
"""Modules of the servers, and the transports the client makes on first use."""
HELP_ONLY = ("asyncpg", "pachstream.client._client", "yaml", "rich.markdown")
"""Not needed to print help either (Postgres, the SDK, spec parsing, Rich's help renderer)."""


def _loaded_after(code: str) -> set[str]:
    probe = f"import sys\n{code}\nprint('\\n'.join(sys.modules))\n"
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60
    )
    return set(done.stdout.split())


def _heavy(loaded: set[str], names: tuple[str, ...]) -> list[str]:
    return sorted(m for m in loaded if any(m == n or m.startswith(n + ".") for n in names))


@pytest.mark.parametrize("argv", [["--help"], ["list", "--help"], ["list", "file", "--help"]])
def test_help_loads_no_driver(argv):
    loaded = _loaded_after(
        "import contextlib, io\n"
        f"sys.argv = ['pachstream', *{argv!r}]\n"
        "from pachstream.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()), contextlib.suppress(SystemExit):\n"
        "    main()"
    )
    assert "pachstream.cli._data" in loaded  # the commands were registered
    assert _heavy(loaded, DRIVERS + PROCESSORS + HELP_ONLY) == []


def test_client_for_reads_loads_no_driver():
    """What `list repo` imports: the client and its Postgres transport, nothing else."""
    loaded = _loaded_after(
        "from pachstream import Client\nfrom pachstream.client import SyncClient"
    )
    assert "asyncpg" in loaded
    assert _heavy(loaded, DRIVERS + PROCESSORS) == []


def test_lazy_exports_resolve():
    loaded = _loaded_after(
        "import pachstream.client as c\n"
        "assert set(c.__all__) == set(c._WHERE)\n"
        "assert all(getattr(c, n) is not None for n in c.__all__)"
    )
    assert "pachstream.client._client" in loaded


def test_lineage_migrations_read_without_the_package():
    loaded = _loaded_after(
        "from pachstream.client._client import _lineage_migrations\n"
        "mine = _lineage_migrations()\n"
        "assert 'pachstream.lineage' not in sys.modules\n"
        "from pachstream.lineage._schema import MIGRATIONS\n"
        "assert mine == MIGRATIONS and mine is not MIGRATIONS"
    )
    assert "pachstream.lineage._schema" in loaded


def test_notify_channel_agrees_with_the_materializer():
    from pachstream.client._client import _notify_channel
    from pachstream.lineage import notify_channel

    assert _notify_channel("ns") == notify_channel("ns")
