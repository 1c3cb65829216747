"""The worker protocol as on Kubernetes: the agent in a container of its own, the sidecar
(:class:`~pachstream.worker.sandbox.PodAgent`) beside it, sharing only the pod's emptyDirs.

kwok runs no containers, so the "user container" here is bubblewrap set up as a container
runtime would set it up: the agent is process 1 of its own PID namespace, runs with the
image's environment and working directory, and sees ``/ctl``, ``/pfs/out`` and
``/pfs/<input>`` as mounts of the sidecar's folders. The sidecar neither starts nor stops it:
the tests kill and restart each side on its own.
"""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from agent_attacks import queue_a_script_of_its_own

from pachstream.worker.agent import AGENT, SHELL_INSIDE
from pachstream.worker.sandbox import PodAgent, static_shell

pytestmark = pytest.mark.skipif(
    shutil.which("bwrap") is None, reason="bubblewrap is not installed (make installs it)"
)


class UserContainer:
    """The pod's user container: the agent, started and killed apart from any sidecar."""

    def __init__(self, box: Path, input_name: str = "in") -> None:
        self.box = box
        self.input_name = input_name
        self.proc: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        # The kubelet makes a subPath that does not exist yet (the StatefulSet's read-only
        # mount of the scripts' folder, see pachstream.worker._kube_objects).
        (self.box / "ctl" / "runs").mkdir(parents=True, exist_ok=True)
        args = [
            "bwrap",
            "--ro-bind", "/usr", "/usr",
            "--symlink", "usr/bin", "/bin",
            "--symlink", "usr/lib", "/lib",
            "--symlink", "usr/lib64", "/lib64",
            "--proc", "/proc",
            "--dev", "/dev",
            "--tmpfs", "/tmp",
            "--ro-bind", str(static_shell()), SHELL_INSIDE,
            "--bind", str(self.box / "ctl"), "/ctl",
            "--ro-bind", str(self.box / "ctl" / "runs"), "/ctl/runs",
            "--bind", str(self.box / "out"), "/pfs/out",
            "--ro-bind", str(self.box / "inputs" / self.input_name), f"/pfs/{self.input_name}",
            "--unshare-all", "--as-pid-1", "--die-with-parent",
            # What the container runtime gives from the image's config: Env and WORKDIR.
            "--clearenv",
            "--setenv", "PATH", "/usr/bin:/bin",
            "--setenv", "IMAGE_VAR", "from-the-image",
            "--chdir", "/usr",
            SHELL_INSIDE, "sh", "-c", AGENT,
        ]  # fmt: skip
        self.proc = await asyncio.create_subprocess_exec(*args, start_new_session=True)

    async def kill(self) -> None:
        assert self.proc is not None
        self.proc.kill()
        await self.proc.wait()


@pytest.fixture
async def pod(tmp_path: Path) -> AsyncIterator[tuple[PodAgent, UserContainer]]:
    sidecar = PodAgent(tmp_path / "box", ["in"])
    user = UserContainer(tmp_path / "box")
    await user.start()
    try:
        yield sidecar, user
    finally:
        await sidecar.stop()
        if user.proc is not None and user.proc.returncode is None:
            await user.kill()


async def test_commands_run_in_the_containers_environment_and_working_dir(pod):
    sidecar, _ = pod
    (sidecar.input_dir("in") / "a.txt").write_text("A")
    ran = await sidecar.run(
        ["sh", "-c", 'pwd; echo "$IMAGE_VAR $SPEC_VAR"; cat /pfs/in/a.txt > /pfs/out/copy'],
        env={"SPEC_VAR": "from-the-spec"},
    )
    assert (ran.exit_code, ran.stdout_tail) == (0, "/usr\nfrom-the-image from-the-spec\n")
    assert (sidecar.out_dir / "copy").read_text() == "A"
    moved = await sidecar.run(["pwd"], working_dir="/pfs/out")
    assert moved.stdout_tail == "/pfs/out\n"
    missing = await sidecar.run(["no-such-tool"])
    assert missing.exit_code == 127 and "PATH=/usr/bin:/bin" in missing.stderr_tail


async def test_the_sidecar_may_start_first_and_the_agent_answers_when_it_comes(tmp_path):
    sidecar = PodAgent(tmp_path / "box", ["in"])
    user = UserContainer(tmp_path / "box")
    run = asyncio.ensure_future(sidecar.run(["echo", "late agent"]))
    await asyncio.sleep(0.5)
    assert not run.done()
    await user.start()
    try:
        result = await asyncio.wait_for(run, 30)
        assert (result.exit_code, result.stdout_tail) == (0, "late agent\n")
    finally:
        await sidecar.stop()
        await user.kill()


async def test_a_restarted_sidecar_waits_for_the_run_of_the_one_before(pod, tmp_path):
    first, _ = pod
    # The first sidecar hands over a run and dies (kill -9: it never reads the answer).
    slow = asyncio.ensure_future(
        first.run(["sh", "-c", "sleep 1.5; echo stale > /pfs/out/stale"], timeout_s=60)
    )
    await asyncio.sleep(0.5)
    slow.cancel()
    first._link.close()  # its file descriptors die with it; the agent keeps its own
    first._link = None
    second = PodAgent(tmp_path / "box", ["in"])
    try:
        for f in second.out_dir.iterdir():
            f.unlink()
        ran = await second.run(["sh", "-c", "ls /pfs/out; echo fresh > /pfs/out/fresh"])
        # Its first run waited for the stale one to end: nothing stale was left to confuse
        # it, and the stale run's folder was swept.
        assert ran.exit_code == 0
        ctl = tmp_path / "box" / "ctl"
        assert sorted(p.name for p in ctl.iterdir()) == ["in", "out", "runs"]
        assert not list((ctl / "runs").iterdir())
    finally:
        await second.stop()


