import pytest

from pachstream.errors import InvalidInput, InvalidPath
from pachstream.paths import (
    ROOT,
    ancestors,
    basename,
    is_under,
    join,
    normalize_path,
    parent,
    split_segments,
    validate_file_path,
)

NORMALIZE = [
    ("", "/"),
    ("/", "/"),
    ("//", "/"),
    ("///", "/"),
    ("abc", "/abc"),
    ("/abc", "/abc"),
    ("abc/", "/abc"),
    ("/abc/", "/abc"),
    ("//a//b///c//", "/a/b/c"),
    ("a/b/c.csv", "/a/b/c.csv"),
    ("/.hidden/..data/...", "/.hidden/..data/..."),
    ("/a./.b/a..b", "/a./.b/a..b"),
    ("/ spaced name /x", "/ spaced name /x"),
    ("/données/été.csv", "/données/été.csv"),
    ("/数据/文件.txt", "/数据/文件.txt"),
    ("/emoji/😀🎉.png", "/emoji/😀🎉.png"),
    ("/e\u0301t\u0065\u0301", "/e\u0301t\u0065\u0301"),  # not Unicode-normalized
    ("/glob/a*b?c[d]e{f,g}(h)!@+^", "/glob/a*b?c[d]e{f,g}(h)!@+^"),
    ("/back\\slash\\", "/back\\slash\\"),
    ("/a:b@c=d~e", "/a:b@c=d~e"),
    ("/\u00a0nbsp/\u200bzwsp/\ufeffbom/\u2028ls", "/\u00a0nbsp/\u200bzwsp/\ufeffbom/\u2028ls"),
    ("/\u00a1after-c1", "/\u00a1after-c1"),
]


@pytest.mark.parametrize(("path", "expected"), NORMALIZE)
def test_normalize_path(path, expected):
    assert normalize_path(path) == expected
    assert normalize_path(expected) == expected


# (path, exact message)
BAD_PATHS = [
    (
        "/a\x00b",
        "path '/a\\x00b': control character U+0000 (NUL) at position 2 is not allowed; "
        "remove it from the file name",
    ),
    (
        "/a\nb",
        "path '/a\\nb': control character U+000A (LF) at position 2 is not allowed; "
        "remove it from the file name",
    ),
    (
        "a\tb",
        "path 'a\\tb': control character U+0009 (TAB) at position 1 is not allowed; "
        "remove it from the file name",
    ),
    (
        "/\x1f",
        "path '/\\x1f': control character U+001F at position 1 is not allowed; "
        "remove it from the file name",
    ),
    (
        "/x\x7f",
        "path '/x\\x7f': control character U+007F (DEL) at position 2 is not allowed; "
        "remove it from the file name",
    ),
    (
        "/\x80",
        "path '/\\x80': control character U+0080 at position 1 is not allowed; "
        "remove it from the file name",
    ),
    (
        "/é\x9f",
        "path '/é\\x9f': control character U+009F at position 2 is not allowed; "
        "remove it from the file name",
    ),
    (
        "/bad\udcff",
        "path '/bad\\udcff': U+DCFF at position 4 is a lone surrogate, i.e. the name was not "
        "valid UTF-8; rename the file with UTF-8 text",
    ),
    (
        "/\ud83d",
        "path '/\\ud83d': U+D83D at position 1 is a lone surrogate, i.e. the name was not "
        "valid UTF-8; rename the file with UTF-8 text",
    ),
    (
        "a/../b",
        "path 'a/../b': '..' segments are not allowed; name the file by its full path from "
        "the root without them",
    ),
    (
        "/a/./b",
        "path '/a/./b': '.' segments are not allowed; name the file by its full path from "
        "the root without them",
    ),
    (
        "..",
        "path '..': '..' segments are not allowed; name the file by its full path from the "
        "root without them",
    ),
    (
        "/a/.",
        "path '/a/.': '.' segments are not allowed; name the file by its full path from the "
        "root without them",
    ),
    (
        "./",
        "path './': '.' segments are not allowed; name the file by its full path from the "
        "root without them",
    ),
]


