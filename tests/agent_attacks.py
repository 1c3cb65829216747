"""Attacks on the agent protocol that a local sandbox and a pod must both refuse.

Imported as ``from agent_attacks import ...`` (pytest puts ``tests/`` on the path, as for
``stack_cli``).
"""

from __future__ import annotations

from pachstream.worker.sandbox import AgentBox


async def queue_a_script_of_its_own(box: AgentBox) -> None:
    """/ctl and its FIFOs are writable from user code. A script it wrote under an id it made
    up and queued would run after its own run, beside the next datum's staging, and write into
    that datum's /pfs/out. The agent runs only scripts under /ctl/runs, read-only inside.
    """
    forged = "echo forged > /pfs/out/forged; echo ran > /tmp/evil"
    attack = await box.run(
        [
            "sh",
            "-c",
            "mkdir /ctl/evil; "
            f"echo '{forged}' > /ctl/evil/cmd.sh; "
            f"mkdir /ctl/runs/evil 2>/dev/null && echo '{forged}' > /ctl/runs/evil/cmd.sh; "
            "touch /ctl/runs/x 2>/dev/null && echo wrote-runs; "
            'echo "evil k" > /ctl/in',
        ]
    )
    assert attack.exit_code == 0
    assert "wrote-runs" not in attack.stdout_tail  # the scripts' folder is read-only inside
    after = await box.run(["sh", "-c", "sleep 0.5; ls /pfs/out; cat /tmp/evil; true"])
    assert after.exit_code == 0
    assert after.stdout_tail.split() == [], after.stdout_tail  # neither file: it never ran
    assert not (box.out_dir / "forged").exists()
