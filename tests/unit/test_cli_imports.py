"""The CLI starts fast: `--help` and a Postgres read load none of the heavy modules.

Importing aiobotocore, aiokafka and the processors (through the `pachstream.commits`,
`pachstream.lineage` and `pachstream.dispatch` packages) took 1-2 s before every command, and
every command module was imported for every command. Now `main` imports the modules of the
group in argv[1] only, from a table in `_app` that a test here checks against what the modules
register. Each import check runs in a fresh interpreter, since this test process has imported
everything.
"""

import importlib
import os
import pkgutil
import subprocess
import sys

import pytest
import typer.main

import pachstream.cli
from pachstream.cli import _app

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
NOT_LISTING = (
    "pydantic",
    "yaml",
    "rich.markdown",
    "rich.tree",
    "pachstream.cli._stack",
    "pachstream.cli._lineage",
    "pachstream.cli._run",
    "pachstream.cli._bench",
    "pachstream.cli._parity",
    "pachstream.cli._backup",
    "pachstream.cli._commits",
    "pachstream.images",
    "pachstream.dispatch",
    "pachstream.commits",
)
"""Not needed by `list repo` either: Pydantic (Typer's coercion of given values; see
`_app._coerce_missing_values_without_pydantic`), the other groups' modules, specs, the pipeline
and commit packages (their events included)."""


def _loaded_after(
    code: str, *, env: dict[str, str] | None = None, cwd: str | None = None
) -> set[str]:
    probe = f"import sys\n{code}\nprint('\\n'.join(sys.modules))\n"
    done = subprocess.run(
        [sys.executable, "-c", probe],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
        env=env,
        cwd=cwd,
    )
    return set(done.stdout.split())


def _run_main(argv: list[str]) -> str:
    """Code that runs the CLI's entry point with ``argv``, quietly."""
    return (
        "import contextlib, io\n"
        f"sys.argv = ['pachstream', *{argv!r}]\n"
        "from pachstream.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()),"
        " contextlib.suppress(SystemExit):\n"
        "    main()"
    )


def _heavy(loaded: set[str], names: tuple[str, ...]) -> list[str]:
    return sorted(m for m in loaded if any(m == n or m.startswith(n + ".") for n in names))


@pytest.mark.parametrize(
    ("argv", "registers"),
    [(["--help"], "_parity"), (["list", "--help"], "_data"), (["list", "file", "--help"], "_data")],
)
def test_help_loads_no_driver(argv, registers):
    loaded = _loaded_after(_run_main(argv))
    assert f"pachstream.cli.{registers}" in loaded  # the commands were registered
    assert _heavy(loaded, DRIVERS + PROCESSORS + HELP_ONLY) == []


def test_list_repo_loads_its_modules_only(tmp_path):
    """What `list repo` imports up to its Postgres connection: the `list` group's modules, the
    client and asyncpg. No stack here, so it stops at 'no running stack found', after the
    imports (with a stack, it also imports `pachstream.lineage.queries` to read the tables).
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith("PACHSTREAM_")}
    env["PACHSTREAM_HOME"] = str(tmp_path)
    loaded = _loaded_after(_run_main(["list", "repo"]), env=env, cwd=str(tmp_path))
    assert {"pachstream.cli._data", "pachstream.client._client", "asyncpg"} <= loaded
    assert _heavy(loaded, DRIVERS + PROCESSORS + NOT_LISTING) == []


def test_lazy_packages_load_their_processors_on_first_use():
    """The client reads specs and lineage records from these packages without their servers."""
    loaded = _loaded_after(
        "import pachstream.dispatch.spec, pachstream.dispatch.plan, pachstream.lineage.queries\n"
        "import pachstream.dispatch as d, pachstream.lineage as l\n"
        "assert callable(d.datums) and d.datums.__module__ == 'pachstream.dispatch.datums'\n"
        "assert 'pachstream.dispatch._dispatcher' not in sys.modules\n"
        "assert 'pachstream.lineage._materializer' not in sys.modules\n"
        "assert d.Dispatcher.__name__ == 'Dispatcher' and l.Materializer.__name__ == 'Materializer'"
    )
    assert {"pachstream.dispatch._dispatcher", "pachstream.lineage._materializer"} <= loaded


# ----------------------------------------------------------------------------- the module table


def _registrations() -> dict[str, set[str]]:
    """Every command module's registrations: group or top-level command name -> modules."""
    prefix = "pachstream.cli."
    for info in pkgutil.iter_modules(pachstream.cli.__path__):
        importlib.import_module(prefix + info.name)
    found: dict[str, set[str]] = {}

    def add(name: str, commands: list[typer.models.CommandInfo]) -> None:
        for command in commands:
            assert command.callback is not None
            found.setdefault(name, set()).add(command.callback.__module__.removeprefix(prefix))

    for command in _app.app.registered_commands:
        assert command.callback is not None
        name = command.name or typer.main.get_command_name(command.callback.__name__)
        add(name, [command])
    for group in _app.app.registered_groups:
        assert group.name is not None and group.typer_instance is not None
        add(group.name, group.typer_instance.registered_commands)
    return found


