r"""Pachyderm glob patterns over file paths: matching, capture groups and templates.

Pachyderm compiles globs with ``ohmyglob`` (a fork of ``gobwas/glob`` with capture groups)
and the separator ``/`` (``src/server/pfs/server/paths.go``). pachstream follows it:

==============  ============================================================================
``*``           any run of characters except ``/`` (possibly empty)
``?``           exactly one character except ``/``
``**``          any run of characters, ``/`` included: ``/a/**`` matches ``/a/b/c``, while
                ``/**/x`` needs at least one directory and does not match ``/x``
``[abc]``       one character of the class; ``[a-z]`` ranges, POSIX classes such as
                ``[[:digit:]]`` (or ``[:digit:]``, as in ohmyglob). The first unescaped
                ``!`` or ``^`` anywhere in the class negates all of it (``[!abc]``,
                ``[^abc]``, ``[[:^alpha:]]``, even ``[a!]``). A class is a plain set of
                characters: ``[!a]`` and ``[.-0]`` match ``/`` too
``{a,b*,c}``    one of the alternatives, each itself a glob (nesting allowed)
``(a|b*)``      a capture group: one of the ``|``-separated alternatives, captured.
                Groups are numbered by their opening parenthesis, as ``$1``, ``$2`` in
                ``join_on`` and ``group_by``. ``@(..)`` is the same; ``*(..)``, ``+(..)``
                and ``?(..)`` capture zero or more, one or more, zero or one repetitions
``!(a|b)``      a captured run of characters except ``/`` that is not one of the
                alternatives; see below for what that means exactly
``\x``          the character ``x`` itself, so ``/data/a\*b`` matches the file ``/data/a*b``
==============  ============================================================================

Everything else is literal, including a ``)``, ``}``, ``]``, ``|`` or ``,`` outside the
construct it would close or separate; ``^(`` is an error, as in ohmyglob. As ``*(`` opens a
repetition, write ``*@(x)`` for "anything, then capture ``x``". Patterns and paths are
absolute: a pattern without a leading ``/`` gets one; a trailing ``/`` is ignored and
repeated ``/`` count as one, inside groups too (Pachyderm cleans the pattern as a path
before compiling it). ``/`` alone matches the root and only the root; no other pattern
matches the root.

Negation is ohmyglob's, which follows micromatch/extglob: ``!(X)`` is the regular
expression ``(?!X$)[^/]*`` when nothing literal, ``*`` or ``**`` comes after the first
negation in the pattern (``/!(*.js)`` matches every top-level name not ending in ``.js``),
and ``(?!X)[^/]*`` otherwise: then the run must not start with a match of ``X``
(``/!(foo)*`` matches neither ``/foo`` nor ``/foobar``, but ``/xfoo``). ``!(**)`` matches
nothing.

Decisions where pachstream differs from Pachyderm (each also in ``docs/pipelines.md``, and
checked against ohmyglob in ``tests/unit/test_glob_ohmyglob.py``):

- an unclosed ``[``, ``{`` or ``(``, a dangling ``\``, an empty class, a reversed range,
  an unknown POSIX class or a ``.``/``..`` segment is an error: ohmyglob closes an open
  ``{``/``(`` at the end, drops a dangling ``\`` and reads ``[[:bad:]]`` as the characters
  ``[:bad]``, and Pachyderm resolves ``..`` before compiling. A typo should fail when the
  pipeline is created, not silently select other files;
- ``+``, ``@``, ``!`` and ``^`` not followed by ``(`` are plain characters. In ohmyglob the
  text after them runs on through ``)``, ``|``, ``,`` and ``}``, so ``{c++,d}`` there
  matches neither ``c++`` nor ``d``;
- a ``,`` or ``|`` separates only in the innermost ``{..}`` or ``(..)``; ohmyglob also lets
  ``,`` split a group nested in braces and ``|`` split braces nested in a group, and does not
  end text inside braces at ``)`` or ``|``, so ``{a,(b|c)}`` there matches the file ``b|c)``;
- in a class, ``[:name:]`` adds only the named characters (ohmyglob adds ``[`` and ``]``
  too), ``\-`` is a literal ``-`` (ohmyglob makes a range of ``a\-z``) and ``[`` is a
  plain character (ohmyglob waits for a second ``]``);
- ``\/`` is a separator like ``/`` (after path cleaning, ohmyglob keeps a literal ``/`` next
  to another one, which never matches);
- template references that crash Pachyderm's worker expand to nothing, see
  :func:`template`.

Matching never backtracks exponentially: a pattern with a repetition, a negation or
several ``*`` is matched by a set-of-positions simulation (linear in the pattern, at worst
polynomial in the path). Capture groups of an already matching path come from the
equivalent backtracking regular expression, as in Pachyderm.
"""

