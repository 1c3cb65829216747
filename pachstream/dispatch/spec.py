"""Pipeline specs in Pachyderm's format (JSON or YAML), parsed and validated. Pure.

A spec is read as Pachyderm's ``protojson`` decoder reads a ``CreatePipelineRequest``
(``src/pps/pps.proto``): every field may be written with its proto name (``join_on``) or its
JSON name (``joinOn``), once; ``null`` is the same as leaving the field out; a field set to
its zero value (``false``, ``""``, ``0``, ``[]``, ``{}``) is the same as absent, so
``datum_tries: 0`` means 3 and ``parallelism_spec.constant: 0`` means 1 (Pachyderm's
``setPipelineDefaults`` and ``getExpectedNumWorkers``); types are strict (``"false"`` is
not a bool). Decoding normalizes every name to snake_case once, so the checks and every
message name fields by their snake_case path.

Every problem is found at create time and named by its field path, with what to do instead:
unsupported fields set to anything but their default (never silently ignored), a missing
``cmd``, a glob that does not compile, an input name used twice outside a union, a join
side without ``join_on``, a group side without ``group_by``, an input repo that does not
exist, a project other than ``default``.

One file may hold several pipelines: YAML documents separated by ``---``, a JSON array, or
JSON objects one after the other, with or without ``---`` between them (as
``pachctl create pipeline -f`` accepts).
"""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Literal, TypeAlias

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
from pachstream.glob import check_template, compile_glob
from pachstream.names import validate_branch_name, validate_repo_name

# What to do instead of each Pachyderm field pachstream does not run. Such a field is accepted
# only when null or at its default value (or a value in _ACCEPTED), as if absent.
UNSUPPORTED: dict[str, str] = {
    "spout": "produce records to an ingest topic instead",
    "service": "run services outside pachstream",
    "cron": "put files on a schedule from outside (a cron job running 'pachstream put file')",
    "s3_out": "workers write /pfs/out; read outputs through the S3 gateway",
    "egress": "read outputs with 'pachstream get file' or the S3 gateway",
    "tf_job": "remove it: Pachyderm does not run TFJobs either",
    "determined": "remove it",
    "update": "run 'pachstream update pipeline' instead",
    "reprocess": "run 'pachstream update pipeline --reprocess' instead",
    "dry_run": "remove it",
    "standby": "set 'autoscaling: true' instead (its name in Pachyderm 2)",
    "spec_commit": "remove it",
    "salt": "remove it: pachstream salts datums itself and changes the salt on --reprocess",
    "job_timeout": "remove it; datum_timeout bounds each datum",
    "maximum_expected_uptime": "remove it",
    "gpu": "remove it: workers are not given GPUs",
    "sidecar_resource_limits": "remove it",
    "sidecar_resource_requests": "remove it",
    "priority_class_name": "remove it: worker pods use the namespace's default priority",
    "pod_spec": "remove it",
    "pod_patch": "remove it",
    "tolerations": "remove it",
    "datum_set_spec": "remove it: datums are sharded per datum",
    "metadata": "remove it",
    "output_branch": "remove it: outputs go to the output repo's master",
    "secrets": "pass values through transform.env instead",
    "image_pull_secrets": "remove it: local workers pull no images",
    "accept_return_code": "exit 0 on success, or handle the failure in transform.err_cmd",
    "debug": "remove it",
    "user": "remove it: commands run as the worker's sandbox user",
    "dockerfile": "remove it",
    "memory_volume": "remove it",
    "datum_batching": "remove it: each datum runs the command once",
    "repo_type": "remove it: inputs read user repos",
    "commit": "read a branch whose head is that commit (as Pachyderm asks too)",
    "lazy": "remove it: inputs are staged before the command runs",
    "s3": "read the input from /pfs/<name>, or through the S3 gateway",
    "trigger": "remove it: every commit to the input branch starts a job",
    "propagation_spec": "remove it: every commit to the input branch starts a job",
    "reference": "remove it",
    "project": "pachstream has one project; remove the project or use 'default'",
}

