"""A run's control files: in memory, never followed through links, never replayed."""

from __future__ import annotations

import os
from pathlib import Path

from agent_attacks import queue_a_script_of_its_own

from pachstream.worker.sandbox import MEMORY_DIR, Sandbox, memory_folders

# The run's own output folder: the only folder in /ctl while it runs, beside the scripts'.
OWN_RUN = "d=$(ls -d /ctl/*/ | grep -v '^/ctl/runs/$'); d=${d%/}"


async def test_the_working_folders_live_in_memory_privately_and_go_at_stop(sandbox):
    mine = MEMORY_DIR / f"pachstream-{os.getuid()}"
    room = os.statvfs(mine)
    # Inputs and outputs only where the memory folder has room for them (not Docker's 64 MiB).
    chosen = sorted(memory_folders(room.f_blocks * room.f_frsize))
    targets = {}
    for name in ("ctl", "inputs", "out"):
        link = sandbox.root / name
        if name not in chosen:
            assert link.is_dir() and not link.is_symlink(), name
            continue
        assert link.is_symlink(), name
        targets[name] = Path(os.readlink(link))
        assert targets[name].parent == mine, (name, targets[name])
    assert len(set(targets.values())) == len(chosen)
    assert mine.stat().st_mode & 0o777 == 0o700
    target = targets["ctl"]
    ran = await sandbox.run(["sh", "-c", "echo hi; ls /ctl; echo made > /pfs/out/o"])
    assert (ran.exit_code, ran.stdout_tail.split()[0]) == (0, "hi")
    # What the command wrote is where the worker reads it.
    assert (sandbox.out_dir / "o").read_text() == "made\n"
    assert sandbox.out_dir == targets.get("out", sandbox.root / "out")
    # The run's folders are gone once it is answered: only the FIFOs and the scripts' folder.
    assert sorted(p.name for p in target.iterdir()) == ["in", "out", "runs"]
    assert not list((target / "runs").iterdir())
    await sandbox.stop()
    assert not any(t.exists() for t in targets.values())
    # Started again, the sandbox makes its folders again behind the same links, inputs too.
    assert (await sandbox.run(["sh", "-c", "ls -d /pfs/*/ && touch /pfs/out/x"])).exit_code == 0
    assert all(t.is_dir() for t in targets.values())
    inputs = targets.get("inputs", sandbox.root / "inputs")
    assert sorted(p.name for p in inputs.iterdir()) == sandbox.input_names


async def test_a_control_folder_made_before_is_kept_on_disk(tmp_path):
    (tmp_path / "box" / "ctl").mkdir(parents=True)
    (tmp_path / "box" / "ctl" / "marker").write_text("kept")
    box = Sandbox(tmp_path / "box", ["in"])
    try:
        seen = await box.run(["cat", "/ctl/marker"])
        assert (seen.exit_code, seen.stdout_tail) == (0, "kept")
        assert not (tmp_path / "box" / "ctl").is_symlink()
    finally:
        await box.stop()


async def test_attack_a_run_cannot_read_worker_files_by_swapping_its_output_for_a_link(
    sandbox, tmp_path
):
    # The link's target is resolved by the worker, on the host: it must never be followed.
    secret = tmp_path / "secret"
    secret.write_text("worker-only")
    result = await sandbox.run(
        [
            "sh",
            "-c",
            f"{OWN_RUN}; echo out; echo err >&2; "
            f"rm $d/stdout $d/stderr; ln -s {secret} $d/stdout; ln -s {secret} $d/stderr",
        ]
    )
    assert result.exit_code == 0
    assert "worker-only" not in result.stdout_tail + result.stderr_tail


async def test_attack_a_run_cannot_have_itself_replayed_beside_the_next_datum(sandbox):
    # The code hands its own id back to the agent: a replay would run it again, after the
    # answer, while the worker stages the next datum.
    first = await sandbox.run(
        ["sh", "-c", f'{OWN_RUN}; echo x >> /tmp/ran; echo "${{d#/ctl/}} k" > /ctl/in']
    )
    assert first.exit_code == 0
    second = await sandbox.run(["sh", "-c", "sleep 0.5; wc -l < /tmp/ran"])
    assert second.stdout_tail.strip() == "1"


async def test_status_comes_from_the_agent_not_from_files_the_code_writes(sandbox):
    forged = await sandbox.run(
        ["sh", "-c", f"{OWN_RUN}; echo 0 > $d/exit; : > $d/timedout; exit 5"], timeout_s=30
    )
    assert (forged.exit_code, forged.timed_out) == (5, False)
    late = await sandbox.run(["sh", "-c", "sleep 30"], timeout_s=0.5)
    assert (late.exit_code, late.timed_out) == (None, True) and late.duration_s < 10


async def test_attack_a_run_cannot_queue_a_script_of_its_own_for_the_next_datum(sandbox):
    await queue_a_script_of_its_own(sandbox)