from __future__ import annotations

import functools
import itertools
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field

from pachstream.errors import InvalidInput
from pachstream.paths import ROOT, normalize_path

__all__ = ["Glob", "check_template", "compile_glob", "glob_paths", "template"]

# fmt: off
_POSIX = {
    "alnum": "0-9A-Za-z", "alpha": "A-Za-z", "ascii": "\\x00-\\x7f", "blank": "\\t ",
    "cntrl": "\\x00-\\x1f\\x7f", "digit": "0-9", "graph": "!-~", "lower": "a-z", "print": " -~",
    "punct": "!-/:-@\\[-`{-~", "space": "\\t\\n\\v\\f\\r ", "upper": "A-Z", "word": "0-9A-Za-z_",
    "xdigit": "0-9A-Fa-f",
}
# fmt: on

_MAX_DEPTH = 50

_BARE_POSIX = re.compile(":(\\^?)(" + "|".join(_POSIX) + "):")

_Node = tuple[object, ...]  # ("lit"|"class", str), ("any"|"super"|"one",), ("alt", options)
# or ("group", quantifier, options), options being a tuple of node tuples.
_Options = tuple[tuple[_Node, ...], ...]


@dataclass(frozen=True, slots=True)
class Glob:
    """A compiled glob pattern; build it with :func:`compile_glob`."""

    pattern: str
    """The pattern as given."""
    regex: re.Pattern[str]
    """The equivalent regular expression, matched against whole canonical paths."""
    group_count: int
    """Number of capture groups."""
    literal_prefix: str
    """A directory that every matching path is equal to or under (``/`` at worst)."""
    is_root: bool
    """Whether the pattern is ``/``, which matches the root only."""
    _guard: tuple[tuple[_Node, ...], bool] | None = field(default=None, repr=False, compare=False)
    """For patterns the regex could backtrack on: nodes and negation anchoring to simulate."""

    def _match(self, canonical: str) -> re.Match[str] | None:
        if canonical == ROOT:
            # '/*' or '/**' would match '/' as a regex; only the pattern '/' names the root.
            return self.regex.fullmatch(ROOT) if self.is_root else None
        if self._guard is not None and not _Run(canonical, self._guard[1]).matches(self._guard[0]):
            return None
        return self.regex.fullmatch(canonical)

    def match(self, path: str) -> bool:
        """Tell whether a file or directory path matches.

        Args:
            path: Any path accepted by :func:`pachstream.paths.normalize_path`.

        Returns:
            True when the whole canonical path matches the pattern.

        Raises:
            InvalidPath: The path is invalid.

        """
        canonical = normalize_path(path)
        if canonical != ROOT and self._guard is not None:
            return _Run(canonical, self._guard[1]).matches(self._guard[0])
        return self._match(canonical) is not None

    def groups(self, path: str) -> tuple[str, ...] | None:
        """Return the capture groups of a matching path.

        Args:
            path: Any path accepted by :func:`pachstream.paths.normalize_path`.

        Returns:
            One string per capture group, in order of the opening parentheses (``""`` for a
            group that took no part in the match; a repeated group holds its last
            repetition), or None when the path does not match.

        Raises:
            InvalidPath: The path is invalid.

        """
        found = self._match(normalize_path(path))
        if found is None:
            return None
        return tuple(text or "" for text in found.groups())

    def replace(self, path: str, tmpl: str) -> str:
        """Expand a template with the captures of a path, as ohmyglob's ``Replace``.

        Args:
            path: Any path accepted by :func:`pachstream.paths.normalize_path`.
            tmpl: A template, see :func:`template`.

        Returns:
            The expanded text; when the path does not match, every reference (``$0``
            included) expands to nothing.

        Raises:
            InvalidPath: The path is invalid.

        """
        canonical = normalize_path(path)
        groups = self.groups(canonical)
        if groups is None:
            return template(tmpl, (), ROOT)
        return template(tmpl, groups, canonical)


