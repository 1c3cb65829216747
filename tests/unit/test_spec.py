"""Pipeline specs: Pachyderm's format in, validated specs or one clear error out."""

from __future__ import annotations

import json

import pytest

from pachstream.dispatch.datums import CrossInput, JoinInput, PfsInput, UnionInput
from pachstream.dispatch.spec import _MESSAGES, Resources, json_name, parse_spec, parse_specs
from pachstream.errors import InvalidSpec

EDGES = {
    "pipeline": {"name": "edges"},
    "description": "A pipeline that performs image edge detection.",
    "transform": {
        "cmd": ["python3", "/edges.py"],
        "image": "pachyderm/opencv",
        "env": {"B": "2", "A": "1"},
    },
    "input": {"pfs": {"repo": "images", "glob": "/*"}},
    "parallelism_spec": {"constant": 2},
    "datum_tries": 2,
}


def known(*repos):
    return lambda r: r in repos


def test_pachyderm_opencv_example_parses():
    (spec,) = parse_specs(json.dumps(EDGES), known("images"))
    assert spec.name == "edges" and spec.parallelism == 2 and spec.datum_tries == 2
    assert spec.transform.cmd == ("python3", "/edges.py")
    assert spec.transform.env == (("A", "1"), ("B", "2"))
    assert spec.transform.image == "pachyderm/opencv"
    assert spec.input == PfsInput(name="images", repo="images", glob="/*")
    assert spec.repos() == [("images", "master")]
    assert spec.raw == EDGES


def test_several_documents_yaml_and_json():
    yaml_text = """
pipeline: {name: one}
transform: {cmd: [sh], stdin: ["cp -r /pfs/a/* /pfs/out/"]}
input: {pfs: {repo: a, glob: "/*"}}
---
pipeline: {name: two}
transform: {cmd: [sh]}
input:
  cross:
    - pfs: {repo: one, glob: "/"}
    - pfs: {repo: a, glob: "/*", name: again}
reprocess_spec: every_job
datum_timeout: 30s
"""
    one, two = parse_specs(yaml_text, known("a", "one"))
    assert one.transform.stdin == ("cp -r /pfs/a/* /pfs/out/",)
    assert (
        isinstance(two.input, CrossInput)
        and two.reprocess == "every_job"
        and two.datum_timeout_s == 30
    )
    stream = json.dumps(EDGES) + "\n" + json.dumps({**EDGES, "pipeline": {"name": "e2"}})
    assert [s.name for s in parse_specs(stream, known("images"))] == ["edges", "e2"]
    assert [s.name for s in parse_specs(json.dumps([EDGES]), known("images"))] == ["edges"]


def test_json_documents_separated_by_yaml_markers():
    # Pachyderm reads every file with a YAML decoder, so its examples separate JSON specs
    # with '---' (examples/ml/tensorflow/training_and_export.pipeline.json).
    text = (
        json.dumps(EDGES, indent=2) + "\n---\n" + json.dumps({**EDGES, "pipeline": {"name": "e2"}})
    )
    assert [s.name for s in parse_specs(text, known("images"))] == ["edges", "e2"]


def test_join_and_outer_join():
    spec = {
        "pipeline": {"name": "joined"},
        "transform": {"cmd": ["sh"]},
        "input": {
            "join": [
                {"pfs": {"repo": "a", "glob": "/(*).txt", "join_on": "$1", "outer_join": True}},
                {"pfs": {"repo": "b", "glob": "/(*).csv", "join_on": "$1"}},
            ]
        },
    }
    (parsed,) = parse_specs(json.dumps(spec), known("a", "b"))
    assert isinstance(parsed.input, JoinInput) and parsed.input.inputs[0].outer_join


def test_json_names_follow_protoc():
    assert [json_name(n) for n in ("join_on", "s3_out", "cmd", "sidecar_resource_limits")] == [
        "joinOn",
        "s3Out",
        "cmd",
        "sidecarResourceLimits",
    ]


