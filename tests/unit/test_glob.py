import time

import pytest

from pachstream.errors import InvalidInput, InvalidPath
from pachstream.glob import Glob, check_template, compile_glob, glob_paths, template

# (pattern, path, matches)
MATCHES = [
    # root
    ("/", "/", True),
    ("", "/", True),
    ("//", "/", True),
    ("/", "/a", False),
    ("/*", "/", False),
    ("/**", "/", False),
    ("*", "/", False),
    # *
    ("/*", "/a", True),
    ("/*", "/a.csv", True),
    ("/*", "/a/b", False),
    ("*", "/a", True),
    ("/a*", "/a", True),
    ("/a*", "/abc", True),
    ("/a*", "/ba", False),
    ("/*.csv", "/x.csv", True),
    ("/*.csv", "/x.csvx", False),
    ("/*/*", "/a/b", True),
    ("/*/*", "/a", False),
    ("/*/*", "/a/b/c", False),
    ("/*b*", "/abc", True),
    # ?
    ("/?", "/a", True),
    ("/?", "/ab", False),
    ("/?", "/é", True),
    ("/?", "/😀", True),
    ("/a?c", "/a/c", False),
    ("/???", "/数据文", True),
    # **
    ("/**", "/a", True),
    ("/**", "/a/b/c", True),
    ("**", "/a/b", True),
    ("/a/**", "/a/b/c", True),
    ("/a/**", "/a", False),
    ("/a/**", "/ab/c", False),
    ("/**/x", "/x", False),
    ("/**/x", "/a/x", True),
    ("/**/x", "/a/b/x", True),
    ("/**.csv", "/a/b/c.csv", True),
    ("/a**", "/abc/d", True),
    # classes
    ("/[abc]", "/b", True),
    ("/[abc]", "/d", False),
    ("/[a-c]x", "/bx", True),
    ("/[a-c]x", "/dx", False),
    ("/[!abc]", "/d", True),
    ("/[!abc]", "/a", False),
    ("/[^abc]", "/d", True),
    ("/[^abc]", "/a", False),
    # A class is a plain set of characters, '/' included, as in ohmyglob (these four were
    # False before: pachstream used to keep classes off '/').
    ("/a[!b]c", "/a/c", True),
    ("/a[^b]c", "/a/c", True),
    ("/a[!-0]c", "/a/c", True),
    ("/a[.-0]c", "/a/c", True),
    ("/*[!_]*", "/dir/file", True),
    ("/a[!b]c", "/abc", False),
    ("/[a!]", "/a", False),
    ("/[a!]", "/!", True),
    ("/[a^]", "/b", True),
    ("/[[:^alpha:]]", "/-", True),
    ("/[[:^alpha:]]", "/a", False),
    ("/[:alpha:]", "/q", True),
    ("/[:alpha:]", "/:", False),
    ("/a[.-0]c", "/a.c", True),
    ("/[[:digit:]][[:alpha:]]", "/5x", True),
    ("/[[:digit:]]", "/x", False),
    ("/[![:digit:]]", "/x", True),
    ("/[a[:digit:]]", "/7", True),
    ("/[é-ü]", "/ö", True),
    ("/[*?]", "/*", True),
    ("/[*?]", "/a", False),
    ("/[a\\]]", "/]", True),
    ("/[a-]", "/-", True),
    ("/[-a]", "/-", True),
    ("/[\\!a]", "/!", True),
    # alternatives
    ("/{a,b,c}", "/b", True),
    ("/{a,b,c}", "/d", False),
    ("/{a,b*}/c", "/bz/c", True),
    ("/{a,b*}/c", "/az/c", False),
    ("/{x/y,z}", "/x/y", True),
    ("/{a,{b,c}d}", "/cd", True),
    ("/a{,b}", "/a", True),
    ("/a{}", "/a", True),
    ("/{a|b}", "/a|b", True),
    ("/{(a,b)}", "/(a,b)", False),
    ("/{*.csv,*.tsv}", "/x.tsv", True),
    # capture groups (also match)
    ("/(a|b)", "/b", True),
    ("/(a|b)", "/c", False),
    ("/@(a|b)", "/a", True),
    ("/a*(b)", "/a", True),
    ("/a*(b)", "/abbb", True),
    ("/a*(b)", "/axb", False),
    ("/a+(b)", "/a", False),
    ("/a+(b)", "/abb", True),
    ("/a?(b)", "/ab", True),
    ("/a?(b)", "/abb", False),
    ("/(a,b)", "/a,b", True),
    # repetitions of nested groups (these raised TypeError before)
    ("/*(f*(o))", "/fofo", True),
    ("/*(f*(o))", "/ofo", False),
    ("/?((a|b))", "/b", True),
    ("/?((a|b))", "/", False),
    ("/?((a|b))x", "/x", True),
    ("/+({a,b}c)", "/acbc", True),
    ("/+({a,b}c)", "/cc", False),
    ("/*([0-9])", "/123", True),
    ("/*(*(*(a)))", "/aaaa", True),
    # negation, as ohmyglob
    ("/!(**)", "/foo1", False),
    ("/!(*.js)", "/a.js", False),
    ("/!(*.js)", "/a.json", True),
    ("/!(*.js)", "/a/b", False),
    ("/!(foo)*", "/foobar", False),
    ("/!(foo)*", "/bar", True),
    ("/a!(x)", "/a", True),
    ("/a!(x)", "/ax", False),
    ("/!(x)/*", "/y/z", True),
    ("/!(x)/*", "/x/z", False),
    ("/!(!(foo))", "/foo", True),
    # literals and escapes
    ("/a)", "/a)", True),
    ("/a}", "/a}", True),
    ("/a]", "/a]", True),
    ("/a|b,c", "/a|b,c", True),
    ("/a@b+c!d^e", "/a@b+c!d^e", True),
    # '+', '@', '!', '^' without '(' do not change how ')', '|', ',' and '}' read (ohmyglob
    # reads the rest of the run as text: its '{c++,d}' matches neither '/c++' nor '/d').
    ("/{c++,d}/*", "/c++/f", True),
    ("/(a+|b)", "/b", True),
    ("/{a@x,b}", "/a@x", True),
    ("/a.b", "/a.b", True),
    ("/a.b", "/axb", False),
    ("/a$b", "/a$b", True),
    ("/data/a\\*b", "/data/a*b", True),
    ("/data/a\\*b", "/data/axb", False),
    ("/a\\?", "/a?", True),
    ("/a\\?", "/ab", False),
    ("/\\[x\\]", "/[x]", True),
    ("/\\{a,b\\}", "/{a,b}", True),
    ("/\\{a,b\\}", "/a", False),
    ("/\\(x\\)", "/(x)", True),
    ("/a\\\\b", "/a\\b", True),
    ("/a\\b", "/ab", True),
    ("/\\!(x)", "/!x", True),
    ("/\\!\\(x\\)", "/!(x)", True),
    ("/\\*\\*", "/**", True),
    ("/\\*\\*", "/ab", False),
    ("/a*(b)", "/a*(b)", False),
    ("/a\\*(b)", "/a*b", True),
    ("/a[*](b)", "/a*b", True),
    # leading, trailing and repeated slashes
    ("a/b", "/a/b", True),
    ("/a/b/", "/a/b", True),
    ("//a//b//", "/a/b", True),
    ("/a/\\/b", "/a/b", True),
    # non-ASCII
    ("/données/*.csv", "/données/été.csv", True),
    ("/données/*.csv", "/donnees/ete.csv", False),
    ("/数据/*.txt", "/数据/文件.txt", True),
    ("/*/文件.txt", "/数据/文件.txt", True),
    ("/emoji/?.png", "/emoji/😀.png", True),
    ("/emoji/*", "/emoji/🎉🎉", True),
    # the path side is normalized too
    ("/a/*", "a/b/", True),
    ("/a/*", "//a//b", True),
]


