"""History changes and stopping a job: ``delete commit``, ``squash commit``, ``stop job``."""

from __future__ import annotations

import typer

from pachstream.cli._app import delete_app, squash_app, stop_app
from pachstream.cli._output import _call, out

COMMIT_REF = typer.Argument(
    ..., metavar="REPO@COMMIT", help="A commit id, a branch, or repo@commitset."
)


@delete_app.command("commit")
def delete_commit(commit_ref: str = COMMIT_REF) -> None:
    """Delete a commit that has no children: an open one is dropped with its writes; a
    finished one's branches go back to its parent, and pipelines reading them run again.
    """
    info = _call(lambda c: c.delete_commit(commit_ref))
    where = f"{info.repo}@{info.branch}"
    now = info.parent or "no commit"
    out.print(f"deleted commit {info.id} of {info.repo}; {where} is now {now}", highlight=False)


@squash_app.command("commit")
def squash_commit(commit_ref: str = COMMIT_REF) -> None:
    """Take a finished commit with children out of history: its data stays in its children,
    which now follow its parent.
    """
    info = _call(lambda c: c.squash_commit(commit_ref))
    parent = info.parent or "no parent"
    out.print(
        f"squashed commit {info.id} of {info.repo}; its children now follow {parent}",
        highlight=False,
    )


@stop_app.command("job")
def stop_job(job: str) -> None:
    """Kill a running job: it ends 'killed' and writes no output; later commits run."""
    _call(lambda c: c.stop_job(job))
    out.print(f"stopped job {job}", highlight=False)
