"""``deploy render``: the Kubernetes objects of the control plane, for your servers."""

from __future__ import annotations

from pathlib import Path

import typer

from pachstream.cli._app import deploy_app


@deploy_app.command("render")
def render(
    namespace: str | None = typer.Option(
        None, "--namespace", "-n", help="Set on every object (default: none, as kubectl -n)."
    ),
    image: str = typer.Option(
        "pachstream:0.1.0", "--image", help="The pachstream image (built by deploy/Dockerfile)."
    ),
    openlineage: bool = typer.Option(
        False, "--openlineage", help="Also deploy the OpenLineage exporter."
    ),
    out: Path | None = typer.Option(
        None, "--out", help="Write a kustomize base into this folder instead of printing."
    ),
) -> None:
    """Print every object (ConfigMap, Secret, Deployments, Service, the workers' RBAC)."""
    from pachstream import deploy
    from pachstream.stack import PROCESSORS

    processors = (*PROCESSORS, "openlineage") if openlineage else PROCESSORS
    if out is not None:
        if namespace is not None or openlineage:
            typer.echo(
                "error: --out writes the base, which names no namespace and no exporter; "
                "set those in a kustomize overlay, or print with --namespace/--openlineage",
                err=True,
            )
            raise typer.Exit(1)
        out.mkdir(parents=True, exist_ok=True)
        for name, text in deploy.base_files(image).items():
            (out / name).write_text(text)
            typer.echo(str(out / name))
        return
    files = deploy.render(namespace=namespace, image=image, processors=processors)
    typer.echo("---\n".join(deploy.to_yaml(objects) for objects in files.values()), nl=False)
