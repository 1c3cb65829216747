"""The warm sandbox: Pachyderm-style /pfs, writes only to /pfs/out and /tmp, timeouts."""

from __future__ import annotations

import subprocess

import pytest

from pachstream.worker.sandbox import command_script


def test_a_sandbox_command_gets_exactly_its_environment_and_a_pod_command_the_images():
    sandboxed = command_script(["grep", "-c", "it's"], {"B": "x y", "my-input": "/pfs/a"}, None)
    assert sandboxed.startswith("cd / 2>/dev/null || ")
    assert sandboxed.endswith(
        "exec $S /.pachstream/busybox env -i -- 'B=x y' PATH=/usr/local/sbin:/usr/local/bin:"
        "/usr/sbin:/usr/bin:/sbin:/bin my-input=/pfs/a \"$p\" -c 'it'\"'\"'s'\n"
    )
    in_pod = command_script(["tool", "a"], {"X": "1", "my-input": "/pfs/a"}, None, inherit_env=True)
    assert not in_pod.startswith("cd ") and "${PATH:-" in in_pod
    assert in_pod.endswith('exec $S /.pachstream/busybox env -- X=1 my-input=/pfs/a "$p" a\n')
    given = command_script(["/opt/tool"], {"PATH": "/opt:", "a-b": "1"}, "/w", inherit_env=True)
    assert given.startswith("cd /w ") and given.endswith("env -- PATH=/opt: a-b=1 /opt/tool\n")


def test_names_the_shell_can_export_are_exported_by_the_script_without_an_env_exec():
    sandboxed = command_script(["cp", "a b", "c"], {"in": "/pfs/in/f", "B": "x y"}, None)
    assert sandboxed.endswith(
        "unset PWD OLDPWD SHLVL\nexport 'B=x y' PATH=/usr/local/sbin:/usr/local/bin:"
        "/usr/sbin:/usr/bin:/sbin:/bin in=/pfs/in/f\nexec $S \"$p\" 'a b' c\n"
    )
    in_pod = command_script(["/opt/tool"], {"X": "1"}, "/w", inherit_env=True)
    assert in_pod.endswith("\nexport X=1\nexec $S /opt/tool\n") and "unset" not in in_pod
    # Names ash gives a value of its own, and the script's own variables, go through env.
    for name in ("RANDOM", "IFS", "p", "S"):
        assert "env -i --" in command_script(["true"], {name: "1"}, None), name


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
    assert script == command_script(cmd, env, None, inherit_env=True)
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
    proc = sandbox._proc
    stuck = await sandbox.run(["sh", "-c", "sleep 600 & sleep 600"], timeout_s=1)
    assert stuck.timed_out and stuck.exit_code is None
    after = await sandbox.run(["sh", "-c", "ps -e -o comm= | grep -c sleep"])
    # The agent killed the run at its timeout, and its background process with it; the
    # sandbox stays warm.
    assert (after.exit_code, after.stdout_tail) == (1, "0\n") and sandbox._proc is proc


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
    assert "the agent ended while the command ran" in killed.stderr_tail
    after = await sandbox.run(["true"])
    assert after.exit_code == 0


# Attacks of user code on the sandbox (issue 18): each must be refused.


async def test_attack_a_run_cannot_outlive_itself_to_rewrite_the_next_datum(sandbox):
    # A background process and one in a session of its own wait for the next datum and try
    # to put a file into its /pfs/out.
    planted = await sandbox.run(
        [
            "sh",
            "-c",
            "(sleep 1; echo forged > /pfs/out/forged) & "
            "setsid sh -c 'sleep 1; echo forged > /pfs/out/forged2' & exit 0",
        ]
    )
    assert planted.exit_code == 0
    victim = await sandbox.run(["sh", "-c", "sleep 2; ls /pfs/out; ps -e -o comm= | grep -c sleep"])
    assert (victim.exit_code, victim.stdout_tail) == (1, "0\n")
    assert list(sandbox.out_dir.iterdir()) == []


async def test_attack_forged_answers_on_the_control_fifo_do_not_end_a_run_early(sandbox):
    # The code knows its own run id (its folder in /ctl) and answers for it, with a made-up
    # key, then says the agent restarted; the sidecar must wait for the agent's real answer.
    result = await sandbox.run(
        [
            "sh",
            "-c",
            'for d in /ctl/*/; do id=$(basename $d); echo "done $id 0000" > /ctl/out; done; '
            "echo garbage > /ctl/out; sleep 1; echo real > /pfs/out/result",
        ]
    )
    assert result.exit_code == 0 and result.duration_s >= 1.0
    assert (sandbox.out_dir / "result").read_text() == "real\n"


async def test_attack_the_workers_environment_and_other_folders_are_out_of_reach(
    tmp_path, monkeypatch
):
    import shutil

    if shutil.which("bwrap") is None:
        pytest.skip("bubblewrap is not installed (make installs it)")
    from pachstream.worker.sandbox import Sandbox

    monkeypatch.setenv("PACHSTREAM_S3_SECRET_KEY", "worker-only-secret")
    other = tmp_path / "other-pipeline" / "box" / "inputs" / "private"
    other.mkdir(parents=True)
    (other / "data").write_text("private")
    box = Sandbox(tmp_path / "mine" / "box", ["in"])
    try:
        seen = await box.run(["sh", "-c", "env; cat /proc/1/environ /proc/self/environ"])
        assert "worker-only-secret" not in seen.stdout_tail + seen.stderr_tail
        assert "PACHSTREAM" not in seen.stdout_tail
        peek = await box.run(["cat", str(other / "data")])
        assert peek.exit_code != 0 and "private" not in peek.stdout_tail
        listing = await box.run(["ls", "-a", "/", "/pfs"])
        assert listing.stdout_tail.split() == [
            "/:", ".", "..", ".pachstream", "bin", "ctl", "dev", "lib", "lib64", "pfs", "proc",
            "sbin", "tmp", "usr", "/pfs:", ".", "..", "in", "out",
        ]  # fmt: skip
    finally:
        await box.stop()


async def test_a_timed_out_run_is_gone_before_the_next_one_starts(sandbox):
    """The sweep's SIGKILLs are delivered, not waited for: the agent answers only once the
    processes of the run are gone (before, the next run saw 26 of these 300 still there)."""
    for _ in range(2):
        many = "for i in $(seq 300); do sleep 600 & done; sleep 600"
        stuck = await sandbox.run(["sh", "-c", many], timeout_s=1)
        assert stuck.timed_out
        after = await sandbox.run(["sh", "-c", "ps -e -o comm= | grep -c sleep"])
        assert (after.exit_code, after.stdout_tail) == (1, "0\n"), after