async def test_an_agent_restart_fails_the_run_it_lost_and_the_next_run_goes_on(pod):
    sidecar, user = pod
    assert (await sidecar.run(["true"])).exit_code == 0
    lost = asyncio.ensure_future(sidecar.run(["sleep", "600"]))
    await asyncio.sleep(0.5)
    await user.kill()  # the container crashed: the kubelet starts it again
    await user.start()
    result = await asyncio.wait_for(lost, 30)
    assert result.exit_code is None and "the agent ended while the command ran" in (
        result.stderr_tail
    )
    again = await sidecar.run(["echo", "on"])
    assert (again.exit_code, again.stdout_tail) == (0, "on\n")


async def test_the_agent_enforces_the_timeout_and_sweeps_the_run(pod):
    sidecar, _ = pod
    stuck = await sidecar.run(["sh", "-c", "sleep 600 & sleep 600"], timeout_s=1)
    assert stuck.timed_out and stuck.exit_code is None and stuck.duration_s < 10
    left = await sidecar.run(["sh", "-c", "ps -e -o comm= | grep -c sleep"])
    assert left.stdout_tail == "0\n"


async def test_user_code_cannot_kill_the_agent_of_its_container(pod):
    sidecar, _ = pod
    tried = await sidecar.run(["sh", "-c", "kill -9 1; kill -9 -1; sleep 0.2; echo ran on"])
    # Process 1 of a PID namespace ignores signals it has no handler for, SIGKILL too, when
    # they come from inside: the run went on, and so does the agent.
    assert (tried.exit_code, tried.stdout_tail) == (0, "ran on\n")
    assert (await sidecar.run(["echo", "still here"])).stdout_tail == "still here\n"


@pytest.mark.slow
async def test_kill_9_of_a_pod_sidecar_mid_datum_the_agent_lives_on(stack, tmp_path):
    """A pipeline served as in a pod: the sidecar (``pachstream run worker --agent pod``, a
    process of its own) beside a user container's agent. The sidecar is killed with SIGKILL
    mid-job and started again, as the kubelet restarts a container: the agent it left keeps
    running, the new sidecar waits for the run in hand to end, every datum is done once in
    the output, and each output is what the command makes of its input."""
    import os
    import signal
    import subprocess
    import sys
    import time

    await stack.workers.stop()  # no local pool: this test is the pod
    c = stack.client
    await c.create_repo("raw")
    n = 120
    cid = await c.put_files("raw@master", ((f"/f{i:04d}", f"{i}\n".encode()) for i in range(n)))
    await c.create_pipeline(
        {
            "pipeline": {"name": "podded"},
            "transform": {
                "cmd": ["sh", "-c", 'sleep 0.05; sed s/^/x/ "$raw" > "/pfs/out/${raw##*/}"']
            },
            "input": {"pfs": {"repo": "raw", "glob": "/*"}},
        }
    )
    folder = tmp_path / "pod"
    (folder / "box" / "inputs" / "raw").mkdir(parents=True)
    (folder / "box" / "out").mkdir()
    (folder / "box" / "ctl").mkdir()
    user = UserContainer(folder / "box", "raw")
    await user.start()
    env = {**os.environ, **stack.settings.child_env()}
    cmd = [sys.executable, "-m", "pachstream", "run", "worker", "podded", "1", "0"]
    cmd += [str(folder), "--agent", "pod"]

    def sidecar() -> subprocess.Popen[bytes]:
        with open(folder / "sidecar.log", "ab") as log:
            return subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT)

    first = sidecar()
    second = None
    try:
        deadline = time.monotonic() + 120
        while True:
            jobs = await c.list_job("podded")
            if jobs and len(await c.list_datum(jobs[0].id)) >= 20:
                break
            assert first.poll() is None, (folder / "sidecar.log").read_text()[-2000:]
            assert time.monotonic() < deadline, "the job never got going"
            await asyncio.sleep(0.1)
        first.send_signal(signal.SIGKILL)
        first.wait()
        assert user.proc is not None and user.proc.returncode is None  # the agent lives on
        second = sidecar()
        done = {j.pipeline: j for j in await c.flush("raw", cid, timeout_s=300)}
        assert done["podded"].state == "success" and done["podded"].processed == n, done
        out = {f.path for f in await c.list_file("podded@master", "/")}
        assert out == {f"/f{i:04d}" for i in range(n)}
        for i in (0, 57, n - 1):
            assert await c.get_file("podded@master", f"/f{i:04d}") == f"x{i}\n".encode()
    finally:
        for proc in (first, second):
            if proc is not None and proc.poll() is None:
                proc.terminate()
                proc.wait(30)
        await user.kill()


async def test_attack_a_run_in_a_pod_cannot_queue_a_script_of_its_own(pod) -> None:
    sidecar, _ = pod
    await queue_a_script_of_its_own(sidecar)
