"""The warm sandbox: Pachyderm-style /pfs, writes only to /pfs/out and /tmp, timeouts."""

from __future__ import annotations

import subprocess

import pytest

from pachstream.worker.sandbox import command_script

SCRIPTS = [
    # (what, cmd, env, working_dir, expected script)
    (
        "every variable goes through env(1), a name that is no identifier too; quoting",
        ["grep", "-c", "it's"],
        {"B": "x y", "A": "$HOME", "my-input": "/pfs/my-input/a"},
        None,
        "cd / 2>/dev/null || { echo 'pachstream: working_dir '\"'\"'/'\"'\"' does not exist in the "
        "sandbox; set transform.working_dir to an existing directory, such as /pfs/out or /tmp' "
        ">&2; exit 126; }\n"
        "exec env -- 'A=$HOME' 'B=x y' my-input=/pfs/my-input/a grep -c 'it'\"'\"'s'\n",
    ),
    (
        "a working_dir is entered",
        ["true"],
        {},
        "/pfs/out",
        "cd /pfs/out 2>/dev/null || { echo 'pachstream: working_dir '\"'\"'/pfs/out'\"'\"' "
        "does not exist in the sandbox; set transform.working_dir to an existing directory, "
        "such as /pfs/out or /tmp' >&2; exit 126; }\nexec env -- true\n",
    ),
]


@pytest.mark.parametrize(
    ("what", "cmd", "env", "working_dir", "script"), SCRIPTS, ids=[c[0] for c in SCRIPTS]
)
def test_command_script(what, cmd, env, working_dir, script):
    assert command_script(cmd, env, working_dir) == script


@pytest.mark.parametrize(
    ("cmd", "env", "said"),
    [
        (["a=b"], {}, "command 'a=b' cannot be run"),
        (["true"], {"A=B": "x"}, "environment variable 'A=B' cannot be set"),
        (["true"], {"": "x"}, "environment variable '' cannot be set"),
        (["true"], {"A": "x\0y"}, "environment variable 'A' cannot be set"),
    ],
)
def test_what_cannot_be_passed_fails_the_run_saying_why(cmd, env, said):
    script = command_script(cmd, env, None)
    ran = subprocess.run(["sh", "-c", script], capture_output=True, text=True, check=False)
    assert (ran.returncode, ran.stdout) == (126, "") and said in ran.stderr


async def test_code_written_for_pachyderm_runs_unchanged(sandbox):
    (sandbox.input_dir("images") / "cat.png").write_bytes(b"\x89PNG")
    (sandbox.input_dir("labels") / "cat.txt").write_text("cat\n")
    result = await sandbox.run(
        ["sh"],
        stdin="cp /pfs/images/cat.png /pfs/out/ && cat /pfs/labels/cat.txt"
        ' && echo "$PACH_DATUM_ID" >&2',
        env={"PACH_DATUM_ID": "d1"},
    )
    assert (result.exit_code, result.stdout_tail, result.stderr_tail) == (0, "cat\n", "d1\n")
    assert (sandbox.out_dir / "cat.png").read_bytes() == b"\x89PNG"


@pytest.mark.parametrize(
    "target", ["/pfs/images/new", "/pfs/new", "/newfile", "/usr/new", "/ctl/../etc"]
)
async def test_writes_outside_out_and_tmp_fail(sandbox, target):
    result = await sandbox.run(["sh", "-c", f"echo x > {target}"])
    assert result.exit_code != 0 and result.stderr_tail
    ok = await sandbox.run(
        ["sh", "-c", "echo x > /tmp/scratch && cat /tmp/scratch > /pfs/out/fine"]
    )
    assert ok.exit_code == 0 and (sandbox.out_dir / "fine").read_text() == "x\n"


async def test_the_sandbox_stays_warm_and_sees_newly_staged_files(sandbox):
    first = await sandbox.run(["sh", "-c", "echo $$"])
    (sandbox.input_dir("images") / "late.png").write_text("late")
    second = await sandbox.run(["cat", "/pfs/images/late.png"])
    assert first.exit_code == 0 and second.stdout_tail == "late"
    assert sandbox._proc is not None and sandbox._proc.returncode is None


async def test_exit_codes_and_timeouts(sandbox):
    failed = await sandbox.run(["sh", "-c", "echo boom >&2; exit 3"])
    assert (failed.exit_code, failed.stderr_tail, failed.timed_out) == (3, "boom\n", False)
    stuck = await sandbox.run(["sleep", "600"], timeout_s=1)
    assert stuck.timed_out and stuck.exit_code is None
    after = await sandbox.run(["true"])  # a new sandbox replaces the killed one
    assert after.exit_code == 0


async def test_no_network(sandbox):
    result = await sandbox.run(["sh", "-c", "cat /proc/net/dev | grep -c :"])
    assert result.stdout_tail.strip() == "1"  # only the loopback interface exists


async def test_variables_with_names_no_shell_can_hold_reach_the_command(sandbox):
    # Pachyderm sets <input name>=<path> for every input; 'my-input' is no shell identifier,
    # but the process environment carries it (printenv, os.environ, Go's os.Getenv read it).
    result = await sandbox.run(
        ["printenv", "my-input", "my-input_COMMIT"],
        env={"my-input": "/pfs/my-input/a", "my-input_COMMIT": "c1"},
    )
    assert (result.exit_code, result.stdout_tail) == (0, "/pfs/my-input/a\nc1\n")


async def test_default_working_dir_is_pachyderms_and_a_missing_one_fails_saying_so(sandbox):
    here = await sandbox.run(["pwd"])
    assert (here.exit_code, here.stdout_tail) == (0, "/\n")
    there = await sandbox.run(["pwd"], working_dir="/pfs/images")
    assert there.stdout_tail == "/pfs/images\n"
    missing = await sandbox.run(["pwd"], working_dir="/no/such/dir")
    assert (
        missing.exit_code == 126
        and "working_dir '/no/such/dir' does not exist" in missing.stderr_tail
    )


async def test_a_command_that_kills_its_sandbox_fails_only_its_own_run(sandbox):
    killed = await sandbox.run(["sh", "-c", "kill -9 -1"])
    assert killed.exit_code is None and not killed.timed_out
    assert "the sandbox ended while the command ran" in killed.stderr_tail
    after = await sandbox.run(["true"])
    assert after.exit_code == 0