class _Parser:
    """Recursive-descent parser from pattern text to nodes."""

    def __init__(self, pattern: str) -> None:
        self.text = pattern
        self.i = 0
        self.groups = 0
        self.depth = 0

    def fail(self, position: int, problem: str, fix: str) -> InvalidInput:
        return InvalidInput(
            f"glob {self.text!r}: {problem} at position {position}; {fix}",
            pattern=self.text,
            position=position,
        )

    def sequence(self, stops: str) -> list[_Node]:
        """Parse until the end or an unescaped character of ``stops`` (left unread)."""
        text, out = self.text, list[_Node]()
        while self.i < len(text):
            char = text[self.i]
            following = text[self.i + 1] if self.i + 1 < len(text) else ""
            if char in stops:
                return out
            if char == "\\":
                if not following:
                    raise self.fail(self.i, "'\\' escapes nothing", "write '\\\\' for a backslash")
                out.append(("lit", following))
                self.i += 2
            elif char == "*" and following == "*" and text[self.i + 2 : self.i + 3] != "(":
                out.append(("super",))
                self.i += 2
            elif char == "(":
                out.append(self.group("@", self.i))
            elif following == "(" and char in "*?@+!":
                out.append(self.group(char, self.i + 1))
            elif following == "(" and char == "^":
                # ohmyglob lexes '^(' as a group, then fails: "unimplemented quatifier ^".
                raise self.fail(
                    self.i,
                    "'^(' is not a group",
                    "write '!(' for a negated group, or '\\^\\(' to match the text '^('",
                )
            elif char in "*?":
                out.append(("any",) if char == "*" else ("one",))
                self.i += 1
            elif char == "[":
                out.append(("class", self.char_class()))
            elif char == "{":
                self.i += 1
                out.append(("alt", self.alternatives(self.i - 1, ",}")))
            elif char == "/" and self.i and text[self.i - 1] == "/":
                # Pachyderm cleans the pattern as a path first, which squeezes '//' anywhere.
                self.i += 1
            else:
                out.append(("lit", char))
                self.i += 1
        return out

    def group(self, quantifier: str, start: int) -> _Node:
        self.i = start + 1
        self.groups += 1
        return ("group", quantifier, self.alternatives(start, "|)"))

    def alternatives(self, start: int, stops: str) -> _Options:
        """Parse ``stops[0]``-separated sequences up to ``stops[1]`` opened at ``start``."""
        self.depth += 1
        if self.depth > _MAX_DEPTH:
            # Parsing, compiling and matching all recurse once per level.
            raise self.fail(
                start,
                f"groups and braces nest more than {_MAX_DEPTH} deep",
                "flatten the pattern or split it into several inputs",
            )
        options = [self.sequence(stops)]
        while self.i < len(self.text) and self.text[self.i] == stops[0]:
            self.i += 1
            options.append(self.sequence(stops))
        if self.i >= len(self.text):
            opener = self.text[start]
            raise self.fail(
                start,
                f"{opener!r} is never closed",
                f"add {stops[1]!r} or escape it as '\\{opener}'",
            )
        self.i += 1
        self.depth -= 1
        return tuple(_merge(option) for option in options)

    def char_class(self) -> str:
        text, start = self.text, self.i
        self.i += 1
        negated = False
        items: list[str] = []
        while self.i < len(text) and (text[self.i] != "]" or not items):
            if text[self.i] == "]":
                raise self.fail(start, "empty class '[]'", "escape a literal bracket as '\\['")
            if text[self.i] in "!^" and not negated:
                # ohmyglob negates on the first '!' or '^' wherever it stands in the class.
                negated = True
                self.i += 1
                continue
            if text.startswith("[:", self.i):
                end = text.find(":]", self.i + 2)
                if end == -1:
                    raise self.fail(self.i, "'[:' is never closed", "close the class with ':]'")
                name = text[self.i + 2 : end]
                if name.startswith("^"):
                    negated, name = True, name[1:]
                if name not in _POSIX:
                    known = ", ".join(f"[:{known}:]" for known in _POSIX)
                    raise self.fail(
                        self.i, f"unknown class {text[self.i : end + 2]!r}", f"use one of {known}"
                    )
                items.append(_POSIX[name])
                self.i = end + 2
                continue
            bare = _BARE_POSIX.match(text, self.i)
            if bare:
                # ohmyglob replaces ':alpha:' anywhere in a class, so '[:alpha:]' is letters.
                negated = negated or bool(bare.group(1))
                items.append(_POSIX[bare.group(2)])
                self.i = bare.end()
                continue
            low = self.class_char()
            if text.startswith("-", self.i) and text[self.i + 1 : self.i + 2] not in ("", "]"):
                self.i += 1
                high = self.class_char()
                if ord(high) < ord(low):
                    raise self.fail(
                        self.i - 1, f"range '{low}-{high}' is reversed", f"write '{high}-{low}'"
                    )
                items.append(f"{re.escape(low)}-{re.escape(high)}")
            else:
                items.append(re.escape(low))
        if self.i >= len(text):
            raise self.fail(start, "'[' is never closed", "add ']' or escape it as '\\['")
        self.i += 1
        return ("[^" if negated else "[") + "".join(items) + "]"

    def class_char(self) -> str:
        if self.text[self.i] == "\\":
            if self.i + 1 >= len(self.text):
                raise self.fail(self.i, "'\\' escapes nothing", "write '\\\\' for a backslash")
            self.i += 2
            return self.text[self.i - 1]
        self.i += 1
        return self.text[self.i - 1]