@pytest.mark.parametrize(("pattern", "path", "expected"), MATCHES)
def test_match(pattern, path, expected):
    assert compile_glob(pattern).match(path) is expected


# (pattern, path, groups)
GROUPS = [
    ("/*/(*)_(*).csv", "/d/a_b.csv", ("a", "b")),
    ("*/(*)_(*).csv", "/d/a_b_c.csv", ("a_b", "c")),
    ("/(*)", "/x", ("x",)),
    ("/(*)/(**)", "/a/b/c", ("a", "b/c")),
    ("/(a|b)/(?)", "/b/x", ("b", "x")),
    ("/((a)(b))", "/ab", ("ab", "a", "b")),
    ("/(a(b|c))(d)", "/acd", ("ac", "c", "d")),
    ("/{(a),(b)}", "/b", ("", "b")),
    ("/?(a)x", "/x", ("",)),
    ("/a*(b)", "/abbb", ("bbb",)),
    ("/+(a|b)/x.go", "/aba/x.go", ("aba",)),
    ("/*(*)", "/abc", ("abc",)),
    ("/+(*)", "/abc", ("abc",)),
    ("/(*).(*)", "/archive.tar.gz", ("archive.tar", "gz")),
    ("/(données)/(*)", "/données/été.csv", ("données", "été.csv")),
    ("/(*)/(*).txt", "/数据/文件.txt", ("数据", "文件")),
    ("/(*).png", "/😀.png", ("😀",)),
    ("/(a\\*b)", "/a*b", ("a*b",)),
    ("/(a\\)b)", "/a)b", ("a)b",)),
    ("/(a[|]b)", "/a|b", ("a|b",)),
    ("/*@(b)", "/aab", ("b",)),
    ("/*@(*).csv", "/x.csv", ("",)),
    ("/*", "/x", ()),
    ("/(*)", "/x/y", None),
    ("/", "/", ()),
]