# The decoder's schema, after pps.proto (pfs.proto for Project, PropagationSpec). A kind is a
# scalar name, or ("message", M) / ("messages", M) for a nested (repeated) message. "opaque"
# is a message pachstream never reads, so any value but null counts as set; "list" likewise.
Kind: TypeAlias = "str | tuple[str, str]"
_MESSAGES: dict[str, dict[str, Kind]] = {
    "CreatePipelineRequest": {
        "pipeline": ("message", "Pipeline"), "tf_job": "opaque",
        "transform": ("message", "Transform"), "parallelism_spec": ("message", "ParallelismSpec"),
        "egress": "opaque", "update": "bool", "output_branch": "string", "s3_out": "bool",
        "resource_requests": ("message", "ResourceSpec"),
        "resource_limits": ("message", "ResourceSpec"),
        "sidecar_resource_limits": ("message", "ResourceSpec"),
        "input": ("message", "Input"), "description": "string", "reprocess": "bool",
        "service": "opaque", "spout": "opaque", "datum_set_spec": ("message", "DatumSetSpec"),
        "datum_timeout": "duration", "job_timeout": "duration", "salt": "string",
        "datum_tries": "int", "scheduling_spec": ("message", "SchedulingSpec"),
        "pod_spec": "string", "pod_patch": "string", "spec_commit": "opaque",
        "metadata": ("message", "Metadata"), "reprocess_spec": "string", "autoscaling": "bool",
        "tolerations": "list", "sidecar_resource_requests": ("message", "ResourceSpec"),
        "dry_run": "bool", "determined": "opaque", "maximum_expected_uptime": "duration",
        # Pachyderm 1.x; not in pps.proto any more (2.x refuses it as unknown).
        "standby": "bool",
    },
    "Pipeline": {"name": "string", "project": ("message", "Project")},
    "Project": {"name": "string"},
    "Transform": {
        "image": "string", "cmd": "strings", "err_cmd": "strings", "env": "map",
        "secrets": "list", "image_pull_secrets": "strings", "stdin": "strings",
        "err_stdin": "strings", "accept_return_code": "ints", "debug": "bool", "user": "string",
        "working_dir": "string", "dockerfile": "string", "memory_volume": "bool",
        "datum_batching": "bool",
    },
    "ParallelismSpec": {"constant": "uint"},
    "Input": {
        "pfs": ("message", "PFSInput"), "join": ("messages", "Input"),
        "group": ("messages", "Input"), "cross": ("messages", "Input"),
        "union": ("messages", "Input"), "cron": "opaque",
    },
    "PFSInput": {
        "project": "string", "name": "string", "repo": "string", "repo_type": "string",
        "branch": "string", "commit": "string", "glob": "string", "join_on": "string",
        "outer_join": "bool", "group_by": "string", "lazy": "bool", "empty_files": "bool",
        "s3": "bool", "trigger": "opaque", "propagation_spec": ("message", "PropagationSpec"),
        "reference": "bool",
    },
    "PropagationSpec": {"never": "bool"},
    "ResourceSpec": {
        "cpu": "float", "memory": "string", "gpu": ("message", "GPUSpec"), "disk": "string",
    },
    "GPUSpec": {"type": "string", "number": "int"},
    "DatumSetSpec": {"number": "int", "size_bytes": "int", "per_worker": "int"},
    "SchedulingSpec": {"node_selector": "map", "priority_class_name": "string"},
    "Metadata": {"annotations": "map", "labels": "map"},
}  # fmt: skip
# Fields pachstream runs; every other field of these messages is judged by UNSUPPORTED.
SUPPORTED: dict[str, set[str]] = {
    "CreatePipelineRequest": {
        "pipeline", "description", "transform", "input", "parallelism_spec", "datum_tries",
        "reprocess_spec", "datum_timeout", "resource_requests", "resource_limits",
        "scheduling_spec", "autoscaling",
    },
    "Pipeline": {"name", "project"},
    "Transform": {"cmd", "stdin", "env", "image", "working_dir", "err_cmd", "err_stdin"},
    "ParallelismSpec": {"constant"},
    "ResourceSpec": {"cpu", "memory", "disk"},
    "SchedulingSpec": {"node_selector"},
    "Input": {"pfs", "join", "group", "cross", "union"},
    "PFSInput": {
        "project", "repo", "branch", "glob", "name", "join_on", "group_by", "outer_join",
        "empty_files",
    },
}  # fmt: skip
# Unsupported fields that are accepted with these values besides their zero value, because
# Pachyderm fills them in by default (setPipelineDefaults, setInputDefaults).
_ACCEPTED: dict[str, tuple[object, ...]] = {"output_branch": ("master",), "repo_type": ("user",)}
# Messages that Pachyderm treats like absent when all their fields are zero (resource specs
# then reserve nothing); any other message is "set" as soon as it is given, even as {}.
_EMPTY_IS_ABSENT = {"ResourceSpec", "GPUSpec", "DatumSetSpec", "SchedulingSpec", "Metadata",
                    "PropagationSpec", "Project"}  # fmt: skip
