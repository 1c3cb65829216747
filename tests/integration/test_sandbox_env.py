"""What a command's process environment holds in a sandbox: exactly what it is given, whether
the run's script exports the variables itself or passes them through ``env``."""

from __future__ import annotations

import pytest

from pachstream.images import DEFAULT_PATH


def _environment(text: str) -> dict[str, str]:
    return dict(line.split("=", 1) for line in text.splitlines())


@pytest.mark.parametrize(
    "env",
    [
        # Shell names: exported by the script (no env exec), also names of its own doings.
        {"in": "/pfs/in/f", "in_COMMIT": "c1", "B": "x y", "PWD": "/given", "SHLVL": "7"},
        # A name no shell can hold, beside others: all through env -i.
        {"my-input": "/pfs/my-input/a", "B": "x y"},
        # The script's own variable names: never confused with its command.
        {"p": "/bin/false", "S": "false", "d": "1", "o": "2"},
    ],
)
async def test_a_command_sees_exactly_its_variables_and_path(sandbox, env):
    for working_dir in (None, "/pfs/out"):  # a cd exports PWD and OLDPWD in busybox ash
        ran = await sandbox.run(["env"], env=env, working_dir=working_dir)
        assert ran.exit_code == 0, ran.stderr_tail
        assert _environment(ran.stdout_tail) == {**env, "PATH": DEFAULT_PATH}


async def test_a_command_named_by_path_search_runs_with_a_p_variable_given(sandbox):
    ran = await sandbox.run(["sh", "-c", 'echo "$p $S"'], env={"p": "/bin/false", "S": "x"})
    assert (ran.exit_code, ran.stdout_tail) == (0, "/bin/false x\n")
