r"""Pachyderm glob patterns over file paths: matching, capture groups and templates.

Pachyderm compiles globs with ``ohmyglob`` (a fork of ``gobwas/glob`` with capture groups)
and the separator ``/`` (``src/server/pfs/server/paths.go``). pachstream follows it:

==============  ============================================================================
``*``           any run of characters except ``/`` (possibly empty)
``?``           exactly one character except ``/``
``**``          any run of characters, ``/`` included: ``/a/**`` matches ``/a/b/c``, while
                ``/**/x`` needs at least one directory and does not match ``/x``
``[abc]``       one character of the class; ``[a-z]`` ranges, ``[!abc]`` or ``[^abc]``
                negation, POSIX classes such as ``[[:digit:]]``
``{a,b*,c}``    one of the alternatives, each itself a glob (nesting allowed)
``(a|b*)``      a capture group: one of the ``|``-separated alternatives, captured.
                Groups are numbered by their opening parenthesis, as ``$1``, ``$2`` in
                ``join_on`` and ``group_by``. ``@(..)`` is the same; ``*(..)``, ``+(..)``
                and ``?(..)`` capture zero or more, one or more, zero or one repetitions
``\x``          the character ``x`` itself, so ``/data/a\*b`` matches the file ``/data/a*b``
==============  ============================================================================

Everything else is literal, including a ``)``, ``}``, ``]``, ``|`` or ``,`` outside the
construct it would close or separate. As ``*(`` opens a repetition, write ``*@(x)`` for
"anything, then capture ``x``". Patterns and paths are absolute: a pattern without a
leading ``/`` gets one, a trailing ``/`` and repeated ``/`` are ignored. ``/`` alone matches
the root and only the root; no other pattern matches the root.

Decisions where pachstream differs from Pachyderm:

- character classes never match ``/`` (ohmyglob's ``[!a]`` does), as in shell globbing;
- ``!(..)`` negated groups are refused: ohmyglob's version only checks how the text starts;
- a ``,`` or ``|`` separates only in the innermost ``{..}`` or ``(..)``;
- an unclosed ``[``, ``{`` or ``(``, a dangling ``\``, a reversed range or a ``.``/``..``
  segment is an error; ohmyglob silently accepts several of these.
"""

from __future__ import annotations

import functools
import itertools
import re
from collections.abc import Iterable
from dataclasses import dataclass

from pachstream.errors import InvalidInput
from pachstream.paths import ROOT, normalize_path

__all__ = ["Glob", "compile_glob", "glob_paths", "template"]

# fmt: off
_POSIX = {
    "alnum": "0-9A-Za-z", "alpha": "A-Za-z", "ascii": "\\x00-\\x7f", "blank": "\\t ",
    "cntrl": "\\x00-\\x1f\\x7f", "digit": "0-9", "graph": "!-~", "lower": "a-z", "print": " -~",
    "punct": "!-/:-@\\[-`{-~", "space": "\\t\\n\\v\\f\\r ", "upper": "A-Z", "word": "0-9A-Za-z_",
    "xdigit": "0-9A-Fa-f",
}
# fmt: on

_Node = tuple[object, ...]  # ("lit"|"class", str), ("any"|"super"|"one",), ("alt", [seq]),
# or ("group", quantifier, [seq]): a parsed pattern is a list of nodes.


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

    def _match(self, canonical: str) -> re.Match[str] | None:
        if canonical == ROOT:
            # '/*' or '/**' would match '/' as a regex; only the pattern '/' names the root.
            return self.regex.fullmatch(ROOT) if self.is_root else None
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
        return self._match(normalize_path(path)) is not None

    def groups(self, path: str) -> tuple[str, ...] | None:
        """Return the capture groups of a matching path.

        Args:
            path: Any path accepted by :func:`pachstream.paths.normalize_path`.

        Returns:
            One string per capture group, in order of the opening parentheses (``""`` for a
            group that took no part in the match), or None when the path does not match.

        Raises:
            InvalidPath: The path is invalid.

        """
        found = self._match(normalize_path(path))
        if found is None:
            return None
        return tuple(text or "" for text in found.groups())