# Pachyderm's yamlToJSON drops this key from every mapping (editors add it).
_SCHEMA_KEY = "$schema"


def json_name(proto_name: str) -> str:
    """Return the JSON name protoc gives a proto field: lowerCamel, ``join_on`` → ``joinOn``."""
    head, *rest = proto_name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


@dataclass(frozen=True, slots=True)
class Transform:
    """What runs for each datum."""

    cmd: tuple[str, ...]
    """The command and its arguments; empty only with an ``image``, whose Entrypoint and Cmd
    run then (as Pachyderm does)."""
    stdin: tuple[str, ...] = ()
    """Lines fed to the command's standard input."""
    env: tuple[tuple[str, str], ...] = ()
    """Environment variables, sorted by name."""
    image: str | None = None
    """Container image the command runs in (:mod:`pachstream.images`); None: the host's own
    system, read-only, in the sandbox."""
    working_dir: str | None = None
    """Working directory of the command."""
    err_cmd: tuple[str, ...] = ()
    """Run when a datum fails; exit 0 marks the datum recovered."""
    err_stdin: tuple[str, ...] = ()
    """Standard input of ``err_cmd``."""


@dataclass(frozen=True, slots=True)
class Resources:
    """What a worker's user container asks for (``resource_requests``) or may use at most
    (``resource_limits``). Only the Kubernetes backend applies them; with local workers the
    dispatcher refuses a spec that sets them (``_core.refuse_what_local_workers_ignore``).
    Each value is checked for form here; that requests do not exceed limits is the API
    server's check, which the pool reports naming the pipeline.
    """

    cpu: float | None = None
    """Cores (``0.5`` is half a core); None: not set."""
    memory: str | None = None
    """A Kubernetes quantity of bytes such as ``"64Mi"`` or ``"1G"``; None: not set."""
    disk: str | None = None
    """Ephemeral storage, a Kubernetes quantity like ``memory``; None: not set."""


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
    """Workers (``parallelism_spec.constant``; 0 means 1)."""
    datum_tries: int = 3
    """Attempts per datum before it fails (0 means 3)."""
    reprocess: Literal["until_success", "every_job"] = "until_success"
    """``every_job`` runs every datum of every job."""
    datum_timeout_s: float | None = None
    """Seconds a datum may run (``datum_timeout``, e.g. ``"30s"``)."""
    raw: dict[str, Any] = field(default_factory=dict, compare=False)
    """The spec as given, for display and history."""
    resource_requests: Resources | None = None
    """``resource_requests`` (Kubernetes backend only); None when absent or all zero."""
    resource_limits: Resources | None = None
    """``resource_limits`` (Kubernetes backend only); None when absent or all zero."""
    node_selector: tuple[tuple[str, str], ...] = ()
    """``scheduling_spec.node_selector``, sorted: the labels a node must have to run the
    pipeline's workers (Kubernetes backend only)."""
    autoscaling: bool = False
    """``autoscaling``: the workers stop while the pipeline has no job, and start with its next
    one (local workers: :data:`pachstream.worker.IDLE_WORKERS_KEPT_S`); False keeps them."""

    def repos(self) -> list[tuple[str, str]]:
        """(repo, branch) of every pfs input."""
        return [(p.repo, p.branch) for p in _pfs_inputs(self.input)]


def _pfs_inputs(spec: Input) -> Iterator[PfsInput]:
    if isinstance(spec, PfsInput):
        yield spec
    else:
        for sub in spec.inputs:
            yield from _pfs_inputs(sub)


_BOOL_TAG, _INT_TAG = "tag:yaml.org,2002:bool", "tag:yaml.org,2002:int"