def with_(**changes):
    """EDGES with changes; a key path is split on '__'; DELETE removes the key."""
    spec = json.loads(json.dumps(EDGES))
    for path, value in changes.items():
        target = spec
        keys = path.split("__")
        for k in keys[:-1]:
            target = target[k]
        if value is DELETE:
            del target[keys[-1]]
        else:
            target[keys[-1]] = value
    return json.dumps(spec)


DELETE = object()


def pfs(**fields):
    return {"pfs": {"repo": "images", "glob": "/*", **fields}}


def parse(text):
    (spec,) = parse_specs(text, known("images", "other", "edges"))
    return spec


def first_pfs(spec):
    node = spec.input
    while not isinstance(node, PfsInput):
        node = node.inputs[0]
    return node


# (test id, spec text, what to read from the parsed spec, expected value)
ACCEPTED = [
    # 1. camelCase (protoc's JSON names) is accepted at every level.
    ("datumTries", with_(datum_tries=DELETE, datumTries=5), lambda s: s.datum_tries, 5),
    (
        "parallelismSpec",
        with_(parallelism_spec=DELETE, parallelismSpec={"constant": 3}),
        lambda s: s.parallelism,
        3,
    ),
    ("reprocessSpec", with_(reprocessSpec="every_job"), lambda s: s.reprocess, "every_job"),
    ("datumTimeout", with_(datumTimeout="90s"), lambda s: s.datum_timeout_s, 90),
    ("errCmd", with_(transform__errCmd=["true"]), lambda s: s.transform.err_cmd, ("true",)),
    ("errStdin", with_(transform__errStdin=["x"]), lambda s: s.transform.err_stdin, ("x",)),
    ("workingDir", with_(transform__workingDir="/w"), lambda s: s.transform.working_dir, "/w"),
    (
        "joinOn outerJoin",
        with_(input={"join": [pfs(joinOn="$1", outerJoin=True), pfs(repo="other", joinOn="$1")]}),
        lambda s: (first_pfs(s).join_on, first_pfs(s).outer_join),
        ("$1", True),
    ),
    ("groupBy", with_(input={"group": [pfs(groupBy="$1")]}), lambda s: first_pfs(s).group_by, "$1"),
    ("emptyFiles", with_(input=pfs(emptyFiles=True)), lambda s: first_pfs(s).empty_files, True),
    (
        "nested camelCase",
        with_(input={"cross": [{"union": [pfs(emptyFiles=True)]}, pfs(repo="other")]}),
        lambda s: first_pfs(s).empty_files,
        True,
    ),
    (
        "env keys are not renamed",
        with_(transform__env={"my_var": "1", "$schema": "x"}),
        lambda s: s.transform.env,
        (("my_var", "1"),),
    ),
    (
        "$schema key dropped as Pachyderm does",
        with_(**{"$schema": "https://x"}),
        lambda s: s.name,
        "edges",
    ),
    # 2. null or Pachyderm's default value is the same as absent.
    ("output_branch master", with_(output_branch="master"), lambda s: s.name, "edges"),
    ("outputBranch master", with_(outputBranch="master"), lambda s: s.name, "edges"),
    ("output_branch empty", with_(output_branch=""), lambda s: s.name, "edges"),
    ("autoscaling false", with_(autoscaling=False), lambda s: s.autoscaling, False),
    ("autoscaling absent", with_(), lambda s: s.autoscaling, False),
    ("autoscaling true", with_(autoscaling=True), lambda s: s.autoscaling, True),
    ("standby false", with_(standby=False), lambda s: s.name, "edges"),
    ("spec_commit null", with_(spec_commit=None), lambda s: s.name, "edges"),
    ("s3_out false", with_(s3Out=False), lambda s: s.name, "edges"),
    (
        "resources null",
        with_(resource_requests=None, resourceLimits=None),
        lambda s: s.name,
        "edges",
    ),
    (
        "resources empty",
        with_(resource_requests={}, resource_limits={"cpu": 0, "memory": ""}),
        lambda s: s.name,
        "edges",
    ),
    ("gpu empty", with_(resource_limits={"gpu": {"number": 0}}), lambda s: s.name, "edges"),
    (
        "defaults of other fields",
        with_(
            tolerations=[],
            metadata={"labels": {}},
            salt="",
            pod_patch="",
            egress=None,
            spout=None,
            service=None,
            datum_set_spec={},
            scheduling_spec={},
        ),
        lambda s: s.name,
        "edges",
    ),
    (
        "transform defaults",
        with_(
            transform__user="",
            transform__debug=False,
            transform__secrets=[],
            transform__acceptReturnCode=[],
            transform__image=None,
        ),
        lambda s: s.transform.image,
        None,
    ),
    (
        "pfs defaults",
        with_(
            input=pfs(
                lazy=False,
                s3=False,
                commit="",
                trigger=None,
                repoType="user",
                reference=False,
                propagationSpec={"never": False},
            )
        ),
        lambda s: first_pfs(s).repo,
        "images",
    ),
    (
        "null everywhere",
        with_(
            description=None,
            datum_timeout=None,
            transform__stdin=None,
            input=pfs(branch=None, name=None),
        ),
        lambda s: (
            s.description,
            s.datum_timeout_s,
            s.transform.stdin,
            first_pfs(s).name,
            first_pfs(s).branch,
        ),
        ("", None, (), "images", "master"),
    ),
    ("empty name is the repo", with_(input=pfs(name="")), lambda s: first_pfs(s).name, "images"),
    (
        "empty input lists are absent",
        with_(input={**pfs(), "cross": [], "union": None}),
        lambda s: first_pfs(s).repo,
        "images",
    ),
    ("reprocess_spec empty", with_(reprocess_spec=""), lambda s: s.reprocess, "until_success"),
    # 3. datum_tries 0 means 3 and parallelism 0 means 1.
    ("datum_tries 0", with_(datum_tries=0), lambda s: s.datum_tries, 3),
    ("parallelism 0", with_(parallelism_spec={"constant": 0}), lambda s: s.parallelism, 1),
    ("parallelism_spec empty", with_(parallelism_spec={}), lambda s: s.parallelism, 1),
    # 4. integers as protojson reads them: a number without fraction, or such a number quoted.
    ("datum_tries quoted", with_(datum_tries="4"), lambda s: s.datum_tries, 4),
    ("parallelism 2.0", with_(parallelism_spec={"constant": 2.0}), lambda s: s.parallelism, 2),
    (
        "outer_join false",
        with_(input=pfs(outer_join=False)),
        lambda s: first_pfs(s).outer_join,
        False,
    ),
    # 5. the one project is 'default'.
    (
        "project default",
        with_(pipeline={"name": "edges", "project": {"name": "default"}}),
        lambda s: s.name,
        "edges",
    ),
    ("project empty", with_(pipeline={"name": "edges", "project": {}}), lambda s: s.name, "edges"),
    ("project null", with_(pipeline={"name": "edges", "project": None}), lambda s: s.name, "edges"),
    (
        "pfs project default",
        with_(input=pfs(project="default")),
        lambda s: first_pfs(s).repo,
        "images",
    ),
    # 6. union alternatives may share a name (Pachyderm's union alias), also nested.
    (
        "union alias",
        with_(input={"union": [pfs(name="in"), pfs(repo="other", name="in")]}),
        lambda s: [p.name for p in s.input.inputs],
        ["in", "in"],
    ),
    (
        "nested union alias",
        with_(
            input={
                "union": [pfs(name="in"), {"union": [pfs(repo="other", name="in"), pfs(name="in")]}]
            }
        ),
        lambda s: isinstance(s.input, UnionInput),
        True,
    ),
    (
        "union of crosses",
        with_(
            input={
                "union": [
                    {"cross": [pfs(name="a"), pfs(repo="other", name="b")]},
                    {"cross": [pfs(name="a", glob="/"), pfs(repo="other", name="b")]},
                ]
            }
        ),
        lambda s: len(s.input.inputs),
        2,
    ),
    (
        "crossed union alias",
        with_(
            input={
                "cross": [{"union": [pfs(name="in"), pfs(repo="other", name="in")]}, pfs(name="b")]
            }
        ),
        lambda s: isinstance(s.input, CrossInput),
        True,
    ),
    # 7. templates Pachyderm accepts; join_on/group_by outside a join/group are kept (exported as
    # PACH_DATUM_<name>_JOIN_ON / _GROUP_BY, as Pachyderm does) and pair nothing.
    (
        "join_on $0",
        with_(input={"join": [pfs(join_on="$0"), pfs(repo="other", join_on="$0")]}),
        lambda s: first_pfs(s).join_on,
        "$0",
    ),
    (
        "join_on beyond the groups",
        with_(input={"join": [pfs(glob="/(*)", join_on="$3"), pfs(repo="other", join_on="$1")]}),
        lambda s: first_pfs(s).join_on,
        "$3",
    ),
    (
        "group_by literal",
        with_(input={"group": [pfs(group_by="all")]}),
        lambda s: first_pfs(s).group_by,
        "all",
    ),
    (
        "join_on outside a join",
        with_(input=pfs(glob="/(*)", join_on="$1")),
        lambda s: first_pfs(s).join_on,
        "$1",
    ),
    (
        "group_by outside a group",
        with_(input={"cross": [pfs(group_by="$1"), pfs(repo="other")]}),
        lambda s: first_pfs(s).group_by,
        "$1",
    ),
    (
        "outer_join outside a join",
        with_(input=pfs(outer_join=True)),
        lambda s: first_pfs(s).outer_join,
        True,
    ),
    *[
        (
            f"template {t!r}",
            with_(input={"group": [pfs(glob="/(*)", group_by=t)]}),
            lambda s: first_pfs(s).group_by,
            t,
        )
        for t in ("$$", "${1}x", "${x", "$", "$1$0", "${9}")
    ],
    # Resources and node selection, applied by the Kubernetes backend.
    (
        "resource requests",
        with_(resource_requests={"cpu": 0.5, "memory": "64Mi", "disk": "1G"}),
        lambda s: s.resource_requests,
        Resources(cpu=0.5, memory="64Mi", disk="1G"),
    ),
    (
        "resourceLimits camelCase, cpu as a string",
        with_(resourceLimits={"cpu": "2", "memory": "1.5Gi"}),
        lambda s: s.resource_limits,
        Resources(cpu=2.0, memory="1.5Gi"),
    ),
    ("no resources", with_(), lambda s: (s.resource_requests, s.resource_limits), (None, None)),
    (
        "plain bytes",
        with_(resource_limits={"memory": "1000"}),
        lambda s: s.resource_limits.memory,
        "1000",
    ),
    (
        "node selector, sorted",
        with_(scheduling_spec={"node_selector": {"zone": "a", "kubernetes.io/arch": "amd64"}}),
        lambda s: s.node_selector,
        (("kubernetes.io/arch", "amd64"), ("zone", "a")),
    ),
    (
        "nodeSelector camelCase, empty value",
        with_(schedulingSpec={"nodeSelector": {"gpu": ""}}),
        lambda s: s.node_selector,
        (("gpu", ""),),
    ),
]


