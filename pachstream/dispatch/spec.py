"""Pipeline specs in Pachyderm's format (JSON or YAML), parsed and validated. Pure.

Every problem is found at create time and named by its field path, with what to do instead:
unsupported fields (never silently ignored), a missing ``cmd``, a glob that does not compile,
two inputs of the same name, a join side without ``join_on``, a group side without
``group_by``, an input repo that does not exist.

One file may hold several pipelines: YAML documents separated by ``---``, a JSON array, or
JSON objects one after the other (as ``pachctl create pipeline -f`` accepts).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass, field
from typing import Any, Literal

import yaml

from pachstream.dispatch.datums import (
    CrossInput,
    GroupInput,
    Input,
    JoinInput,
    PfsInput,
    UnionInput,
)
from pachstream.errors import InvalidInput, InvalidName, InvalidSpec
from pachstream.glob import compile_glob
from pachstream.names import validate_branch_name, validate_repo_name

# Pachyderm fields pachstream does not run, each with what to do instead.
UNSUPPORTED: dict[str, str] = {
    "spout": "produce records to an ingest topic instead",
    "service": "run services outside pachstream",
    "cron": "put files on a schedule from outside (a cron job running 'pachstream put file')",
    "git": "mirror the repository with 'pachstream put file' instead",
    "s3_out": "workers write /pfs/out; read outputs through the S3 gateway",
    "egress": "read outputs with 'pachstream get file' or the S3 gateway",
    "autoscaling": "set parallelism_spec.constant",
    "standby": "remove it: workers wait for work without it",
    "spec_commit": "remove it",
    "resource_requests": "remove it: local workers do not reserve resources",
    "resource_limits": "remove it: local workers do not enforce resource limits",
    "sidecar_resource_limits": "remove it",
    "scheduling_spec": "remove it",
    "pod_spec": "remove it",
    "pod_patch": "remove it",
    "tolerations": "remove it",
    "datum_set_spec": "remove it: datums are sharded per datum",
    "sidecar_resource_requests": "remove it",
    "metadata": "remove it",
    "lazy": "remove it: inputs are staged before the command runs",
    "output_branch": "remove it: outputs go to the output repo's master",
    "user": "remove it: commands run as the worker's sandbox user",
}
TOP_FIELDS = {
    "pipeline", "description", "transform", "input", "parallelism_spec", "datum_tries",
    "reprocess_spec", "datum_timeout",
}  # fmt: skip
TRANSFORM_FIELDS = {"cmd", "stdin", "env", "image", "working_dir", "err_cmd", "err_stdin"}
PFS_FIELDS = {"repo", "branch", "glob", "name", "join_on", "group_by", "outer_join", "empty_files"}


@dataclass(frozen=True, slots=True)
class Transform:
    """What runs for each datum."""

    cmd: tuple[str, ...]
    """The command and its arguments."""
    stdin: tuple[str, ...] = ()
    """Lines fed to the command's standard input."""
    env: tuple[tuple[str, str], ...] = ()
    """Environment variables, sorted by name."""
    image: str | None = None
    """Container image (Kubernetes workers); local workers run the command directly."""
    working_dir: str | None = None
    """Working directory of the command."""
    err_cmd: tuple[str, ...] = ()
    """Run when a datum fails; exit 0 marks the datum recovered."""
    err_stdin: tuple[str, ...] = ()
    """Standard input of ``err_cmd``."""


@dataclass(frozen=True, slots=True)
class PipelineSpec:
    """A validated pipeline."""

    name: str
    """Pipeline name, also its output repo."""
    transform: Transform
    """The user code."""
    input: Input
    """Where datums come from."""
    description: str = ""
    """Free text."""
    parallelism: int = 1
    """Workers (``parallelism_spec.constant``)."""
    datum_tries: int = 3
    """Attempts per datum before it fails."""
    reprocess: Literal["until_success", "every_job"] = "until_success"
    """``every_job`` runs every datum of every job."""
    datum_timeout_s: float | None = None
    """Seconds a datum may run (``datum_timeout``, e.g. ``"30s"``)."""
    raw: dict[str, Any] = field(default_factory=dict, compare=False)
    """The spec as given, for display and history."""

    def repos(self) -> list[tuple[str, str]]:
        """(repo, branch) of every pfs input."""
        return [(p.repo, p.branch) for p in _pfs_inputs(self.input)]


def _pfs_inputs(spec: Input) -> Iterator[PfsInput]:
    if isinstance(spec, PfsInput):
        yield spec
    else:
        for sub in spec.inputs:
            yield from _pfs_inputs(sub)


