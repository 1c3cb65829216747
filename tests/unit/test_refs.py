import dataclasses

import pytest

from pachstream.errors import InvalidName, InvalidPath, InvalidRef
from pachstream.refs import (
    BranchRef,
    CommitRef,
    FileRef,
    parse_branch_ref,
    parse_commit_ref,
    parse_file_ref,
)

CID = "0123456789abcdef0123456789abcdef"

COMMIT_REFS = [
    ("images", CommitRef("images", "master", 0)),
    ("images@master", CommitRef("images", "master", 0)),
    ("images@dev", CommitRef("images", "dev", 0)),
    ("images@master^", CommitRef("images", "master", 1)),
    ("images@master^^", CommitRef("images", "master", 2)),
    ("images@master^^^", CommitRef("images", "master", 3)),
    ("images@master~", CommitRef("images", "master", 1)),
    ("images@master~~", CommitRef("images", "master", 2)),
    ("images@master~3", CommitRef("images", "master", 3)),
    ("images@master^3", CommitRef("images", "master", 3)),
    ("images@master^~2", CommitRef("images", "master", 3)),
    ("images@master~2^", CommitRef("images", "master", 3)),
    ("images@master~1~2", CommitRef("images", "master", 3)),
    ("images@master~0", CommitRef("images", "master", 0)),
    ("images@master~010", CommitRef("images", "master", 10)),
    ("images@master.1", CommitRef("images", "master", 0, from_start=1)),
    ("images@master.3", CommitRef("images", "master", 0, from_start=3)),
    ("images@master.5^2", CommitRef("images", "master", 0, from_start=3)),
    ("images@master.5~~", CommitRef("images", "master", 0, from_start=3)),
    ("images@master.2^", CommitRef("images", "master", 0, from_start=1)),
    (f"images@{CID}", CommitRef("images", CID, 0)),
    (f"images@{CID.upper()}", CommitRef("images", CID, 0)),
    (f"images@{CID}~2", CommitRef("images", CID, 2)),
    (f"images@{CID}^", CommitRef("images", CID, 1)),
    ("my-repo_2@feature-x_1", CommitRef("my-repo_2", "feature-x_1", 0)),
]


@pytest.mark.parametrize(("text", "expected"), COMMIT_REFS)
def test_parse_commit_ref(text, expected):
    assert parse_commit_ref(text) == expected


@pytest.mark.parametrize(
    ("text", "rendered"),
    [
        ("images", "images@master"),
        ("images@dev^^", "images@dev~2"),
        ("images@master.5^2", "images@master.3"),
        (f"images@{CID.upper()}~1", f"images@{CID}~1"),
    ],
)
def test_commit_ref_renders_canonically_and_round_trips(text, rendered):
    ref = parse_commit_ref(text)
    assert str(ref) == rendered
    assert parse_commit_ref(rendered) == ref


@pytest.mark.parametrize(("ref", "expected"), [("master", False), (CID, True)])
def test_commit_ref_is_commit_id(ref, expected):
    assert CommitRef("images", ref).is_commit_id is expected


def test_commit_ref_is_frozen_with_slots():
    ref = parse_commit_ref("images@master")
    with pytest.raises(dataclasses.FrozenInstanceError):
        ref.repo = "other"
    assert not hasattr(ref, "__dict__")