class _Yaml12Loader(yaml.SafeLoader):
    """PyYAML's safe loader with YAML 1.2 booleans and integers, as Pachyderm's yaml.v3.

    YAML 1.1 reads ``yes``, ``no``, ``on``, ``off`` as booleans and ``010`` or ``1:30`` as
    numbers; Pachyderm reads them as strings, so ``env: {DEBUG: yes}`` stays valid.
    """

    yaml_implicit_resolvers = {
        first: [(tag, rx) for tag, rx in resolvers if tag not in (_BOOL_TAG, _INT_TAG)]
        for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
    }


_Yaml12Loader.add_implicit_resolver(
    _BOOL_TAG, re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)
_Yaml12Loader.add_implicit_resolver(
    _INT_TAG, re.compile(r"^-?(?:0|[1-9][0-9]*)$"), list("-0123456789")
)


_TOO_DEEP = (
    "the pipeline file is not a spec: its {what} nests too deep to read; a spec is a few "
    "levels of 'pipeline', 'transform' and 'input'"
)


def load_documents(text: str) -> list[dict[str, Any]]:
    """Return the pipeline objects of a JSON or YAML file (one or several)."""
    stripped = text.lstrip()
    if not stripped:
        raise InvalidSpec(
            "the pipeline file is empty; write a spec with 'pipeline', 'transform' and 'input'"
        )
    docs: list[Any] = []
    if stripped[0] in "[{":
        decoder = json.JSONDecoder()
        pos = 0
        try:
            while pos < len(stripped):
                if stripped.startswith("---", pos):  # a YAML document separator between objects
                    pos += 3
                else:
                    obj, pos = decoder.raw_decode(stripped, pos)
                    docs.extend(obj if isinstance(obj, list) else [obj])
                while pos < len(stripped) and stripped[pos].isspace():
                    pos += 1
        except json.JSONDecodeError as exc:
            raise InvalidSpec(f"the pipeline file is not valid JSON: {exc}") from exc
        except RecursionError as exc:  # '[[[[…' a hundred thousand deep: no spec is
            raise InvalidSpec(_TOO_DEEP.format(what="JSON")) from exc
    else:
        try:
            docs = [d for d in yaml.load_all(text, Loader=_Yaml12Loader) if d is not None]  # noqa: S506 - a safe loader
        except yaml.YAMLError as exc:
            raise InvalidSpec(f"the pipeline file is not valid YAML: {exc}") from exc
        except RecursionError as exc:
            raise InvalidSpec(_TOO_DEEP.format(what="YAML")) from exc
    for i, d in enumerate(docs):
        if not isinstance(d, dict):
            raise InvalidSpec(
                f"document {i + 1} of the pipeline file is a {type(d).__name__}, not an object; "
                "write each pipeline as an object with 'pipeline', 'transform' and 'input'"
            )
    return docs


def parse_specs(text: str, known_repos: Callable[[str], bool] | None = None) -> list[PipelineSpec]:
    """Parse and validate every pipeline of a file; ``known_repos`` checks input repos exist."""
    specs = [parse_spec(d, known_repos) for d in load_documents(text)]
    # Pipelines of one file may read each other's output repos.
    names = [s.name for s in specs]
    if len(set(names)) != len(names):
        dup = next(n for n in names if names.count(n) > 1)
        raise InvalidSpec(
            f"pipeline '{dup}' is defined twice in the file; give each pipeline its own name",
            pipeline=dup,
        )
    return specs


def _fail(pipeline: str, path: str, problem: str) -> InvalidSpec:
    return InvalidSpec(f"pipeline '{pipeline}': {path} {problem}", pipeline=pipeline, field=path)


def _show(value: Any) -> str:
    value = _clip(value)
    try:
        text = json.dumps(value, sort_keys=True)
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _clip(value: Any, depth: int = 3) -> Any:
    """A few items of a few levels of ``value``: enough for a 60-character message. A YAML
    alias bomb is a small file whose value expands to gigabytes when rendered whole.
    """
    if isinstance(value, dict):
        items = itertools.islice(value.items(), 8)
        return {k: _clip(v, depth - 1) if depth else "..." for k, v in items}
    if isinstance(value, list):
        return [_clip(v, depth - 1) if depth else "..." for v in value[:8]]
    return value


# ---------------------------------------------------------------------------------- decoding