def _merge(sequence: list[_Node]) -> tuple[_Node, ...]:
    """Join runs of literal characters into one literal node."""
    out: list[_Node] = []
    for node in sequence:
        if node[0] == "lit" and out and out[-1][0] == "lit":
            out[-1] = ("lit", str(out[-1][1]) + str(node[1]))
        else:
            out.append(node)
    return tuple(out)


# Placeholders in the emitted regex, resolved once the whole pattern is known, as ohmyglob's
# compiler does with its dummy runes: a text, '*' or '**' is a boundary; a negation's
# alternatives end with _NEGATION_END.
_BOUNDARY = object()
_NEGATION_END = object()
_NEGATION_TAIL = "))[^/]*))"


def _emit(sequence: Sequence[_Node], out: list[object]) -> None:
    for node in sequence:
        kind = node[0]
        if kind == "lit":
            out += [re.escape(str(node[1])), _BOUNDARY]
        elif kind == "any":
            out += ["[^/]*", _BOUNDARY]
        elif kind == "super":
            out += [".*", _BOUNDARY]
        elif kind == "one":
            out.append("[^/]")
        elif kind == "class":
            out.append(str(node[1]))
        elif kind == "alt":
            out.append("(?:")
            _emit_options(node[1], out, "|")  # type: ignore[arg-type]
            out.append(")")
        else:
            _emit_group(str(node[1]), node[2], out)  # type: ignore[arg-type]


def _emit_options(options: _Options, out: list[object], between: str) -> None:
    for k, option in enumerate(options):
        if k:
            out.append(between)
        _emit(option, out)


def _emit_group(quantifier: str, options: _Options, out: list[object]) -> None:
    if quantifier == "!":
        out.append("((?:(?!(?:")
        for k, option in enumerate(options):
            out.append("|" if k else "")
            _emit(option, out)
            out.append(_NEGATION_END)
        out.append(_NEGATION_TAIL)
    elif quantifier in "*+" and all(len(o) == 1 and o[0][0] in ("any", "super") for o in options):
        # Repeating '*' is '*' again and captures the same text; written out nested, reading
        # the captures of a long matching path would backtrack far more.
        dot = ".*" if any(o[0][0] == "super" for o in options) else "[^/]*"
        out += ["(", dot, _BOUNDARY, ")"]
    elif quantifier == "@":
        out.append("(")
        _emit_options(options, out, "|")
        out.append(")")
    else:
        out.append("((?:")
        _emit_options(options, out, "|")
        out.append(f"){quantifier})")


def _negation_anchored(pieces: list[object]) -> bool:
    """Whether ``!(..)`` lookaheads must reach the end: no boundary after the first one."""
    for k, piece in enumerate(pieces):
        if piece is _NEGATION_END and pieces[k + 1] == _NEGATION_TAIL:
            return not any(p is _BOUNDARY for p in pieces[k + 1 :])
    return True