def load_documents(text: str) -> list[dict[str, Any]]:
    """The pipeline objects in a JSON or YAML file (one or several)."""
    stripped = text.lstrip()
    if not stripped:
        raise InvalidSpec("the pipeline file is empty; write a spec with 'pipeline', 'transform' and 'input'")
    docs: list[Any] = []
    if stripped[0] in "[{":
        decoder = json.JSONDecoder()
        pos = 0
        try:
            while pos < len(stripped):
                obj, end = decoder.raw_decode(stripped, pos)
                docs.extend(obj if isinstance(obj, list) else [obj])
                pos = end
                while pos < len(stripped) and stripped[pos].isspace():
                    pos += 1
        except json.JSONDecodeError as exc:
            raise InvalidSpec(f"the pipeline file is not valid JSON: {exc}") from exc
    else:
        try:
            docs = [d for d in yaml.safe_load_all(text) if d is not None]
        except yaml.YAMLError as exc:
            raise InvalidSpec(f"the pipeline file is not valid YAML: {exc}") from exc
    for i, d in enumerate(docs):
        if not isinstance(d, dict):
            raise InvalidSpec(f"document {i + 1} of the pipeline file is a {type(d).__name__}, not an object")
    return docs


def parse_specs(text: str, known_repos: Callable[[str], bool] | None = None) -> list[PipelineSpec]:
    """Parse and validate every pipeline of a file; ``known_repos`` checks input repos exist."""
    specs = [parse_spec(d, known_repos) for d in load_documents(text)]
    # Pipelines of one file may read each other's output repos.
    names = [s.name for s in specs]
    if len(set(names)) != len(names):
        dup = next(n for n in names if names.count(n) > 1)
        raise InvalidSpec(f"pipeline '{dup}' is defined twice in the file; give each pipeline its own name", pipeline=dup)
    return specs


def _fail(pipeline: str, path: str, problem: str) -> InvalidSpec:
    return InvalidSpec(f"pipeline '{pipeline}': {path} {problem}", pipeline=pipeline, field=path)


def _reject_unknown(pipeline: str, where: str, obj: dict[str, Any], allowed: Collection[str]) -> None:
    for key in obj:
        if key in allowed:
            continue
        path = f"{where}.{key}" if where else key
        hint = UNSUPPORTED.get(key)
        if hint:
            raise _fail(pipeline, f"field '{path}'", f"is not supported; {hint}")
        raise _fail(pipeline, f"field '{path}'", f"is unknown; allowed here: {', '.join(sorted(allowed))}")


def _strings(pipeline: str, path: str, value: Any, required: bool = False) -> tuple[str, ...]:
    if value is None:
        value = []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise _fail(pipeline, f"'{path}'", f"must be a list of strings, not {value!r:.60}")
    if required and not value:
        raise _fail(pipeline, f"'{path}'", "is missing or empty; give the command to run, e.g. [\"sh\"]")
    return tuple(value)


def parse_spec(raw: dict[str, Any], known_repos: Callable[[str], bool] | None = None) -> PipelineSpec:
    """Validate one pipeline object."""
    pipeline_obj = raw.get("pipeline")
    name = pipeline_obj.get("name") if isinstance(pipeline_obj, dict) else None
    if not isinstance(name, str) or not name:
        raise InvalidSpec("a pipeline spec needs 'pipeline': {'name': ...}")
    try:
        validate_repo_name(name)
    except InvalidName as exc:
        raise _fail(name, "'pipeline.name'", exc.message) from exc
    _reject_unknown(name, "", raw, TOP_FIELDS)
    _reject_unknown(name, "pipeline", pipeline_obj, {"name", "project"})
    t = raw.get("transform")
    if not isinstance(t, dict):
        raise _fail(name, "'transform'", "is missing; give transform.cmd")
    _reject_unknown(name, "transform", t, TRANSFORM_FIELDS)
    env = t.get("env") or {}
    if not isinstance(env, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in env.items()):
        raise _fail(name, "'transform.env'", "must map names to string values")
    transform = Transform(
        cmd=_strings(name, "transform.cmd", t.get("cmd"), required=True),
        stdin=_strings(name, "transform.stdin", t.get("stdin")),
        env=tuple(sorted(env.items())),
        image=t.get("image"),
        working_dir=t.get("working_dir"),
        err_cmd=_strings(name, "transform.err_cmd", t.get("err_cmd")),
        err_stdin=_strings(name, "transform.err_stdin", t.get("err_stdin")),
    )
    if "input" not in raw:
        raise _fail(name, "'input'", "is missing; give a pfs, cross, union, join or group input")
    spec_input = _input(name, "input", raw["input"], known_repos)
    names = [p.name for p in _pfs_inputs(spec_input)]
    for n in names:
        if names.count(n) > 1:
            raise _fail(name, f"input name '{n}'", "is used twice; set a distinct 'name' on each pfs input")
    if name in [p.repo for p in _pfs_inputs(spec_input)]:
        raise _fail(name, "'input'", "reads the pipeline's own output repo; a pipeline cannot be its own input")
    par = raw.get("parallelism_spec") or {}
    if not isinstance(par, dict):
        raise _fail(name, "'parallelism_spec'", "must be an object like {\"constant\": 4}")
    _reject_unknown(name, "parallelism_spec", par, {"constant"})
    parallelism = par.get("constant", 1)
    if not isinstance(parallelism, int) or isinstance(parallelism, bool) or not 1 <= parallelism <= 256:
        raise _fail(name, "'parallelism_spec.constant'", f"must be a whole number from 1 to 256, not {parallelism!r}")
    tries = raw.get("datum_tries", 3)
    if not isinstance(tries, int) or isinstance(tries, bool) or not 1 <= tries <= 100:
        raise _fail(name, "'datum_tries'", f"must be a whole number from 1 to 100, not {tries!r}")
    reprocess = (raw.get("reprocess_spec") or "until_success")
    if reprocess not in ("until_success", "every_job"):
        raise _fail(name, "'reprocess_spec'", f"must be 'until_success' or 'every_job', not {reprocess!r}")
    return PipelineSpec(
        name=name,
        transform=transform,
        input=spec_input,
        description=str(raw.get("description") or ""),
        parallelism=parallelism,
        datum_tries=tries,
        reprocess=reprocess,
        datum_timeout_s=_duration(name, raw.get("datum_timeout")),
        raw=raw,
    )