@pytest.mark.parametrize(("path", "message"), BAD_PATHS)
def test_bad_paths_are_refused(path, message):
    with pytest.raises(InvalidPath) as info:
        normalize_path(path)
    assert str(info.value) == message
    assert info.value.path == path
    assert isinstance(info.value, InvalidInput)


def test_surrogateescape_decoded_bytes_are_refused():
    path = b"/caf\xe9.txt".decode("utf-8", "surrogateescape")
    with pytest.raises(InvalidPath, match="lone surrogate"):
        normalize_path(path)


@pytest.mark.parametrize("value", [None, b"/a", 1])
def test_non_text_paths_are_refused(value):
    with pytest.raises(InvalidPath, match="a path is text"):
        normalize_path(value)


@pytest.mark.parametrize(
    ("path", "expected"),
    [("a", "/a"), ("/a/b/", "/a/b"), ("/数据/文件.txt", "/数据/文件.txt"), ("/a*", "/a*")],
)
def test_validate_file_path(path, expected):
    assert validate_file_path(path) == expected


@pytest.mark.parametrize("path", ["", "/", "//"])
def test_validate_file_path_refuses_the_root(path):
    with pytest.raises(InvalidPath) as info:
        validate_file_path(path)
    assert str(info.value) == (
        f"path '{path}': the root directory cannot be a file; give a file name such as '/data.csv'"
    )


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/", ()),
        ("", ()),
        ("/a", ("a",)),
        ("a//b/", ("a", "b")),
        ("/données/été.csv", ("données", "été.csv")),
        ("/a*/[b]", ("a*", "[b]")),
    ],
)
def test_split_segments(path, expected):
    assert split_segments(path) == expected


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/a/b", "/a"),
        ("/a", "/"),
        ("a/b/c/", "/a/b"),
        ("/数据/文件.txt", "/数据"),
        ("/a\\b/c", "/a\\b"),
    ],
)
def test_parent(path, expected):
    assert parent(path) == expected


@pytest.mark.parametrize("path", ["/", ""])
def test_parent_of_root_is_refused(path):
    with pytest.raises(InvalidPath, match="the root directory has no parent"):
        parent(path)


@pytest.mark.parametrize(
    ("path", "expected"),
    [("/", []), ("/a", ["/"]), ("/a/b/c", ["/a/b", "/a", "/"]), ("/é/ü", ["/é", "/"])],
)
def test_ancestors(path, expected):
    assert ancestors(path) == expected


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/", ""),
        ("/a", "a"),
        ("/a/b.csv", "b.csv"),
        ("a/b/", "b"),
        ("/数据/文件.txt", "文件.txt"),
        ("/😀", "😀"),
    ],
)
def test_basename(path, expected):
    assert basename(path) == expected


@pytest.mark.parametrize(
    ("path", "directory", "expected"),
    [
        ("/a/b", "/a", True),
        ("/a", "/a", True),
        ("/a/b/c", "a/", True),
        ("/ab", "/a", False),
        ("/a", "/a/b", False),
        ("/anything", "/", True),
        ("/", "/", True),
        ("/", "/a", False),
        ("/données/été.csv", "/données", True),
        ("/donnéesX", "/données", False),
    ],
)
def test_is_under(path, directory, expected):
    assert is_under(path, directory) is expected


@pytest.mark.parametrize(
    ("parts", "expected"),
    [(("/a", "b"), "/a/b"), (("/", "b/c"), "/b/c"), (("/a/", "/b/"), "/a/b"), (("/",), "/")],
)
def test_join(parts, expected):
    assert join(*parts) == expected


def test_root_constant():
    assert ROOT == "/" == normalize_path("")


@pytest.mark.parametrize("helper", [parent, basename, split_segments, ancestors])
def test_helpers_validate_their_input(helper):
    with pytest.raises(InvalidPath, match="'..' segments"):
        helper("/a/../b")
