"""The local image store: ``image load``, ``list image``, ``delete image``.

These read and write files under ``$PACHSTREAM_IMAGES`` (default ``$PACHSTREAM_HOME/images``)
only: no stack needs to run. :mod:`pachstream.images` is imported when a command runs, so
``--help`` stays light.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.table import Table

from pachstream.cli._app import delete_app, image_app, list_app
from pachstream.cli._output import JSON, _print_json, _size, out

if TYPE_CHECKING:
    from pachstream.images import Image, ImageStore


def _store() -> ImageStore:
    from pachstream.images import ImageStore
    from pachstream.settings import Settings

    return ImageStore(Settings.from_env(stack_file=False).images_dir)


def _short(image: Image) -> str:
    return image.id.removeprefix("sha256:")[:12]


@image_app.command("load")
def load_image(
    file: Path = typer.Argument(
        ..., help="A 'docker save' / 'podman save' tar or an OCI archive (gzip'd too)."
    ),
    names: list[str] = typer.Option(
        [], "--name", "-n", help="Also name the loaded image(s) so (repeatable)."
    ),
) -> None:
    """Load the images of an archive into the local image store, verifying every blob.

    Pipelines whose ``transform.image`` names one of them then run in it, with no
    registry and no daemon.
    """
    for image in _store().load(file, names=names):
        named = ", ".join(image.names) or "no name (use --name, or its id)"
        out.print(
            f"loaded {named} ({image.id[:19]}, {_size(image.size)})",
            highlight=False,
            soft_wrap=True,
        )


@list_app.command("image")
def list_image(as_json: bool = JSON) -> None:
    """List the images of the local image store: name, id, size, created."""
    images = _store().images()
    if as_json:
        return _print_json(
            [
                {"names": list(i.names), "id": i.id, "size": i.size, "created": i.created}
                for i in images
            ]
        )
    table = Table("NAME", "ID", "SIZE", "CREATED", box=None)
    for image in images:
        for name in image.names or ("<none>",):
            table.add_row(name, _short(image), _size(image.size), image.created or "-")
    out.print(table)


@delete_app.command("image")
def delete_image(
    name: str = typer.Argument(..., help="A name as loaded or typed ('busybox'), or an id."),
) -> None:
    """Remove an image's name; its data goes when no other name points at it."""
    gone = _store().delete(name)
    what = ", ".join(gone.names) or gone.image.id
    if gone.data:
        out.print(f"deleted {what} ({gone.image.id[:19]})", highlight=False, soft_wrap=True)
    else:
        still = ", ".join(n for n in gone.image.names if n not in gone.names)
        out.print(f"untagged {what}; the image stays as {still}", highlight=False, soft_wrap=True)