def _duration(pipeline: str, value: Any) -> float | None:
    if value is None:
        return None
    units = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}
    if isinstance(value, str):
        for unit in sorted(units, key=len, reverse=True):
            number = value[: -len(unit)]
            if value.endswith(unit) and number.replace(".", "", 1).isdigit():
                return float(number) * units[unit]
    raise _fail(pipeline, "'datum_timeout'", f"must be a duration like \"30s\" or \"5m\", not {value!r}")


def _input(pipeline: str, path: str, raw: Any, known_repos: Callable[[str], bool] | None) -> Input:
    if not isinstance(raw, dict) or len(raw) != 1:
        raise _fail(pipeline, f"'{path}'", "must have exactly one of pfs, cross, union, join, group")
    ((kind, body),) = raw.items()
    where = f"{path}.{kind}"
    if kind == "pfs":
        return _pfs(pipeline, where, body, known_repos)
    if kind in ("cross", "union", "join", "group"):
        if not isinstance(body, list) or not body:
            raise _fail(pipeline, f"'{where}'", "must be a non-empty list of inputs")
        subs = tuple(_input(pipeline, f"{where}[{i}]", b, known_repos) for i, b in enumerate(body))
        # Every pfs input under a join (group) side needs the key that pairs its datums.
        key = {"join": "join_on", "group": "group_by"}.get(kind)
        for i, sub in enumerate(subs if key else ()):
            for p in _pfs_inputs(sub):
                if not getattr(p, key):  # type: ignore[arg-type]
                    raise _fail(pipeline, f"'{where}[{i}]' (input '{p.name}')", f"has no {key}; give a template like \"$1\"")
        kinds: dict[str, type[CrossInput | UnionInput | JoinInput | GroupInput]] = {
            "cross": CrossInput, "union": UnionInput, "join": JoinInput, "group": GroupInput,
        }  # fmt: skip
        return kinds[kind](subs)
    hint = UNSUPPORTED.get(kind)
    if hint:
        raise _fail(pipeline, f"input kind '{where}'", f"is not supported; {hint}")
    raise _fail(pipeline, f"input kind '{where}'", "is unknown; use pfs, cross, union, join or group")


def _pfs(pipeline: str, where: str, body: Any, known_repos: Callable[[str], bool] | None) -> PfsInput:
    if not isinstance(body, dict):
        raise _fail(pipeline, f"'{where}'", "must be an object with repo and glob")
    _reject_unknown(pipeline, where, body, PFS_FIELDS)
    repo, glob = body.get("repo"), body.get("glob")
    if not isinstance(repo, str) or not repo:
        raise _fail(pipeline, f"'{where}.repo'", "is missing")
    if not isinstance(glob, str) or not glob:
        raise _fail(pipeline, f"'{where}.glob'", "is missing; '/' makes one datum, '/*' one per top-level entry")
    try:
        validate_repo_name(repo)
        compile_glob(glob)
        branch = validate_branch_name(body.get("branch") or "master")
    except InvalidInput as exc:
        raise _fail(pipeline, f"'{where}'", exc.message) from exc
    if known_repos is not None and not known_repos(repo):
        raise _fail(pipeline, f"'{where}.repo'", f"names repo '{repo}', which does not exist; create it first")
    name = body.get("name") or repo
    try:
        validate_repo_name(name)
    except InvalidName as exc:
        raise _fail(pipeline, f"'{where}.name'", exc.message) from exc
    for key in ("join_on", "group_by"):
        if not isinstance(body.get(key, ""), str):
            raise _fail(pipeline, f"'{where}.{key}'", "must be a string template like \"$1\"")
    return PfsInput(
        name=name,
        repo=repo,
        glob=glob,
        branch=branch,
        join_on=body.get("join_on", ""),
        group_by=body.get("group_by", ""),
        outer_join=bool(body.get("outer_join", False)),
        empty_files=bool(body.get("empty_files", False)),
    )