@pytest.mark.parametrize(
    ("name", "text", "read", "expected"), ACCEPTED, ids=[a[0] for a in ACCEPTED]
)
def test_accepted_specs(name, text, read, expected):
    assert read(parse(text)) == expected


YAML_12 = """
pipeline: {name: y}
transform:
  cmd: [sh]
  env: {DEBUG: yes, MODE: off, CODE: 010, TIME: 1:30}
input: {pfs: {repo: images, glob: "/*", outerJoin: true, emptyFiles: TRUE}}
datumTries: 4
"""


def test_yaml_reads_as_pachyderm_yaml_v3():
    # YAML 1.2 as Pachyderm's yaml.v3: 'yes', 'off', '010' and '1:30' are strings.
    spec = parse(YAML_12)
    assert spec.transform.env == (
        ("CODE", "010"),
        ("DEBUG", "yes"),
        ("MODE", "off"),
        ("TIME", "1:30"),
    )
    assert first_pfs(spec).outer_join and first_pfs(spec).empty_files and spec.datum_tries == 4
    with pytest.raises(
        InvalidSpec, match=r"'input.pfs.outer_join' must be true or false, not \"yes\""
    ):
        parse(YAML_12.replace("outerJoin: true", "outerJoin: yes"))


def test_every_json_name_maps_back_to_its_proto_name():
    # Each message's fields, given by their JSON names, come out under their proto names.
    for message, fields in _MESSAGES.items():
        assert len({json_name(f) for f in fields}) == len(fields), message