@pytest.mark.parametrize(("pattern", "path", "expected"), GROUPS)
def test_groups(pattern, path, expected):
    assert compile_glob(pattern).groups(path) == expected


@pytest.mark.parametrize(
    ("pattern", "count"),
    [
        ("/*", 0),
        ("/(*)", 1),
        ("/((a)(b))", 3),
        ("/*(a)+(b)?(c)@(d)", 4),
        ("/\\(x\\)", 0),
        ("/[(]", 0),
    ],
)
def test_group_count(pattern, count):
    assert compile_glob(pattern).group_count == count


@pytest.mark.parametrize(
    ("pattern", "prefix"),
    [
        ("/", "/"),
        ("/*", "/"),
        ("/a/b", "/a/b"),
        ("/a/b*", "/a"),
        ("/a/b/*.csv", "/a/b"),
        ("data/2024/**", "/data/2024"),
        ("/a/{b,c}", "/a"),
        ("/données/été*", "/données"),
        ("/a\\*b/c?", "/a*b"),
        ("//a//b//", "/a/b"),
    ],
)
def test_literal_prefix(pattern, prefix):
    assert compile_glob(pattern).literal_prefix == prefix


# (pattern, exact message, position)
BAD_PATTERNS = [
    ("/a[bc", "glob '/a[bc': '[' is never closed at position 2; add ']' or escape it as '\\['", 2),
    ("/[", "glob '/[': '[' is never closed at position 1; add ']' or escape it as '\\['", 1),
    ("/[!", "glob '/[!': '[' is never closed at position 1; add ']' or escape it as '\\['", 1),
    ("/{a,b", "glob '/{a,b': '{' is never closed at position 1; add '}' or escape it as '\\{'", 1),
    (
        "/x/(a|b",
        "glob '/x/(a|b': '(' is never closed at position 3; add ')' or escape it as '\\('",
        3,
    ),
    ("/*(a", "glob '/*(a': '(' is never closed at position 2; add ')' or escape it as '\\('", 2),
    (
        "/{a,(b}",
        "glob '/{a,(b}': '(' is never closed at position 4; add ')' or escape it as '\\('",
        4,
    ),
    ("/a\\", "glob '/a\\\\': '\\' escapes nothing at position 2; write '\\\\' for a backslash", 2),
    (
        "/[a\\",
        "glob '/[a\\\\': '\\' escapes nothing at position 3; write '\\\\' for a backslash",
        3,
    ),
    ("/[]", "glob '/[]': empty class '[]' at position 1; escape a literal bracket as '\\['", 1),
    ("/[!]", "glob '/[!]': empty class '[]' at position 1; escape a literal bracket as '\\['", 1),
    ("/[z-a]", "glob '/[z-a]': range 'z-a' is reversed at position 4; write 'a-z'", 4),
    (
        "/x^(a)",
        "glob '/x^(a)': '^(' is not a group at position 2; write '!(' for a negated group, or "
        "'\\^\\(' to match the text '^('",
        2,
    ),
    ("/!(a", None, 2),
    ("/[[:x", "glob '/[[:x': '[:' is never closed at position 2; close the class with ':]'", 2),
    ("/a/../b", None, 3),
    ("./a", None, 0),
    ("/a/.", None, 3),
]


@pytest.mark.parametrize(("pattern", "message", "position"), BAD_PATTERNS)
def test_bad_patterns(pattern, message, position):
    with pytest.raises(InvalidInput) as info:
        compile_glob(pattern)
    if message is not None:
        assert str(info.value) == message
    assert info.value.pattern == pattern
    assert info.value.position == position
    assert pattern in str(info.value) or repr(pattern)[1:-1] in str(info.value)


