"""Property tests: no pattern, path or template makes the glob module raise unexpectedly.

Deterministic (``derandomize=True``): the same examples run everywhere, so CI is stable.
"""

import time

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pachstream.errors import InvalidInput
from pachstream.glob import _Run, check_template, compile_glob, glob_paths, template

PROPERTY = settings(
    max_examples=500,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)

GLOB_PIECES = [
    *"*?[]{}()|!^@+,\\/:-$ab.x0é",
    "**",
    "*(",
    "+(",
    "?(",
    "@(",
    "!(",
    "^(",
    "[!",
    "[^",
    "[:",
    ":]",
    "[[:alpha:]]",
    "[[:^digit:]]",
    "[:space:]",
    "[[:bogus:]]",
    "a-z",
    "..",
]
patterns = st.lists(st.sampled_from(GLOB_PIECES), max_size=12).map("".join)
# Valid paths only: the path rules are tested in test_paths.py.
segments = st.text(alphabet="ab.x-*?[](){}|!é", min_size=1, max_size=6).filter(
    lambda s: s not in (".", "..")
)
paths = st.lists(segments, max_size=4).map(lambda parts: "/" + "/".join(parts))
# Balanced constructs, so that repetitions, negations and nesting are common.
atoms = st.sampled_from(
    ["a", "b", "x", ".", "é", "/", "*", "**", "?", "[ab]", "[!a]", "[[:alpha:]]", "\\*", "$"]
)
structured = st.recursive(
    st.lists(atoms, min_size=1, max_size=3).map("".join),
    lambda inner: st.one_of(
        st.tuples(
            st.sampled_from(["", "@", "*", "+", "?", "!"]), st.lists(inner, min_size=1, max_size=3)
        ).map(lambda q: q[0] + "(" + "|".join(q[1]) + ")"),
        st.lists(inner, min_size=1, max_size=3).map(lambda o: "{" + ",".join(o) + "}"),
        st.lists(inner, min_size=2, max_size=3).map("".join),
    ),
    max_leaves=6,
)
any_pattern = st.one_of(patterns, structured)
templates = st.lists(
    st.sampled_from([*"${}0123456789ax/", "$1", "${1}", "$$", "${", "$0", "\u0663", "$01"]),
    max_size=10,
).map("".join)


def _compile_or_none(pattern):
    try:
        return compile_glob(pattern)
    except InvalidInput as exc:
        message = str(exc)
        assert "\n" not in message
        assert message.startswith("glob ")
        assert exc.pattern == pattern
        return None


@PROPERTY
@given(pattern=any_pattern, some_paths=st.lists(paths, max_size=4), tmpl=templates)
def test_compile_match_and_expand_never_raise_unexpectedly(pattern, some_paths, tmpl):
    glob = _compile_or_none(pattern)
    if glob is None:
        return
    for path in some_paths:
        matched = glob.match(path)
        groups = glob.groups(path)
        assert (groups is not None) == matched
        if groups is not None:
            assert len(groups) == glob.group_count
            assert isinstance(template(tmpl, groups, path), str)
        assert isinstance(glob.replace(path, tmpl), str)
    assert glob_paths(pattern, some_paths) == sorted(
        {p for p in _with_ancestors(some_paths) if glob.match(p)}
        if not glob.is_root
        else ({"/"} if some_paths else set())
    )


def _with_ancestors(some_paths):
    for path in some_paths:
        parts = [p for p in path.split("/") if p]
        for k in range(1, len(parts) + 1):
            yield "/" + "/".join(parts[:k])


@PROPERTY
@given(pattern=any_pattern, some_paths=st.lists(paths, min_size=1, max_size=4))
def test_simulation_agrees_with_the_regex(pattern, some_paths):
    glob = _compile_or_none(pattern)
    if glob is None or glob._guard is None:
        return
    nodes, anchored = glob._guard
    for path in some_paths:
        if path == "/":
            continue
        assert _Run(path, anchored).matches(nodes) == (glob.regex.fullmatch(path) is not None)


@PROPERTY
@given(pattern=any_pattern)
def test_long_paths_match_quickly(pattern):
    glob = _compile_or_none(pattern)
    if glob is None:
        return
    start = time.monotonic()
    for path in ("/" + "a" * 400 + "x", "/" + "ab/" * 100 + "b", "/" + "a" * 50 + "/" + "é" * 50):
        glob.match(path)
    assert time.monotonic() - start < 2


@PROPERTY
@given(
    tmpl=templates, groups=st.lists(st.text(alphabet="ab/é$", max_size=3), max_size=3), path=paths
)
def test_template_is_total(tmpl, groups, path):
    out = template(tmpl, tuple(groups), path)
    assert isinstance(out, str)
    if "$" not in tmpl:
        assert out == tmpl


@PROPERTY
@given(tmpl=templates, count=st.integers(min_value=0, max_value=12))
def test_check_template_refuses_with_one_line(tmpl, count):
    try:
        check_template(tmpl, count)
    except InvalidInput as exc:
        assert "\n" not in str(exc)
        assert exc.template == tmpl