BAD = [
    (
        "unsupported field names the fix",
        with_(spout={"overwrite": True}),
        "field 'spout' is not supported; produce records to an ingest topic",
    ),
    ("empty spout is a spout", with_(spout={}), "field 'spout' is not supported"),
    (
        "unknown field lists the allowed ones",
        with_(colour="red"),
        "field 'colour' is unknown; allowed here: autoscaling, datum_timeout, datum_tries,",
    ),
    ("unknown camelCase stays as given", with_(colourName="red"), "field 'colourName' is unknown"),
    (
        "unknown transform field",
        with_(transform__user="root"),
        "field 'transform.user' is not supported with value \"root\"",
    ),
    # With an image, no cmd means the image's Entrypoint and Cmd (Pachyderm's rule).
    (
        "missing cmd, no image",
        with_(transform__cmd=DELETE, transform__image=DELETE),
        "'transform.cmd' is missing",
    ),
    (
        "empty cmd, no image",
        with_(transform__cmd=[], transform__image=DELETE),
        "'transform.cmd' is missing",
    ),
    ("missing transform", with_(transform=DELETE), "'transform' is missing"),
    ("null transform", with_(transform=None), "'transform' is missing"),
    ("missing input", with_(input=DELETE), "'input' is missing"),
    ("bad glob", with_(input={"pfs": {"repo": "images", "glob": "/[abc"}}), "'input.pfs'"),
    ("missing glob", with_(input={"pfs": {"repo": "images"}}), "'input.pfs.glob' is missing"),
    (
        "empty glob",
        with_(input={"pfs": {"repo": "images", "glob": ""}}),
        "'input.pfs.glob' is missing",
    ),
    (
        "unknown repo",
        with_(input={"pfs": {"repo": "nope", "glob": "/*"}}),
        "names repo 'nope', which does not exist",
    ),
    (
        "join side without join_on",
        with_(input={"join": [pfs(join_on="$1"), pfs(repo="other")]}),
        "'input.join[1]' (input 'other') has no join_on",
    ),
    ("group without group_by", with_(input={"group": [pfs()]}), "has no group_by"),
    (
        "two kinds in one input",
        with_(input={**pfs(), "cross": [pfs(repo="other")]}),
        "exactly one of pfs, cross, union, join, group (pfs and cross are set)",
    ),
    ("no kind in an input", with_(input={}), "'input' must have exactly one of"),
    ("empty cross alone", with_(input={"cross": []}), "'input' must have exactly one of"),
    (
        "unknown input kind",
        with_(input={"files": {}}),
        "field 'input.files' is unknown; allowed here: cross, group, join, pfs, union",
    ),
    (
        "cron input",
        with_(input={"cron": {"name": "tick", "spec": "@every 1m"}}),
        "field 'input.cron' is not supported; put files on a schedule",
    ),
    ("bad reprocess", with_(reprocess_spec="sometimes"), "'reprocess_spec' must be"),
    ("bad timeout", with_(datum_timeout="soon"), "'datum_timeout' must be a duration"),
    ("bad name", with_(pipeline={"name": "bad name"}), "'pipeline.name'"),
    (
        "own output as input",
        with_(input={"pfs": {"repo": "edges", "glob": "/"}}),
        "cannot be its own input",
    ),
    (
        "input named out",
        with_(input=pfs(name="out")),
        "'input.pfs.name' is 'out', which is the output directory /pfs/out",
    ),
    ("not an object", "[1, 2]", "document 1 of the pipeline file is a int"),
    ("not json", "{nope", "not valid JSON"),
    ("empty", "  ", "is empty"),
    # 1. both spellings of one field.
    (
        "datum_tries twice",
        with_(datumTries=3),
        "field 'datum_tries' is given twice, as 'datum_tries' and as 'datumTries'",
    ),
    (
        "join_on twice",
        with_(input={"join": [pfs(join_on="$1", joinOn="$1"), pfs(repo="other", join_on="$1")]}),
        "field 'input.join[0].pfs.join_on' is given twice, as 'join_on' and as 'joinOn'",
    ),
    (
        "twice even if one is null",
        with_(transform__working_dir="/a", transform__workingDir=None),
        "is given twice",
    ),
    (
        "unsupported camelCase named in snake_case",
        with_(s3Out=True),
        "field 's3_out' is not supported with value true",
    ),
    (
        "nested unsupported camelCase",
        with_(transform__acceptReturnCode=[4]),
        "field 'transform.accept_return_code' is not supported",
    ),
    # 2. a non-default value of an unsupported field.
    (
        "output_branch other",
        with_(output_branch="dev"),
        "field 'output_branch' is not supported with value \"dev\"; "
        "remove it: outputs go to the output repo's master",
    ),
    (
        "outputBranch other",
        with_(outputBranch="dev"),
        "field 'output_branch' is not supported with value \"dev\"",
    ),
    (
        "standby true",
        with_(standby=True),
        "field 'standby' is not supported with value true; set 'autoscaling: true' instead",
    ),
    ("spec_commit set", with_(spec_commit={}), "field 'spec_commit' is not supported"),
    (
        "resource limits gpu",
        with_(resourceLimits={"gpu": {"number": 1}}),
        "field 'resource_limits.gpu' is not supported; remove it: workers are not given GPUs",
    ),
    (
        "unknown field in resources",
        with_(resource_limits={"cores": 1}),
        "field 'resource_limits.cores' is unknown; allowed here: cpu, disk, memory",
    ),
    (
        "cpu below a thousandth",
        with_(resource_requests={"cpu": 0.0001}),
        "'resource_requests.cpu' must be a number of cores from 0.001 up, not 0.0001",
    ),
    (
        "cpu not a number",
        with_(resource_requests={"cpu": "lots"}),
        "'resource_requests.cpu' must be a number of cores from 0.001 up, not \"lots\"",
    ),
    ("cpu negative", with_(resource_limits={"cpu": -1}), "'resource_limits.cpu' must be"),
    (
        "memory in MB",
        with_(resource_limits={"memory": "256MB"}),
        "'resource_limits.memory' is '256MB', not a Kubernetes quantity; write bytes",
    ),
    (
        "disk not a quantity",
        with_(resource_requests={"disk": "1 Gi"}),
        "'resource_requests.disk' is '1 Gi', not a Kubernetes quantity",
    ),
    (
        "memory a number",
        with_(resource_requests={"memory": 64}),
        "'resource_requests.memory' must be a string, not 64; put the value in quotes",
    ),
    (
        "priority class",
        with_(scheduling_spec={"priority_class_name": "high"}),
        "field 'scheduling_spec.priority_class_name' is not supported with value \"high\"",
    ),
    (
        "node selector key",
        with_(scheduling_spec={"node_selector": {"bad key": "a"}}),
        "'scheduling_spec.node_selector.bad key' is not a Kubernetes label key",
    ),
    (
        "node selector key prefix",
        with_(scheduling_spec={"node_selector": {"Bad_Prefix/zone": "a"}}),
        "'scheduling_spec.node_selector.Bad_Prefix/zone' is not a Kubernetes label key",
    ),
    (
        "node selector value",
        with_(scheduling_spec={"node_selector": {"zone": "-a"}}),
        "'scheduling_spec.node_selector.zone' has value '-a', which is not a Kubernetes label",
    ),
    (
        "node selector value too long",
        with_(scheduling_spec={"node_selector": {"zone": "a" * 64}}),
        "is not a Kubernetes label value",
    ),
    (
        "node selector not strings",
        with_(scheduling_spec={"node_selector": {"zone": 1}}),
        "'scheduling_spec.node_selector' must be an object of string values",
    ),
    ("salt", with_(salt="abc"), "field 'salt' is not supported"),
    (
        "update in the spec",
        with_(update=True),
        "field 'update' is not supported with value true; run 'pachstream update pipeline'",
    ),
    ("lazy", with_(input=pfs(lazy=True)), "field 'input.pfs.lazy' is not supported"),
    ("commit", with_(input=pfs(commit="abc")), "field 'input.pfs.commit' is not supported"),
    ("trigger", with_(input=pfs(trigger={})), "field 'input.pfs.trigger' is not supported"),
    (
        "repo_type spec",
        with_(input=pfs(repo_type="spec")),
        "field 'input.pfs.repo_type' is not supported with value \"spec\"",
    ),
    (
        "secrets",
        with_(transform__secrets=[{"name": "s"}]),
        "field 'transform.secrets' is not supported",
    ),
    # 3. negative counts.
    (
        "negative datum_tries",
        with_(datum_tries=-1),
        "'datum_tries' must be a whole number from 1 to 100 (0 means 3), not -1",
    ),
    (
        "too many datum_tries",
        with_(datum_tries=101),
        "'datum_tries' must be a whole number from 1 to 100",
    ),
    (
        "negative parallelism",
        with_(parallelism_spec={"constant": -1}),
        "'parallelism_spec.constant' must be a whole number of 0 or more, not -1",
    ),
    (
        "too much parallelism",
        with_(parallelism_spec={"constant": 257}),
        "'parallelism_spec.constant' must be a whole number from 1 to 256",
    ),
    # 4. strict types.
    (
        "outer_join as a string",
        with_(
            input={"join": [pfs(join_on="$1", outer_join="false"), pfs(repo="other", join_on="$1")]}
        ),
        "'input.join[0].pfs.outer_join' must be true or false, not \"false\"; "
        "write it without quotes",
    ),
    (
        "empty_files as a string",
        with_(input=pfs(empty_files="true")),
        "'input.pfs.empty_files' must be true or false",
    ),
    (
        "emptyFiles as a number",
        with_(input=pfs(emptyFiles=1)),
        "'input.pfs.empty_files' must be true or false, not 1",
    ),
    ("autoscaling as a string", with_(autoscaling="false"), "'autoscaling' must be true or false"),
    (
        "datum_tries as text",
        with_(datum_tries="three"),
        "'datum_tries' must be a whole number, not \"three\"",
    ),
    ("datum_tries padded", with_(datum_tries=" 3"), "'datum_tries' must be a whole number"),
    ("datum_tries fraction", with_(datum_tries=2.5), "'datum_tries' must be a whole number"),
    ("datum_tries bool", with_(datum_tries=True), "'datum_tries' must be a whole number, not true"),
    (
        "parallelism as a string",
        with_(parallelism_spec={"constant": "two"}),
        "'parallelism_spec.constant' must be a whole number",
    ),
    (
        "parallelism_spec not an object",
        with_(parallelism_spec=4),
        "'parallelism_spec' must be an object, not 4",
    ),
    (
        "repo as a number",
        with_(input={"pfs": {"repo": 7, "glob": "/*"}}),
        "'input.pfs.repo' must be a string, not 7; put the value in quotes",
    ),
    ("branch as a number", with_(input=pfs(branch=1)), "'input.pfs.branch' must be a string"),
    (
        "join_on as a number",
        with_(input={"join": [pfs(join_on=1), pfs(repo="other", join_on="$1")]}),
        "'input.join[0].pfs.join_on' must be a string",
    ),
    ("description as a number", with_(description=3), "'description' must be a string, not 3"),
    ("image as a list", with_(transform__image=["x"]), "'transform.image' must be a string"),
    (
        "cmd as a string",
        with_(transform__cmd="python3 /edges.py"),
        "'transform.cmd' must be a list of strings",
    ),
    (
        "cmd with null",
        with_(transform__cmd=["sh", None]),
        "'transform.cmd' must be a list of strings",
    ),
    (
        "env number",
        with_(transform__env={"PORT": 5439}),
        "'transform.env' must be an object of string values, not {\"PORT\": 5439}; quote numbers",
    ),
    (
        "env null value",
        with_(transform__env={"A": None}),
        "'transform.env' must be an object of string values",
    ),
    (
        "timeout as a number",
        with_(datum_timeout=30),
        "'datum_timeout' must be a duration like \"30s\"",
    ),
    ("cross not a list", with_(input={"cross": pfs()}), "'input.cross' must be a list of inputs"),
    ("pfs not an object", with_(input={"pfs": "images"}), "'input.pfs' must be an object"),
    # 5. projects other than 'default'.
    (
        "pipeline project",
        with_(pipeline={"name": "edges", "project": {"name": "staging"}}),
        "'pipeline.project' names project 'staging'; "
        "pachstream has one project: remove pipeline.project or use 'default'",
    ),
    (
        "pipeline project as a string",
        with_(pipeline={"name": "edges", "project": "default"}),
        "'pipeline.project' must be an object",
    ),
    (
        "pfs project",
        with_(input={"union": [pfs(), pfs(project="staging")]}),
        "'input.union[1].pfs.project' names project 'staging'; "
        "pachstream has one project: remove input.union[1].pfs.project or use 'default'",
    ),
    (
        "project at the top",
        with_(project="default"),
        "field 'project' is not supported; pachstream has one project",
    ),
    # 7. template references Pachyderm's worker crashes on.
    *[
        (
            f"template {t!r}",
            with_(input={"group": [pfs(glob="/(*)", group_by=t)]}),
            f"'input.group[0].pfs.group_by' is {t!r}, which has a group reference Pachyderm's "
            "worker crashes on",
        )
        for t in ("$01", "${01}", "$1234567890", "a$\u0661")
    ],
    (
        "template in join_on",
        with_(input={"join": [pfs(join_on="$1"), pfs(repo="other", join_on="$00")]}),
        "'input.join[1].pfs.join_on' is '$00'",
    ),
    # 6. names used twice outside a union.
    (
        "duplicate input names",
        with_(input={"cross": [pfs(), pfs(glob="/")]}),
        "input name 'images' is used twice",
    ),
    (
        "duplicate in a join",
        with_(
            input={"join": [pfs(join_on="$1", name="x"), pfs(repo="other", join_on="$1", name="x")]}
        ),
        "input name 'x' is used twice",
    ),
    (
        "duplicate inside one union alternative",
        with_(input={"union": [{"cross": [pfs(name="x"), pfs(repo="other", name="x")]}]}),
        "input name 'x' is used twice",
    ),
    (
        "union name crossed after",
        with_(
            input={
                "cross": [{"union": [pfs(name="x"), pfs(repo="other", name="x")]}, pfs(name="x")]
            }
        ),
        "input name 'x' is used twice",
    ),
    (
        "union name crossed before",
        with_(input={"cross": [pfs(name="x"), {"union": [pfs(repo="other", name="x")]}]}),
        "input name 'x' is used twice",
    ),
    (
        "second alternative clashes after",
        with_(
            input={
                "cross": [{"union": [pfs(name="a"), pfs(repo="other", name="b")]}, pfs(name="b")]
            }
        ),
        "input name 'b' is used twice",
    ),
]


@pytest.mark.parametrize(("name", "text", "message"), BAD, ids=[b[0] for b in BAD])
def test_invalid_specs_are_refused_with_the_field(name, text, message):
    with pytest.raises(InvalidSpec) as raised:
        parse_specs(text, known("images", "other", "edges"))
    assert message in raised.value.message
    if "pipeline 'edges'" in raised.value.message:
        assert raised.value.pipeline == "edges"


def test_two_pipelines_of_one_name_in_a_file():
    with pytest.raises(InvalidSpec, match="defined twice"):
        parse_specs(json.dumps([EDGES, EDGES]), known("images"))


def test_parse_spec_keeps_the_spec_as_given():
    raw = json.loads(
        with_(datum_tries=DELETE, datumTries=0, outputBranch="master", input=pfs(emptyFiles=True))
    )
    spec = parse_spec(raw, known("images"))
    assert spec.raw is raw and "datumTries" in spec.raw and spec.datum_tries == 3


def test_an_image_without_cmd_runs_its_entrypoint():
    spec = parse_specs(with_(transform__cmd=DELETE))[0]
    assert spec.transform.cmd == () and spec.transform.image == "pachyderm/opencv"