# (text, error class, exact message)
BAD_COMMIT_REFS = [
    (
        "images@master~x",
        InvalidRef,
        "reference 'images@master~x': '~x' is not an ancestry; use master~N with N a number, "
        "or master^ for the parent",
    ),
    (
        "images@master^a",
        InvalidRef,
        "reference 'images@master^a': '^a' is not an ancestry; use master~N with N a number, "
        "or master^ for the parent",
    ),
    (
        "images@master~1.2",
        InvalidRef,
        "reference 'images@master~1.2': '.2' is misplaced; '.N' may only come right after the "
        "branch name, before any '^' or '~', e.g. master.3~1",
    ),
    (
        "images@master.0",
        InvalidRef,
        "reference 'images@master.0': '.0' is not a commit number; use master.N with N >= 1 "
        "(e.g. master.1 for the branch's first commit)",
    ),
    (
        "images@master.",
        InvalidRef,
        "reference 'images@master.': '.' is not a commit number; use master.N with N >= 1 "
        "(e.g. master.1 for the branch's first commit)",
    ),
    (
        "images@master.x",
        InvalidRef,
        "reference 'images@master.x': '.x' is not a commit number; use master.N with N >= 1 "
        "(e.g. master.1 for the branch's first commit)",
    ),
    (
        "images@master.2~2",
        InvalidRef,
        "reference 'images@master.2~2': going back 2 from commit 2 of the branch passes its "
        "first commit; use fewer than 2 generations",
    ),
    (
        f"images@{CID}.1",
        InvalidRef,
        f"reference 'images@{CID}.1': '.N' counts commits from the start of a branch, and "
        f"'{CID}' is a commit id; use 'images@<branch>.N' or 'images@{CID}~N'",
    ),
    (
        "images@",
        InvalidRef,
        "reference 'images@': nothing follows '@'; name a branch or a commit, e.g. "
        "'images@master', or drop the '@' for master",
    ),
    (
        "@master",
        InvalidRef,
        "reference '@master': the repo name is missing; write it as 'repo@branch'",
    ),
    ("", InvalidRef, "reference '': the repo name is missing; write it as 'repo@branch'"),
    (
        "images@~1",
        InvalidRef,
        "reference 'images@~1': '~' needs a branch or commit before it, e.g. 'images@master~1'",
    ),
    (
        "images@dev=abc",
        InvalidRef,
        "reference 'images@dev=abc': the 'branch=commit' form is not supported; name the commit "
        "alone, e.g. 'images@<commit-id>'",
    ),
    (
        "images@master:/a.csv",
        InvalidRef,
        "reference 'images@master:/a.csv': a commit reference has no path; drop ':/a.csv' or "
        "use a file command",
    ),
    (
        "images@master~99999999999",
        InvalidRef,
        "reference 'images@master~99999999999': '99999999999' is larger than 1000000000; count "
        "fewer commits",
    ),
    (
        "images@ma$ter",
        InvalidName,
        "reference 'images@ma$ter': branch name 'ma$ter': character '$' at position 2 is not "
        "allowed; use only ASCII letters, digits, '_' and '-', e.g. 'ma_ter'",
    ),
    (
        "im ages@master",
        InvalidName,
        "reference 'im ages@master': repo name 'im ages': character ' ' at position 2 is not "
        "allowed; use only ASCII letters, digits, '_' and '-', e.g. 'im_ages'",
    ),
    (
        "proj/images@master",
        InvalidName,
        "reference 'proj/images@master': repo name 'proj/images': character '/' at position 4 "
        "is not allowed; use only ASCII letters, digits, '_' and '-', e.g. 'proj_images'",
    ),
    (
        "images@a@b",
        InvalidName,
        "reference 'images@a@b': branch name 'a@b': character '@' at position 1 is not "
        "allowed; use only ASCII letters, digits, '_' and '-', e.g. 'a_b'",
    ),
    (
        "images@brânch",
        InvalidName,
        "reference 'images@brânch': branch name 'brânch': character 'â' at position 2 is not "
        "allowed; use only ASCII letters, digits, '_' and '-', e.g. 'br_nch'",
    ),
]


@pytest.mark.parametrize(("text", "error", "message"), BAD_COMMIT_REFS)
def test_bad_commit_refs(text, error, message):
    with pytest.raises(error) as info:
        parse_commit_ref(text)
    assert str(info.value) == message
    assert info.value.ref == text


def test_unicode_digits_are_not_ancestry():
    with pytest.raises(InvalidRef, match="is not an ancestry"):
        parse_commit_ref("images@master~²")


FILE_REFS = [
    ("images", FileRef(CommitRef("images", "master"), "/")),
    ("images@master", FileRef(CommitRef("images", "master"), "/")),
    ("images@master:", FileRef(CommitRef("images", "master"), "/")),
    ("images@master:/", FileRef(CommitRef("images", "master"), "/")),
    ("images@master:/a/b.png", FileRef(CommitRef("images", "master"), "/a/b.png")),
    ("images@master:a/b/", FileRef(CommitRef("images", "master"), "/a/b")),
    ("images@master://a//b", FileRef(CommitRef("images", "master"), "/a/b")),
    ("images@dev~2:/x", FileRef(CommitRef("images", "dev", 2), "/x")),
    ("images@master.1:/x", FileRef(CommitRef("images", "master", 0, from_start=1), "/x")),
    (f"images@{CID}:/x", FileRef(CommitRef("images", CID), "/x")),
    ("images:/x", FileRef(CommitRef("images", "master"), "/x")),
    ("images:/a@b", FileRef(CommitRef("images", "master"), "/a@b")),
    ("images@dev:/t:1@2.csv", FileRef(CommitRef("images", "dev"), "/t:1@2.csv")),
    ("images@dev:/a:b:c", FileRef(CommitRef("images", "dev"), "/a:b:c")),
    ("images@dev:/données/été.csv", FileRef(CommitRef("images", "dev"), "/données/été.csv")),
    ("images@dev:/数据/文件.txt", FileRef(CommitRef("images", "dev"), "/数据/文件.txt")),
    ("images@dev:/😀.png", FileRef(CommitRef("images", "dev"), "/😀.png")),
    ("images@dev:/*/(*).csv", FileRef(CommitRef("images", "dev"), "/*/(*).csv")),
    ("images@dev:/a\\*b", FileRef(CommitRef("images", "dev"), "/a\\*b")),
    ("images@dev:/x~1^", FileRef(CommitRef("images", "dev"), "/x~1^")),
]