def _decode(pipeline: str, path: str, obj: Any, message: str) -> dict[str, Any]:
    """Read one message as protojson does, into snake_case keys.

    Nulls and zero values are dropped, types checked, and unsupported fields refused unless
    they are at their default.
    """
    where = f"'{path}'" if path else "the spec"
    if not isinstance(obj, dict):
        raise _fail(pipeline, where, f"must be an object, not {_show(obj)}")
    fields = _MESSAGES[message]
    by_json = {json_name(f): f for f in fields}
    given: dict[str, str] = {}
    out: dict[str, Any] = {}
    for key, value in obj.items():
        if key == _SCHEMA_KEY:
            continue
        name = key if key in fields else by_json.get(key)
        sub = f"{path}.{name or key}" if path else (name or key)
        if name is None:
            allowed = sorted(SUPPORTED.get(message, fields))
            hint = UNSUPPORTED.get(key)
            if hint:  # a Pachyderm field of another message, e.g. 'lazy' at the top level
                raise _fail(pipeline, f"field '{sub}'", f"is not supported; {hint}")
            raise _fail(
                pipeline, f"field '{sub}'", f"is unknown; allowed here: {', '.join(allowed)}"
            )
        if name in given:
            raise _fail(
                pipeline, f"field '{sub}'",
                f"is given twice, as '{given[name]}' and as '{key}'; keep one of them",
            )  # fmt: skip
        given[name] = key
        if value is None:
            continue
        decoded = _value(pipeline, sub, value, fields[name])
        if _is_zero(decoded, fields[name]):
            continue
        if name not in SUPPORTED.get(message, fields) and decoded not in _ACCEPTED.get(name, ()):
            hint = UNSUPPORTED.get(name, "remove it")
            shown = "" if isinstance(decoded, dict) else f" with value {_show(decoded)}"
            raise _fail(pipeline, f"field '{sub}'", f"is not supported{shown}; {hint}")
        if name in SUPPORTED.get(message, fields):
            out[name] = decoded
    return out


def _is_zero(value: Any, kind: Kind) -> bool:
    if isinstance(kind, tuple):  # a message given as {} is set, unless it reserves nothing
        return not value and (kind[0] == "messages" or kind[1] in _EMPTY_IS_ABSENT)
    return kind != "opaque" and value in ("", False, 0, [], {})


def _value(pipeline: str, path: str, value: Any, kind: Kind) -> Any:
    """Check a value against its proto kind; integers may be strings, as in protojson."""
    if isinstance(kind, tuple):
        if kind[0] == "message":
            return _decode(pipeline, path, value, kind[1])
        if not isinstance(value, list):
            fix = 'write it like [{"pfs": {...}}, ...]'
            raise _fail(
                pipeline, f"'{path}'", f"must be a list of inputs, not {_show(value)}; {fix}"
            )
        return [_decode(pipeline, f"{path}[{i}]", v, kind[1]) for i, v in enumerate(value)]
    ok, what, fix = _SCALARS[kind]
    if not ok(value):
        raise _fail(pipeline, f"'{path}'", f"must be {what}, not {_show(value)}; {fix}")
    if kind in ("int", "uint"):
        return _integer(value)
    if kind == "map":
        return {k: v for k, v in value.items() if k != _SCHEMA_KEY}
    return value


def _is_str(value: Any) -> bool:
    return isinstance(value, str)


def _is_uint(value: Any) -> bool:
    number = _integer(value)
    return number is not None and number >= 0


# Per scalar kind: the check, what it expects, and how to fix a wrong value.
_SCALARS: dict[str, tuple[Callable[[Any], bool], str, str]] = {
    "string": (_is_str, "a string", "put the value in quotes"),
    "bool": (lambda v: isinstance(v, bool), "true or false", "write it without quotes"),
    "int": (lambda v: _integer(v) is not None, "a whole number", "write digits only, e.g. 3"),
    "uint": (_is_uint, "a whole number of 0 or more", "write digits only, e.g. 3"),
    "float": (
        lambda v: isinstance(v, int | float | str) and not isinstance(v, bool),
        "a number", "write it like 0.5",
    ),
    "duration": (_is_str, 'a duration like "30s"', "write seconds followed by s, in quotes"),
    "strings": (
        lambda v: isinstance(v, list) and all(isinstance(i, str) for i in v),
        "a list of strings", 'write it like ["sh", "-c"]',
    ),
    "ints": (
        lambda v: isinstance(v, list) and all(_integer(i) is not None for i in v),
        "a list of whole numbers", "write it like [1, 2]",
    ),
    "map": (
        lambda v: isinstance(v, dict)
        and all(isinstance(k, str) and isinstance(i, str) for k, i in v.items()),
        "an object of string values", "quote numbers and booleans",
    ),
    "list": (lambda v: isinstance(v, list), "a list", "write it like [...]"),
    "opaque": (lambda v: True, "anything", ""),
}  # fmt: skip