@pytest.mark.parametrize("opener", ["(", "{", "*(", "!("])
def test_deep_nesting_is_refused_not_a_recursion_error(opener):
    closer = "}" if opener == "{" else ")"
    assert compile_glob("/" + opener * 50 + "a" + closer * 50).match("/a")
    with pytest.raises(InvalidInput) as info:
        compile_glob("/" + opener * 51 + "a" + closer * 51)
    assert "nest more than 50 deep" in str(info.value)
    with pytest.raises(InvalidInput):
        compile_glob("/" + opener * 5000)


def test_relative_segment_message():
    with pytest.raises(InvalidInput) as info:
        compile_glob("/a/../b")
    assert str(info.value) == (
        "glob '/a/../b': '..' segment never matches at position 3; paths have no relative "
        "segments; write the full path from the root"
    )


def test_unknown_posix_class_lists_the_known_ones():
    with pytest.raises(InvalidInput) as info:
        compile_glob("/[[:bad:]]")
    assert str(info.value).startswith(
        "glob '/[[:bad:]]': unknown class '[:bad:]' at position 2; use one of [:alnum:], "
    )
    assert "[:xdigit:]" in str(info.value)


def test_non_text_pattern_is_refused():
    with pytest.raises(InvalidInput, match="a glob is text"):
        compile_glob(b"/*")


def test_compile_is_cached_and_glob_is_frozen():
    glob = compile_glob("/cached/*")
    assert compile_glob("/cached/*") is glob
    assert isinstance(glob, Glob)
    with pytest.raises(AttributeError):
        glob.pattern = "/other"


def test_match_refuses_invalid_paths():
    with pytest.raises(InvalidPath, match="'..' segments"):
        compile_glob("/*").match("/a/../b")


@pytest.mark.parametrize(
    "pattern",
    [
        "/*(*)x",
        "/+(*)x",
        "/*(*(*(a)))x",
        "/+(a|aa)x",
        "/*(!(f))x",
        "/*a*a*a*a*a*b",
        "/!(*a*a*a*b)x",
    ],
)
def test_nested_repetition_does_not_backtrack_exponentially(pattern):
    glob = compile_glob(pattern)
    start = time.monotonic()
    assert not glob.match("/" + "a" * 5000)
    assert glob.groups("/" + "a" * 5000) is None
    assert glob_paths(pattern, ["/" + "a" * 2000 + "/b"]) == []
    assert time.monotonic() - start < 2


FILES = ["/a/b/c.csv", "/a/d.csv", "/e.txt", "/f/g/h/i.csv", "/données/été.csv", "/数据/文件.txt"]

# (pattern, paths, expected)
GLOB_PATHS = [
    ("/", FILES, ["/"]),
    ("/", [], []),
    ("/*", [], []),
    ("/*", FILES, ["/a", "/données", "/e.txt", "/f", "/数据"]),
    ("/*/*", FILES, ["/a/b", "/a/d.csv", "/données/été.csv", "/f/g", "/数据/文件.txt"]),
    ("/**.csv", FILES, ["/a/b/c.csv", "/a/d.csv", "/données/été.csv", "/f/g/h/i.csv"]),
    ("/a/**", FILES, ["/a/b", "/a/b/c.csv", "/a/d.csv"]),
    ("/**", ["/x/y"], ["/x", "/x/y"]),
    ("/f/*/*", FILES, ["/f/g/h"]),
    ("/{a,e.txt}", FILES, ["/a", "/e.txt"]),
    ("/nothing*", FILES, []),
    ("/*", ["x", "x/", "/x", "//x//"], ["/x"]),
    ("/*", ["/a/1", "/a/2", "/b"], ["/a", "/b"]),
    ("/a\\*b", ["/a*b", "/axb", "/a*b/c"], ["/a*b"]),
    ("/*", ["/a*b/c"], ["/a*b"]),
    ("/数据/*", FILES, ["/数据/文件.txt"]),
    ("/[!a-e]*", FILES, ["/f", "/数据"]),
]


@pytest.mark.parametrize(("pattern", "paths", "expected"), GLOB_PATHS)
def test_glob_paths(pattern, paths, expected):
    assert glob_paths(pattern, paths) == expected


def test_glob_paths_accepts_any_iterable_and_refuses_bad_paths():
    assert glob_paths("/*", (p for p in ["/b", "/a"])) == ["/a", "/b"]
    with pytest.raises(InvalidPath, match="control character"):
        glob_paths("/*", ["/ok", "/bad\x00"])