@pytest.mark.parametrize(("text", "expected"), FILE_REFS)
def test_parse_file_ref(text, expected):
    assert parse_file_ref(text) == expected


@pytest.mark.parametrize(
    ("text", "rendered"),
    [
        ("images", "images@master:/"),
        ("images@dev^:a//b/", "images@dev~1:/a/b"),
        ("x:/é", "x@master:/é"),
    ],
)
def test_file_ref_renders_canonically(text, rendered):
    assert str(parse_file_ref(text)) == rendered


BAD_FILE_REFS = [
    (
        "images@master:/a/../b",
        InvalidPath,
        "reference 'images@master:/a/../b': path '/a/../b': '..' segments are not allowed; name "
        "the file by its full path from the root without them",
    ),
    (
        "images@master:/a\x00b",
        InvalidPath,
        "reference 'images@master:/a\\x00b': path '/a\\x00b': control character U+0000 (NUL) at "
        "position 2 is not allowed; remove it from the file name",
    ),
    (
        "images@master~x:/a",
        InvalidRef,
        "reference 'images@master~x:/a': '~x' is not an ancestry; use master~N with N a number, "
        "or master^ for the parent",
    ),
    (":/a", InvalidRef, "reference ':/a': the repo name is missing; write it as 'repo@branch'"),
    (
        "im.ages:/a",
        InvalidName,
        "reference 'im.ages:/a': repo name 'im.ages': character '.' at position 2 is not "
        "allowed; use only ASCII letters, digits, '_' and '-', e.g. 'im_ages'",
    ),
]


@pytest.mark.parametrize(("text", "error", "message"), BAD_FILE_REFS)
def test_bad_file_refs(text, error, message):
    with pytest.raises(error) as info:
        parse_file_ref(text)
    assert str(info.value) == message
    assert info.value.ref == text


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("images@dev", BranchRef("images", "dev")),
        ("images@master", BranchRef("images", "master")),
        ("a-b@c_d", BranchRef("a-b", "c_d")),
    ],
)
def test_parse_branch_ref(text, expected):
    ref = parse_branch_ref(text)
    assert ref == expected
    assert str(ref) == text


BAD_BRANCH_REFS = [
    ("images", InvalidRef, "reference 'images': a branch is needed; write it as 'images@branch'"),
    (
        "images@dev~1",
        InvalidRef,
        "reference 'images@dev~1': a branch reference takes no ancestry; drop '~1' and write "
        "'images@dev'",
    ),
    (
        "images@dev^",
        InvalidRef,
        "reference 'images@dev^': a branch reference takes no ancestry; drop '^' and write "
        "'images@dev'",
    ),
    (
        "images@dev~0",
        InvalidRef,
        "reference 'images@dev~0': a branch reference takes no ancestry; drop '~0' and write "
        "'images@dev'",
    ),
    (
        "images@master.1",
        InvalidRef,
        "reference 'images@master.1': a branch reference takes no ancestry; drop '.1' and write "
        "'images@master'",
    ),
    (
        f"images@{CID}",
        InvalidRef,
        f"reference 'images@{CID}': '{CID}' is a commit id, not a branch; name a branch, e.g. "
        f"'images@master'",
    ),
    (
        "images@dev:/x",
        InvalidRef,
        "reference 'images@dev:/x': a branch reference has no path; drop ':/x'",
    ),
    (
        "images@d.v",
        InvalidRef,
        "reference 'images@d.v': '.v' is not a commit number; use d.N with N >= 1 (e.g. d.1 "
        "for the branch's first commit)",
    ),
    (
        "images@dé",
        InvalidName,
        "reference 'images@dé': branch name 'dé': character 'é' at position 1 is not allowed; "
        "use only ASCII letters, digits, '_' and '-', e.g. 'd_'",
    ),
]


@pytest.mark.parametrize(("text", "error", "message"), BAD_BRANCH_REFS)
def test_bad_branch_refs(text, error, message):
    with pytest.raises(error) as info:
        parse_branch_ref(text)
    assert str(info.value) == message
    assert info.value.ref == text


@pytest.mark.parametrize("parse", [parse_commit_ref, parse_file_ref, parse_branch_ref])
def test_non_text_refs_are_refused(parse):
    with pytest.raises(InvalidRef, match="a reference is text"):
        parse(None)
