"""Common reference typos are refused naming the reference that was meant."""

import pytest

from pachstream.client._client import _close
from pachstream.errors import InvalidName, InvalidRef
from pachstream.refs import (
    looks_like_colon_branch,
    parse_branch_ref,
    parse_commit_ref,
    parse_file_ref,
)

TYPOS = [
    # (parser, text, error, message)
    (
        parse_commit_ref,
        "images:master",
        InvalidRef,
        "reference 'images:master': did you mean 'images@master'? ('@' names the branch; ':' "
        "starts a path)",
    ),
    (
        parse_branch_ref,
        "images:dev",
        InvalidRef,
        "reference 'images:dev': did you mean 'images@dev'? ('@' names the branch; ':' starts "
        "a path)",
    ),
    (
        parse_file_ref,
        "images@master/cats/tom.png",
        InvalidName,
        "reference 'images@master/cats/tom.png': a path follows ':', not '/'; did you mean "
        "'images@master:/cats/tom.png'?",
    ),
    (
        parse_commit_ref,
        "images@master~1/x",
        InvalidName,
        "reference 'images@master~1/x': a path follows ':', not '/'; did you mean "
        "'images@master~1:/x'?",
    ),
    # A real path after ':' keeps the old message.
    (
        parse_commit_ref,
        "images:/a.csv",
        InvalidRef,
        "reference 'images:/a.csv': a commit reference has no path; drop ':/a.csv' or use a "
        "file command",
    ),
]


@pytest.mark.parametrize(("parse", "text", "error", "message"), TYPOS)
def test_typos_name_the_meant_ref(parse, text, error, message):
    with pytest.raises(error) as info:
        parse(text)
    assert str(info.value) == message


@pytest.mark.parametrize(
    ("text", "meant"),
    [
        ("images:master", "images@master"),
        ("images:data.csv", "images@data.csv"),
        ("images:/data.csv", None),
        ("images@master:data.csv", None),
        ("images", None),
        ("images:", None),
    ],
)
def test_looks_like_colon_branch(text, meant):
    assert looks_like_colon_branch(text) == meant


def test_file_refs_still_take_repo_colon_path():
    """The ingest topic's keys and the SDK accept ``repo:path`` on master."""
    assert str(parse_file_ref("images:master")) == "images@master:/master"


@pytest.mark.parametrize(
    ("word", "candidates", "hint"),
    [
        ("imgaes", ["images", "labels"], "'images'"),
        ("x", ["images", "labels"], ""),
        ("edge", ["edges", "edged", "ledge"], "'edged' or 'edges' or 'ledge'"),
    ],
)
def test_close_names(word, candidates, hint):
    found = _close(word, candidates)
    assert sorted(found.split(" or ")) == sorted(hint.split(" or "))