def _risky(sequence: Sequence[_Node]) -> bool:
    """Whether a backtracking regex could take exponential or high polynomial time."""
    stars = 0
    stack = list(sequence)
    while stack:
        node = stack.pop()
        if node[0] in ("any", "super"):
            stars += 1
        elif node[0] == "alt" or node[0] == "group":
            options = node[-1]
            assert isinstance(options, tuple)
            if node[0] == "group" and (
                node[1] == "!"
                or str(node[1]) in "*+"
                # One option of fixed characters, as '+([0-9])', repeats deterministically.
                and (
                    len(options) > 1 or any(n[0] not in ("lit", "class", "one") for n in options[0])
                )
            ):
                return True
            for option in options:
                stack.extend(option)
    return stars >= 3


class _Run:
    """One path matched against nodes by tracking every reachable position at once.

    A set of positions is an int bitmask: bit ``p`` means "the pattern so far can end right
    before ``text[p]``". Each node maps a set to a set with a few big-int operations, so no
    choice is ever retried and nested repetitions cost no more than flat ones.
    """

    __slots__ = ("_jumps", "_masks", "anchored", "full", "n", "nonslash", "text")

    def __init__(self, text: str, anchored: bool) -> None:
        self.text, self.n, self.anchored = text, len(text), anchored
        self.full = (1 << (self.n + 1)) - 1
        self.nonslash = self._bits(p for p, char in enumerate(text) if char != "/")
        self._jumps: list[tuple[int, int]] | None = None
        self._masks: dict[_Node, int] = {}

    def _bits(self, positions: Iterable[int]) -> int:
        flags = ["0"] * (self.n + 1)
        for p in positions:
            flags[self.n - p] = "1"
        return int("".join(flags), 2)

    def _mask(self, node: _Node) -> int:
        mask = self._masks.get(node)
        if mask is None:
            text = self.text
            if node[0] == "lit":
                needle, starts, p = str(node[1]), [], text.find(str(node[1]))
                while p != -1:
                    starts.append(p)
                    p = text.find(needle, p + 1)
                mask = self._bits(starts)
            else:
                single = re.compile(str(node[1]))
                mask = self._bits(m.start() for m in single.finditer(text))
            self._masks[node] = mask
        return mask

    def _smear(self, starts: int) -> int:
        """Positions reachable from ``starts`` over characters other than ``/``."""
        if self._jumps is None:
            # Jump by 2^k from p when text[p : p + 2^k] has no '/'; taking the jumps in
            # increasing order reaches every distance.
            self._jumps, mask, shift = [], self.nonslash, 1
            while mask and shift <= self.n:
                self._jumps.append((shift, mask))
                mask &= mask >> shift
                shift *= 2
        for shift, mask in self._jumps:
            starts |= (starts & mask) << shift
        return starts

    def matches(self, nodes: Sequence[_Node]) -> bool:
        return bool(self._sequence(nodes, 1) >> self.n & 1)

    def _sequence(self, nodes: Sequence[_Node], at: int) -> int:
        for node in nodes:
            if not at:
                break
            at = self._node(node, at)
        return at

    def _options(self, options: _Options, at: int) -> int:
        out = 0
        for option in options:
            out |= self._sequence(option, at)
        return out

    def _node(self, node: _Node, at: int) -> int:
        kind = node[0]
        if kind == "lit":
            return (at & self._mask(node)) << len(str(node[1]))
        if kind == "class":
            return (at & self._mask(node)) << 1
        if kind == "one":
            return (at & self.nonslash) << 1
        if kind == "any":
            return self._smear(at)
        if kind == "super":
            return self.full & ~((at & -at) - 1)
        if kind == "alt":
            return self._options(node[1], at)  # type: ignore[arg-type]
        quantifier, options = str(node[1]), node[2]
        assert isinstance(options, tuple)
        if quantifier == "@":
            return self._options(options, at)
        if quantifier == "?":
            return at | self._options(options, at)
        if quantifier == "!":
            return self._negation(options, at)
        reached = self._options(options, at) if quantifier == "+" else at
        frontier = reached
        while frontier:
            frontier = self._options(options, frontier) & ~reached
            reached |= frontier
        return reached

    def _negation(self, options: _Options, at: int) -> int:
        free = 0
        while at:
            start = at & -at
            at ^= start
            ends = self._options(options, start)
            blocked = bool(ends >> self.n & 1) if self.anchored else bool(ends)
            if not blocked:
                free |= start
        return self._smear(free)