class _Parser:
    """Recursive-descent parser from pattern text to nodes."""

    def __init__(self, pattern: str) -> None:
        self.text = pattern
        self.i = 0
        self.groups = 0

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
            elif following == "(" and char in "*?@+":
                out.append(self.group(char, self.i + 1))
            elif following == "(" and char in "!^":
                raise self.fail(
                    self.i,
                    f"negated group '{char}(' is not supported",
                    f"list the names you want with {{a,b}} or (a|b), or write "
                    f"'\\{char}\\(' to match the text '{char}('",
                )
            elif char in "*?":
                out.append(("any",) if char == "*" else ("one",))
                self.i += 1
            elif char == "[":
                out.append(("class", self.char_class()))
            elif char == "{":
                self.i += 1
                out.append(("alt", self.alternatives(self.i - 1, ",}")))
            else:
                out.append(("lit", char))
                self.i += 1
        return out

    def group(self, quantifier: str, start: int) -> _Node:
        self.i = start + 1
        self.groups += 1
        return ("group", quantifier, self.alternatives(start, "|)"))

    def alternatives(self, start: int, stops: str) -> list[list[_Node]]:
        """Parse ``stops[0]``-separated sequences up to ``stops[1]`` opened at ``start``."""
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
        return options

    def char_class(self) -> str:
        text, start = self.text, self.i
        self.i += 1
        negated = self.i < len(text) and text[self.i] in "!^"
        self.i += negated
        items: list[str] = []
        while self.i < len(text) and (text[self.i] != "]" or not items):
            if text[self.i] == "]":
                raise self.fail(start, "empty class '[]'", "escape a literal bracket as '\\['")
            if text.startswith("[:", self.i):
                end = text.find(":]", self.i + 2)
                name = text[self.i + 2 : end] if end != -1 else ""
                if end == -1:
                    raise self.fail(self.i, "'[:' is never closed", "close the class with ':]'")
                if name not in _POSIX:
                    known = ", ".join(f"[:{known}:]" for known in _POSIX)
                    raise self.fail(
                        self.i, f"unknown class {text[self.i : end + 2]!r}", f"use one of {known}"
                    )
                items.append(_POSIX[name])
                self.i = end + 2
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
        body = "".join(items)
        return f"[^/{body}]" if negated else f"(?!/)[{body}]"

    def class_char(self) -> str:
        if self.text[self.i] == "\\":
            if self.i + 1 >= len(self.text):
                raise self.fail(self.i, "'\\' escapes nothing", "write '\\\\' for a backslash")
            self.i += 2
            return self.text[self.i - 1]
        self.i += 1
        return self.text[self.i - 1]


def _to_regex(sequence: list[_Node]) -> str:
    parts = []
    for node in sequence:
        kind = node[0]
        if kind == "lit":
            parts.append(re.escape(str(node[1])))
        elif kind in ("any", "super", "one"):
            parts.append({"any": "[^/]*", "super": ".*", "one": "[^/]"}[str(kind)])
        elif kind == "class":
            parts.append(str(node[1]))
        elif kind == "alt":
            options = node[1]
            assert isinstance(options, list)
            parts.append("(?:" + "|".join(_to_regex(o) for o in options) + ")")
        else:
            quantifier, options = str(node[1]), node[2]
            assert isinstance(options, list)
            body = "|".join(_to_regex(o) for o in options)
            if quantifier in "*+?" and all(o and set(o) == {("any",)} for o in options):
                # Repeating '*' is '*' again; writing it out nested would backtrack
                # exponentially on paths that do not match.
                parts.append("(" + ("[^/]+" if quantifier == "+" else "[^/]*") + ")")
            elif quantifier == "@":
                parts.append(f"({body})")
            else:
                parts.append(f"((?:{body}){quantifier})")
    return "".join(parts)


@functools.lru_cache(maxsize=1024)
def compile_glob(pattern: str) -> Glob:
    r"""Compile a glob pattern; results are cached.

    Args:
        pattern: A glob such as ``/images/*.png``, ``*/(*)_(*).csv`` or ``/``.

    Returns:
        The compiled :class:`Glob`.

    Raises:
        InvalidInput: The pattern is not text, has an unclosed ``[``, ``{`` or ``(``, a
            dangling ``\``, an empty class, a reversed range, a negated group ``!(..)``
            or a ``.``/``..`` segment. Fields: ``pattern`` and ``position``.

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
    return Glob(
        pattern=pattern,
        regex=re.compile(_to_regex(nodes), re.DOTALL),
        group_count=parser.groups,
        literal_prefix=literal,
        is_root=nodes == [slash],
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
    return sorted(path for path in candidates if glob.regex.fullmatch(path))


_REFERENCE = re.compile(r"\$(?:(\$)|([0-9]+)|\{([0-9]+)\}|(\{))")


def template(tmpl: str, groups: tuple[str, ...]) -> str:
    """Expand ``$1``, ``${1}`` and ``$$`` in a template with capture groups.

    ``$N`` takes all the digits that follow (``$12`` is group 12); write ``${1}2`` for group
    1 followed by ``2``. ``$$`` is a literal ``$``, and a ``$`` followed by anything else is
    kept as is, as in ohmyglob's ``Replace``.

    Args:
        tmpl: The template, e.g. ``"$2/$1"``.
        groups: The capture groups, as returned by :meth:`Glob.groups`.

    Returns:
        The expanded text.

    Raises:
        InvalidInput: A reference is ``$0`` or names a group the glob does not have, or a
            ``${`` is not closed by digits and ``}``; field ``template``.

    """

    def expand(found: re.Match[str]) -> str:
        dollar, bare, braced, unclosed = found.groups()
        if dollar:
            return "$"
        if unclosed:
            raise InvalidInput(
                f"template {tmpl!r}: '${{' at position {found.start()} is not a group "
                f"reference; write '${{N}}' with N a number, or '$$' for a literal '$'",
                template=tmpl,
            )
        digits = bare or braced
        # Compare lengths first: int() refuses strings of thousands of digits.
        number = int(digits) if len(digits) <= 9 else -1
        if 1 <= number <= len(groups):
            return groups[number - 1]
        have = f"use $1 to ${len(groups)}" if groups else "add (...) around the part to capture"
        if number == 0:
            have = "groups are numbered from 1; " + have
        raise InvalidInput(
            f"template {tmpl!r}: {found.group()!r} refers to capture group {digits}, but the "
            f"glob has {len(groups)}; {have}",
            template=tmpl,
        )

    return _REFERENCE.sub(expand, tmpl)