def _integer(value: Any) -> int | None:
    """Read an integer as protojson does: a number with no fraction, or such a number quoted."""
    if isinstance(value, str):
        if value != value.strip():
            return None
        try:
            value = json.loads(value)
        except ValueError:
            return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    if isinstance(value, float) and not value.is_integer():
        return None
    return int(value)


# ------------------------------------------------------------------------------ validation


def parse_spec(
    raw: dict[str, Any], known_repos: Callable[[str], bool] | None = None
) -> PipelineSpec:
    """Validate one pipeline object."""
    pipeline_obj = raw.get("pipeline")
    name = pipeline_obj.get("name") if isinstance(pipeline_obj, dict) else None
    if not isinstance(name, str) or not name:
        raise InvalidSpec("a pipeline spec needs 'pipeline': {'name': ...}")
    try:
        validate_repo_name(name)
    except InvalidName as exc:
        raise _fail(name, "'pipeline.name'", exc.message) from exc
    spec = _decode(name, "", raw, "CreatePipelineRequest")
    _project(name, "pipeline.project", spec["pipeline"].get("project", {}).get("name", ""))
    t = spec.get("transform")
    if t is None:
        raise _fail(name, "'transform'", "is missing; give transform.cmd")
    if not t.get("cmd") and not t.get("image"):
        raise _fail(
            name,
            "'transform.cmd'",
            'is missing or empty; give the command to run, e.g. ["sh"] (or a transform.image '
            "whose Entrypoint runs)",
        )
    transform = Transform(
        cmd=tuple(t.get("cmd") or ()),
        stdin=tuple(t.get("stdin", ())),
        env=tuple(sorted(t.get("env", {}).items())),
        image=t.get("image"),
        working_dir=t.get("working_dir"),
        err_cmd=tuple(t.get("err_cmd", ())),
        err_stdin=tuple(t.get("err_stdin", ())),
    )
    if "input" not in spec:
        raise _fail(name, "'input'", "is missing; give a pfs, cross, union, join or group input")
    spec_input = _input(name, "input", spec["input"], known_repos)
    _claim_names(name, spec_input, set())
    if name in [p.repo for p in _pfs_inputs(spec_input)]:
        raise _fail(
            name,
            "'input'",
            "reads the pipeline's own output repo; a pipeline cannot be its own input",
        )
    # Zero values were dropped while decoding: a missing constant (or 0) is 1 worker and a
    # missing datum_tries (or 0) is 3 tries, as in Pachyderm.
    parallelism = spec.get("parallelism_spec", {}).get("constant", 1)
    if not 1 <= parallelism <= 256:
        raise _fail(
            name,
            "'parallelism_spec.constant'",
            f"must be a whole number from 1 to 256, not {parallelism!r}",
        )
    tries = spec.get("datum_tries", 3)
    if not 1 <= tries <= 100:
        raise _fail(
            name,
            "'datum_tries'",
            f"must be a whole number from 1 to 100 (0 means 3), not {tries!r}",
        )
    reprocess = spec.get("reprocess_spec", "until_success")
    if reprocess not in ("until_success", "every_job"):
        raise _fail(
            name, "'reprocess_spec'", f"must be 'until_success' or 'every_job', not {reprocess!r}"
        )
    return PipelineSpec(
        name=name,
        transform=transform,
        input=spec_input,
        description=spec.get("description", ""),
        parallelism=parallelism,
        datum_tries=tries,
        reprocess=reprocess,
        datum_timeout_s=_duration(name, spec.get("datum_timeout")),
        raw=raw,
        resource_requests=_resources(name, "resource_requests", spec.get("resource_requests")),
        resource_limits=_resources(name, "resource_limits", spec.get("resource_limits")),
        node_selector=_node_selector(name, spec.get("scheduling_spec", {}).get("node_selector")),
        autoscaling=spec.get("autoscaling", False),
    )


