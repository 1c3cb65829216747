"""The warm sandbox: Pachyderm-style /pfs, writes only to /pfs/out and /tmp, timeouts."""

from __future__ import annotations

import pytest

from pachstream.dispatch.sandbox import command_script


def test_command_script_quotes_everything():
    script = command_script(["grep", "-c", "it's"], {"B": "x y", "A": "$HOME", "not-an-id": "z"}, None)
    assert script == "export A='$HOME'\nexport B='x y'\ncd /pfs\nexec grep -c 'it'\"'\"'s'\n"



async def test_code_written_for_pachyderm_runs_unchanged(sandbox):
    (sandbox.input_dir("images") / "cat.png").write_bytes(b"\x89PNG")
    (sandbox.input_dir("labels") / "cat.txt").write_text("cat\n")
    result = await sandbox.run(
        ["sh"],
        stdin="cp /pfs/images/cat.png /pfs/out/ && cat /pfs/labels/cat.txt && echo \"$PACH_DATUM_ID\" >&2",
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
    ok = await sandbox.run(["sh", "-c", "echo x > /tmp/scratch && cat /tmp/scratch > /pfs/out/fine"])
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