def test_glob_paths_visits_each_directory_once():
    paths = [f"/d{i % 10}/sub/f{i}.csv" for i in range(20_000)]
    start = time.monotonic()
    out = glob_paths("/*/sub", paths)
    assert out == [f"/d{i}/sub" for i in range(10)]
    assert time.monotonic() - start < 2


# (template, groups, matched path, expected): ohmyglob's Replace
TEMPLATES = [
    ("$1", ("a",), "/x", "a"),
    ("$2/$1", ("a", "b"), "/x", "b/a"),
    ("${1}0", ("a",), "/x", "a0"),
    ("$1-${2}", ("a", "b"), "/x", "a-b"),
    ("$$1", ("a",), "/x", "$1"),
    ("$$", (), "/x", "$"),
    ("cost $x", (), "/x", "cost $x"),
    ("end$", (), "/x", "end$"),
    ("plain", (), "/x", "plain"),
    ("", ("a",), "/x", ""),
    ("$10", tuple("abcdefghij"), "/x", "j"),
    ("${1}$1$1", ("é",), "/x", "ééé"),
    ("$1", ("数据",), "/x", "数据"),
    ("$1", ("",), "/x", ""),
    # $0 is the whole matched path; the root matches as an empty path in Pachyderm
    ("$0", ("a",), "/d/a", "/d/a"),
    ("${0}!", (), "/d", "/d!"),
    ("$0", (), "/", ""),
    # a group the glob does not have is empty (these raised InvalidInput before)
    ("$3/$1", ("a", "b"), "/x", "/a"),
    ("${2}", (), "/x", ""),
    ("$123456789", ("a",), "/x", ""),
    # '$' starting no reference is kept (unclosed '${' raised InvalidInput before)
    ("x${1", ("a",), "/x", "x${1"),
    ("${", (), "/x", "${"),
    ("${}", (), "/x", "${}"),
    ("${x}", (), "/x", "${x}"),
    ("$1a", ("b",), "/x", "ba"),
    # references Pachyderm's worker crashes on (Go index -1) expand to nothing
    ("[$01]", ("a",), "/x", "[]"),
    ("[${01}]", ("a",), "/x", "[]"),
    ("[$00]", ("a",), "/x", "[]"),
    ("[$1234567890]", ("a",), "/x", "[]"),
    ("[$" + "9" * 5000 + "]", ("a",), "/x", "[]"),
    ("[$\u0663]", ("a",), "/x", "[]"),
    ("[$\u00b2]", ("a",), "/x", "[$\u00b2]"),
]


@pytest.mark.parametrize(("tmpl", "groups", "path", "expected"), TEMPLATES)
def test_template(tmpl, groups, path, expected):
    assert template(tmpl, groups, path) == expected


# (template, group count, exact message or None)
BAD_TEMPLATES = [
    (
        "$3/$1",
        2,
        "template '$3/$1': '$3' at position 0 refers to capture group 3, but the glob has 2; "
        "use $1 to $2, or $0 for the whole path",
    ),
    (
        "x${2}",
        0,
        "template 'x${2}': '${2}' at position 1 refers to capture group 2, but the glob has 0; "
        "add (...) around the part of the glob to capture, or use $0 for the whole path",
    ),
    (
        "$01",
        1,
        "template '$01': '$01' at position 0 is not a group number (leading zero, non-ASCII "
        "digit or more than 9 digits), which crashes Pachyderm's worker; write $1 to $1 in "
        "plain digits",
    ),
    ("${01}", 3, None),
    ("$1234567890", 3, None),
    ("$" + "9" * 5000, 1, None),
    ("$\u0663", 3, None),
]


@pytest.mark.parametrize(("tmpl", "count", "message"), BAD_TEMPLATES)
def test_check_template_refuses(tmpl, count, message):
    with pytest.raises(InvalidInput) as info:
        check_template(tmpl, count)
    if message is not None:
        assert str(info.value) == message
    assert info.value.template == tmpl
    assert "\n" not in str(info.value)


@pytest.mark.parametrize(
    ("tmpl", "count"),
    [("$0", 0), ("$1-$2", 2), ("${2}0", 2), ("$$5", 0), ("${", 0), ("x${1", 0), ("$x", 0), ("", 0)],
)
def test_check_template_accepts(tmpl, count):
    assert check_template(tmpl, count) is None


def test_groups_feed_templates():
    glob = compile_glob("/(*)/(*)_(*).csv")
    path = "/2024/a_b.csv"
    assert template("$1-$3 of $0", glob.groups(path), path) == "2024-b of /2024/a_b.csv"
