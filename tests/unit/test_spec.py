"""Pipeline specs: Pachyderm's format in, validated specs or one clear error out."""

from __future__ import annotations

import json

import pytest

from pachstream.dispatch.datums import CrossInput, JoinInput, PfsInput
from pachstream.dispatch.spec import parse_specs
from pachstream.errors import InvalidSpec

EDGES = {
    "pipeline": {"name": "edges"},
    "description": "A pipeline that performs image edge detection.",
    "transform": {"cmd": ["python3", "/edges.py"], "image": "pachyderm/opencv", "env": {"B": "2", "A": "1"}},
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
    assert spec.input == PfsInput(name="images", repo="images", glob="/*")
    assert spec.repos() == [("images", "master")]


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
    assert isinstance(two.input, CrossInput) and two.reprocess == "every_job" and two.datum_timeout_s == 30
    stream = json.dumps(EDGES) + "\n" + json.dumps({**EDGES, "pipeline": {"name": "e2"}})
    assert [s.name for s in parse_specs(stream, known("images"))] == ["edges", "e2"]
    assert [s.name for s in parse_specs(json.dumps([EDGES]), known("images"))] == ["edges"]


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


def with_(**changes):
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

BAD = [
    ("unsupported field names the fix", with_(spout={"overwrite": True}), "field 'spout' is not supported; produce records to an ingest topic"),
    ("unknown field lists the allowed ones", with_(colour="red"), "field 'colour' is unknown; allowed here:"),
    ("unknown transform field", with_(transform__user="root"), "field 'transform.user' is not supported"),
    ("missing cmd", with_(transform__cmd=DELETE), "'transform.cmd' is missing"),
    ("missing transform", with_(transform=DELETE), "'transform' is missing"),
    ("missing input", with_(input=DELETE), "'input' is missing"),
    ("bad glob", with_(input={"pfs": {"repo": "images", "glob": "/[abc"}}), "'input.pfs'"),
    ("missing glob", with_(input={"pfs": {"repo": "images"}}), "'input.pfs.glob' is missing"),
    ("unknown repo", with_(input={"pfs": {"repo": "nope", "glob": "/*"}}), "names repo 'nope', which does not exist"),
    (
        "duplicate input names",
        with_(input={"cross": [{"pfs": {"repo": "images", "glob": "/*"}}, {"pfs": {"repo": "images", "glob": "/"}}]}),
        "input name 'images' is used twice",
    ),
    (
        "join side without join_on",
        with_(input={"join": [{"pfs": {"repo": "images", "glob": "/*", "join_on": "$1"}}, {"pfs": {"repo": "other", "glob": "/*"}}]}),
        "'input.join[1]' (input 'other') has no join_on",
    ),
    ("group without group_by", with_(input={"group": [{"pfs": {"repo": "images", "glob": "/*"}}]}), "has no group_by"),
    ("two kinds in one input", with_(input={"pfs": {"repo": "images", "glob": "/"}, "cross": []}), "exactly one of"),
    ("cron input", with_(input={"cron": {"name": "tick", "spec": "@every 1m"}}), "input kind 'input.cron' is not supported"),
    ("bad parallelism", with_(parallelism_spec={"constant": 0}), "'parallelism_spec.constant' must be a whole number"),
    ("bad datum_tries", with_(datum_tries="3"), "'datum_tries' must be a whole number"),
    ("bad reprocess", with_(reprocess_spec="sometimes"), "'reprocess_spec' must be"),
    ("bad timeout", with_(datum_timeout="soon"), "'datum_timeout' must be a duration"),
    ("bad name", with_(pipeline={"name": "bad name"}), "'pipeline.name'"),
    ("own output as input", with_(input={"pfs": {"repo": "edges", "glob": "/"}}), "cannot be its own input"),
    ("not an object", "[1, 2]", "document 1 of the pipeline file is a int"),
    ("not json", "{nope", "not valid JSON"),
    ("empty", "  ", "is empty"),
]


@pytest.mark.parametrize(("name", "text", "message"), BAD, ids=[b[0] for b in BAD])
def test_invalid_specs_are_refused_with_the_field(name, text, message):
    with pytest.raises(InvalidSpec) as raised:
        parse_specs(text, known("images", "other", "edges"))
    assert message in raised.value.message


def test_two_pipelines_of_one_name_in_a_file():
    with pytest.raises(InvalidSpec, match="defined twice"):
        parse_specs(json.dumps([EDGES, EDGES]), known("images"))