@functools.lru_cache(maxsize=1024)
def compile_glob(pattern: str) -> Glob:
    r"""Compile a glob pattern; results are cached.

    Args:
        pattern: A glob such as ``/images/*.png``, ``*/(*)_(*).csv`` or ``/``.

    Returns:
        The compiled :class:`Glob`.

    Raises:
        InvalidInput: The pattern is not text, has an unclosed ``[``, ``{`` or ``(``, a
            dangling ``\``, an empty class, a reversed range, an unknown POSIX class, a
            ``^(`` or a ``.``/``..`` segment. Fields: ``pattern`` and ``position``.

    """
    if not isinstance(pattern, str):
        raise InvalidInput(
            f"glob {pattern!r}: a glob is text, not {type(pattern).__name__}; pass a str",
            pattern=pattern,
            position=0,
        )
    parser, position = _Parser(pattern), 0
    for segment in pattern.split("/"):
        if segment in (".", ".."):
            fix = "paths have no relative segments; write the full path from the root"
            raise parser.fail(position, f"{segment!r} segment never matches", fix)
        position += len(segment) + 1
    nodes = parser.sequence("")
    slash: _Node = ("lit", "/")
    if not nodes or nodes[0] != slash:
        nodes.insert(0, slash)
    nodes = [n for k, n in enumerate(nodes) if not (n == slash and k and nodes[k - 1] == slash)]
    while len(nodes) > 1 and nodes[-1] == slash:
        nodes.pop()
    literal = "".join(str(n[1]) for n in itertools.takewhile(lambda n: n[0] == "lit", nodes))
    if len(literal) < len(nodes):  # a wildcard follows: keep the directory part only
        literal = literal[: literal.rindex("/")] or ROOT
    merged = _merge(nodes)
    pieces: list[object] = []
    _emit(merged, pieces)
    anchored = _negation_anchored(pieces)
    tail = "\\Z" if anchored else ""
    regex = "".join(
        p if isinstance(p, str) else (tail if p is _NEGATION_END else "") for p in pieces
    )
    return Glob(
        pattern=pattern,
        regex=re.compile(regex, re.DOTALL),
        group_count=parser.groups,
        literal_prefix=literal,
        is_root=nodes == [slash],
        _guard=(merged, anchored) if _risky(merged) else None,
    )


def glob_paths(pattern: str, paths: Iterable[str]) -> list[str]:
    """Return the files and directories of a file listing that match a glob.

    A directory exists when some path lies under it, so each path's ancestor directories
    are candidates too, as in Pachyderm's ``glob file``. Each candidate is matched once,
    so the cost is O(len(paths) x depth).

    Args:
        pattern: A glob, see :func:`compile_glob`.
        paths: File paths (any form accepted by :func:`pachstream.paths.normalize_path`).

    Returns:
        The matching canonical paths, sorted, each once; directories have no trailing ``/``.
        The root ``/`` is returned only for the pattern ``/`` and a non-empty listing.

    Raises:
        InvalidInput: The pattern is invalid.
        InvalidPath: A path is invalid.

    """
    glob = compile_glob(pattern)
    candidates: set[str] = set()
    seen_any = False
    for path in paths:
        current = normalize_path(path)
        seen_any = True
        # Stop at the first directory already seen: its own ancestors were added with it.
        while current != ROOT and current not in candidates:
            candidates.add(current)
            current = current[: current.rindex("/")] or ROOT
    if glob.is_root:
        return [ROOT] if seen_any else []
    if glob._guard is not None:
        nodes, anchored = glob._guard
        return sorted(path for path in candidates if _Run(path, anchored).matches(nodes))
    return sorted(path for path in candidates if glob.regex.fullmatch(path))