# A Kubernetes quantity without exponents (resource.ParseQuantity's common forms): "64Mi",
# "1.5G", "500000". Pachyderm hands the string to that parser, so "256MB" fails there too.
_QUANTITY_RE = re.compile(r"^(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[KMGTPE]i|[kMGTPE])?$")
_LABEL_NAME_RE = re.compile(r"^[A-Za-z0-9](?:[-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$")
_DNS_SUBDOMAIN_RE = re.compile(r"^[a-z0-9](?:[-a-z0-9.]{0,251}[a-z0-9])?$")


def _resources(pipeline: str, path: str, body: dict[str, Any] | None) -> Resources | None:
    """A resource spec's values, checked for form (zero values were dropped when decoding)."""
    if not body:
        return None
    cpu: float | None = None
    if body.get("cpu") is not None:
        try:
            cpu = float(body["cpu"])  # protojson also takes a float as a string
        except ValueError:
            cpu = float("nan")
        # Kubernetes counts CPU in thousandths of a core: less than that reserves nothing.
        if not 0.001 <= cpu <= 1_000_000:
            raise _fail(
                pipeline,
                f"'{path}.cpu'",
                f"must be a number of cores from 0.001 up, not {_show(body.get('cpu'))}; "
                "write it like 0.5",
            )
    for key in ("memory", "disk"):
        value = body.get(key)
        if value is not None and not _QUANTITY_RE.match(value):
            raise _fail(
                pipeline,
                f"'{path}.{key}'",
                f"is {value!r}, not a Kubernetes quantity; write bytes with an optional "
                'suffix, like "512Mi", "2Gi" or "1G" (not "MB")',
            )
    return Resources(cpu=cpu, memory=body.get("memory"), disk=body.get("disk"))


def _node_selector(pipeline: str, labels: dict[str, str] | None) -> tuple[tuple[str, str], ...]:
    """``scheduling_spec.node_selector``, each key and value checked as a Kubernetes label."""
    for key, value in (labels or {}).items():
        where = f"'scheduling_spec.node_selector.{key}'"
        prefix, _, name = key.rpartition("/")
        if (prefix and not _DNS_SUBDOMAIN_RE.match(prefix)) or not _LABEL_NAME_RE.match(name):
            raise _fail(
                pipeline,
                where,
                "is not a Kubernetes label key; write [dns.prefix/]name, the name up to 63 "
                "letters, digits, '-', '_' or '.', starting and ending with a letter or digit",
            )
        if value and not _LABEL_NAME_RE.match(value):
            raise _fail(
                pipeline,
                where,
                f"has value {value!r}, which is not a Kubernetes label value; use up to 63 "
                "letters, digits, '-', '_' or '.', starting and ending with a letter or digit",
            )
    return tuple(sorted((labels or {}).items()))


def _project(pipeline: str, path: str, project: str) -> None:
    if project not in ("", "default"):
        fix = f"pachstream has one project: remove {path} or use 'default'"
        raise _fail(pipeline, f"'{path}'", f"names project '{project}'; {fix}")


def _duration(pipeline: str, value: Any) -> float | None:
    if value is None:
        return None
    units = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}
    for unit in sorted(units, key=len, reverse=True):
        number = value[: -len(unit)]
        if value.endswith(unit) and number.replace(".", "", 1).isdigit():
            return float(number) * units[unit]
    raise _fail(
        pipeline, "'datum_timeout'", f'must be a duration like "30s" or "5m", not {value!r}'
    )


def _claim_names(pipeline: str, spec: Input, names: set[str]) -> None:
    """Refuse an input name used twice, except by alternatives of one union.

    Pachyderm's ``ppsutil.validateNames``: each union alternative is checked against the
    names seen before the union only, then all of their names count for what follows.
    """
    if isinstance(spec, PfsInput):
        if spec.name in names:
            raise _fail(
                pipeline, f"input name '{spec.name}'",
                "is used twice; set a distinct 'name' on each pfs input "
                "(only alternatives of one union may share a name)",
            )  # fmt: skip
        names.add(spec.name)
    elif isinstance(spec, UnionInput):
        claimed = set(names)
        for sub in spec.inputs:
            mine = set(names)
            _claim_names(pipeline, sub, mine)
            claimed |= mine
        names |= claimed
    else:
        for sub in spec.inputs:
            _claim_names(pipeline, sub, names)


