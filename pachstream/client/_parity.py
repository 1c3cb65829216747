"""The verbs a ``pachctl`` user reaches for beyond the basics, in one mixin of
:class:`~pachstream.client.Client`: files from URLs, copy, download (``_files``); commits as
they land, the commits that changed a file, following logs (``_history``); extract and
restore (``_backup``); and the pipeline DAG (``_dag``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pachstream.client._backup import BackupVerbs
from pachstream.client._files import FileVerbs
from pachstream.client._history import HistoryVerbs

if TYPE_CHECKING:
    from pachstream.client._dag import Dag
    from pachstream.client._info import PipelineInfo, RepoInfo


class ParityVerbs(FileVerbs, HistoryVerbs, BackupVerbs):
    """put_url, copy_file, download, subscribe_commit, find_commit, follow_logs, extract,
    restore, pipeline_dag.
    """

    if TYPE_CHECKING:

        async def list_repo(self) -> list[RepoInfo]: ...

        async def list_pipeline(self) -> list[PipelineInfo]: ...

    async def pipeline_dag(self) -> Dag:
        """Repos and pipelines with their input edges (``draw pipeline``)."""
        from pachstream.client._dag import build_dag
        from pachstream.dispatch.spec import parse_spec
        from pachstream.errors import PachstreamError

        pipelines = []
        for p in await self.list_pipeline():
            try:
                inputs = parse_spec(p.spec).repos()
            except PachstreamError:
                inputs = []  # a spec this version refuses: drawn without its edges
            pipelines.append((p.name, p.state, inputs))
        return build_dag([r.name for r in await self.list_repo()], pipelines)


__all__ = ["ParityVerbs"]