def test_module_table_names_every_registration():
    """`_app._MODULES_FOR` gives, for each group and top-level command, exactly the modules that
    register on it (a module in the table that does not exist yet is allowed). A module that
    registers on a name the table leaves out, or is missing from, makes that command invisible
    to `main`: add it to the table."""
    exists = {info.name for info in pkgutil.iter_modules(pachstream.cli.__path__)}
    table = {
        name: {m for m in modules if m in exists} for name, modules in _app._MODULES_FOR.items()
    }
    assert _registrations() == {name: modules for name, modules in table.items() if modules}
    assert set(_app._COMMAND_MODULES) == {m for ms in _app._MODULES_FOR.values() for m in ms}


@pytest.mark.parametrize(
    ("argv", "env", "modules"),
    [
        (["list", "repo"], {}, ["_data", "_commitsets", "_pipelines", "_images"]),
        (["list", "--help"], {}, ["_data", "_commitsets", "_pipelines", "_images"]),
        (["image", "load", "f.tar"], {}, ["_images"]),
        (["up"], {}, ["_stack"]),
        (["squash", "commit", "r@c"], {}, ["_commits"]),
        (["stop", "job", "j"], {}, ["_pipelines", "_commits"]),
        # The top-level help lists the top-level commands; group names need no import.
        ([], {}, ["_stack", "_pipelines", "_parity", "_backup", "_chaos"]),
        (["--help"], {}, ["_stack", "_pipelines", "_parity", "_backup", "_chaos"]),
        # An unknown name gets "did you mean" from all names; completion's words are in the env.
        (["lst"], {}, _app._COMMAND_MODULES),
        ([], {"_PACHSTREAM_COMPLETE": "complete_bash"}, _app._COMMAND_MODULES),
    ],
)
def test_modules_for(argv, env, modules):
    assert _app._modules_for(argv, env) == modules


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


def test_lineage_queries_read_without_the_materializer():
    """The client reads the lineage tables through `queries`, which loads neither the
    materializer nor a driver, and knows the schema version the materializer migrates to."""
    loaded = _loaded_after(
        "from pachstream.lineage import queries\n"
        "from pachstream.lineage._schema import MIGRATIONS\n"
        "assert queries.SCHEMA_VERSION == len(MIGRATIONS)\n"
        "import pachstream.client._client"
    )
    assert "pachstream.lineage.queries" in loaded
    assert _heavy(loaded, DRIVERS + PROCESSORS) == []


def test_notify_channel_agrees_with_the_materializer():
    from pachstream.lineage import Materializer, notify_channel, queries

    assert queries.notify_channel("ns") == notify_channel("ns") == "ns_changes"
    assert Materializer.__module__ == "pachstream.lineage._materializer"


def test_missing_values_keep_typer_semantics():
    """`_app`'s shim skips only the coercion of a missing optional value: defaults, callbacks
    and missing required arguments behave as Typer's own."""
    from typer.testing import CliRunner

    seen: list[object] = []
    app = typer.Typer(rich_markup_mode=None)

    @app.command()
    def cmd(
        name: str,
        tag: str | None = typer.Option(None, callback=lambda v: seen.append(v) or v),
        count: int = typer.Option(3),
    ) -> None:
        typer.echo(f"{name} {tag} {count} {type(count).__name__}")

    runner = CliRunner()
    missing = runner.invoke(app, [])
    assert missing.exit_code == 2 and "Missing argument" in missing.output
    assert runner.invoke(app, ["a"]).output == "a None 3 int\n"
    assert runner.invoke(app, ["a", "--tag", "t", "--count", "7"]).output == "a t 7 int\n"
    assert seen == [None, "t"]
    bad = runner.invoke(app, ["a", "--count", "x"])
    assert bad.exit_code == 2 and "valid integer" in bad.output