_KINDS: dict[str, type[CrossInput | UnionInput | JoinInput | GroupInput]] = {
    "cross": CrossInput, "union": UnionInput, "join": JoinInput, "group": GroupInput,
}  # fmt: skip


def _input(
    pipeline: str, path: str, obj: dict[str, Any], known_repos: Callable[[str], bool] | None
) -> Input:
    kinds = list(obj)  # decoding left the kinds that are set, i.e. not null nor empty lists
    if len(kinds) != 1:
        given = f" ({' and '.join(kinds)} are set)" if kinds else ""
        raise _fail(
            pipeline, f"'{path}'", f"must have exactly one of pfs, cross, union, join, group{given}"
        )
    ((kind, body),) = obj.items()
    where = f"{path}.{kind}"
    if kind == "pfs":
        return _pfs(pipeline, where, body, known_repos)
    subs = tuple(_input(pipeline, f"{where}[{i}]", b, known_repos) for i, b in enumerate(body))
    # Every pfs input under a join (group) side needs the key that pairs its datums.
    key = {"join": "join_on", "group": "group_by"}.get(kind)
    for i, sub in enumerate(subs if key else ()):
        for p in _pfs_inputs(sub):
            if not getattr(p, key):  # type: ignore[arg-type]
                raise _fail(
                    pipeline,
                    f"'{where}[{i}]' (input '{p.name}')",
                    f'has no {key}; give a template like "$1"',
                )
    return _KINDS[kind](subs)


def _pfs(
    pipeline: str, where: str, body: dict[str, Any], known_repos: Callable[[str], bool] | None
) -> PfsInput:
    repo, glob = body.get("repo"), body.get("glob")
    if not repo:
        raise _fail(pipeline, f"'{where}.repo'", "is missing")
    if not glob:
        raise _fail(
            pipeline,
            f"'{where}.glob'",
            "is missing; '/' makes one datum, '/*' one per top-level entry",
        )
    _project(pipeline, f"{where}.project", body.get("project", ""))
    try:
        validate_repo_name(repo)
        compile_glob(glob)
        branch = validate_branch_name(body.get("branch", "master"))
    except InvalidInput as exc:
        raise _fail(pipeline, f"'{where}'", exc.message) from exc
    if known_repos is not None and not known_repos(repo):
        raise _fail(
            pipeline,
            f"'{where}.repo'",
            f"names repo '{repo}', which does not exist; create it first",
        )
    name = body.get("name", repo)
    try:
        validate_repo_name(name)
    except InvalidName as exc:
        raise _fail(pipeline, f"'{where}.name'", exc.message) from exc
    if name == "out":  # ppsutil.validateName: /pfs/out is the output directory
        raise _fail(
            pipeline,
            f"'{where}.name'",
            "is 'out', which is the output directory /pfs/out; set another 'name'",
        )
    for key in ("join_on", "group_by"):
        _check_template(
            pipeline, f"{where}.{key}", body.get(key, ""), compile_glob(glob).group_count
        )
    return PfsInput(
        name=name,
        repo=repo,
        glob=glob,
        branch=branch,
        join_on=body.get("join_on", ""),
        group_by=body.get("group_by", ""),
        outer_join=body.get("outer_join", False),
        empty_files=body.get("empty_files", False),
    )


# Pachyderm accepts any template at create time, and a group the glob does not have expands
# to "" (so every datum gets the same key); only references its worker crashes on are refused.
_ANY_GROUP = 999_999_999


def _check_template(pipeline: str, path: str, tmpl: str, group_count: int) -> None:
    try:
        check_template(tmpl, _ANY_GROUP)
    except InvalidInput as exc:
        raise _fail(
            pipeline, f"'{path}'",
            f"is {tmpl!r}, which has a group reference Pachyderm's worker crashes on (a leading "
            f"zero, a non-ASCII digit or more than 9 digits); write $0 to ${group_count} in "
            "plain digits",
        ) from exc  # fmt: skip