def _scan(tmpl: str) -> Iterator[tuple[int, str, str | None]]:
    """Split a template as ohmyglob's ``Replace`` reads it.

    Yields ``(position, text, digits)``: literal ``text`` when ``digits`` is None, else a
    reference ``text`` (``$12`` or ``${12}``) to the group numbered by ``digits``. ``$$``
    is a literal ``$``; a ``$`` that starts no reference (``$x``, ``${``, ``${1``, a final
    ``$``) is a literal ``$`` and scanning goes on right after it.
    """
    i, size = 0, len(tmpl)
    while i < size:
        dollar = tmpl.find("$", i)
        if dollar == -1:
            yield i, tmpl[i:], None
            return
        if dollar > i:
            yield i, tmpl[i:dollar], None
        if tmpl.startswith("$$", dollar):
            yield dollar, "$", None
            i = dollar + 2
            continue
        braced = tmpl.startswith("${", dollar)
        first = end = dollar + 1 + braced
        # Go's unicode.IsDigit is the Nd category, as str.isdecimal.
        while end < size and tmpl[end].isdecimal():
            end += 1
        if end == first or (braced and not tmpl.startswith("}", end)):
            yield dollar, "$", None
            i = dollar + 1
            continue
        i = end + braced
        yield dollar, tmpl[dollar:i], tmpl[first:end]


def _group_number(digits: str) -> int | None:
    """Return the group a reference names, or None for one that crashes Pachyderm."""
    if not digits.isascii() or len(digits) > 9 or (digits[0] == "0" and len(digits) > 1):
        return None
    return int(digits)


def template(tmpl: str, groups: Sequence[str], path: str) -> str:
    """Expand ``$1``, ``${1}``, ``$0`` and ``$$`` as ohmyglob's ``Replace``; never raises.

    ``$N`` takes all the digits that follow (``$12`` is group 12); write ``${1}2`` for group
    1 followed by ``2``. ``$0`` is the whole matched path. A group number the glob does not
    have expands to nothing. ``$$`` is a literal ``$``, and a ``$`` that starts no reference
    (``$x``, ``${x}``, an unclosed ``${1``) is kept as is. A reference Pachyderm's worker
    crashes on (a leading zero as in ``$01``, more than 9 digits, non-ASCII digits) expands
    to nothing; :func:`check_template` refuses all of these at spec time.

    Args:
        tmpl: The template, e.g. ``"$2/$1"``.
        groups: The capture groups, as returned by :meth:`Glob.groups` (empty when the
            path did not match).
        path: The matched canonical path, which ``$0`` stands for; for the root ``/``,
            ``$0`` is empty, as Pachyderm matches the root as an empty path.

    Returns:
        The expanded text.

    """
    captures = ("" if path == ROOT else path, *groups)
    out = []
    for _, text, digits in _scan(tmpl):
        if digits is None:
            out.append(text)
            continue
        number = _group_number(digits)
        if number is not None and number < len(captures):
            out.append(captures[number])
    return "".join(out)


def check_template(tmpl: str, group_count: int) -> None:
    """Refuse a ``join_on``/``group_by`` template that cannot do what its author meant.

    Pure and meant for spec-create time; :func:`template` itself accepts anything.

    Args:
        tmpl: The template.
        group_count: The number of capture groups of the glob it is used with.

    Raises:
        InvalidInput: A reference names a group the glob does not have (Pachyderm expands it
            to nothing, so every datum would get the same key) or is one Pachyderm's worker
            crashes on (``$01``, more than 9 digits, non-ASCII digits); field ``template``.

    """
    for position, text, digits in _scan(tmpl):
        if digits is None:
            continue
        number = _group_number(digits)
        if number is None:
            raise InvalidInput(
                f"template {tmpl!r}: {text!r} at position {position} is not a group number "
                f"(leading zero, non-ASCII digit or more than 9 digits), which crashes "
                f"Pachyderm's worker; write $1 to ${max(group_count, 1)} in plain digits",
                template=tmpl,
            )
        if number > group_count:
            fix = (
                f"use $1 to ${group_count}, or $0 for the whole path"
                if group_count
                else "add (...) around the part of the glob to capture, or use $0 for the "
                "whole path"
            )
            raise InvalidInput(
                f"template {tmpl!r}: {text!r} at position {position} refers to capture group "
                f"{number}, but the glob has {group_count}; {fix}",
                template=tmpl,
            )
