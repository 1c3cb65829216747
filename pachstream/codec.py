"""Bytes ↔ event records: orjson encoding of frozen dataclasses, with a type registry.

Every event is a ``@dataclass(frozen=True, slots=True, kw_only=True)`` whose class attributes
``TYPE`` and ``SCHEMA_VERSION`` name it on the wire::

    {"type": "file.modify", "schema_version": 1, ...fields}

Decoding checks the shape against the dataclass's type hints (str, int, float, bool, None,
tuples, dicts, nested dataclasses, unions of those). An unknown type, a missing field or a
value of the wrong kind raises :class:`~pachstream.errors.EventDecodeError`, which the shell
turns into a dead-letter record. Fields unknown to this version are ignored, so producers may
add optional fields (STYLE.md §4). A rename or removal needs a new ``SCHEMA_VERSION`` and an
upcaster registered with :func:`register_upcaster`.

A type whose generic form is too costly on the hot path (``file.modify``: up to 2,000 file ops
per record) may register a wire form of its own with :func:`register_wire`: its encoder gives
the fields of the record, its decoder builds the event from them (after upcasting) and reports
a bad value with :class:`WireError`, which becomes the same EventDecodeError.
"""

from __future__ import annotations

import contextlib
import dataclasses
import types
import typing
from collections.abc import Callable
from functools import cache
from typing import Any, Protocol, TypeVar

import orjson

from pachstream.errors import EventDecodeError


class Event(Protocol):
    """What every event class provides."""

    TYPE: typing.ClassVar[str]
    SCHEMA_VERSION: typing.ClassVar[int]


E = TypeVar("E")
_REGISTRY: dict[str, type] = {}
Upcaster: typing.TypeAlias = Callable[[dict[str, Any]], dict[str, Any]]
"""Turns one version's payload into the next version's."""
_UPCASTERS: dict[tuple[str, int], Upcaster] = {}
WireEncoder: typing.TypeAlias = Callable[[Any], dict[str, Any]]
"""An event's record fields (without ``type`` and ``schema_version``)."""
WireDecoder: typing.TypeAlias = Callable[[dict[str, Any]], Any]
"""The event from its record fields (current version); raises :class:`WireError`."""
_WIRE: dict[type, tuple[WireEncoder, WireDecoder]] = {}


class WireError(Exception):
    """A custom wire decoder's refusal: ``where`` is the field path inside the event (e.g.
    ``"ops.3.size"``), ``problem`` what is wrong there. Turned into an EventDecodeError.
    """

    def __init__(self, where: str, problem: str) -> None:
        super().__init__(f"{where}: {problem}")
        self.where = where
        self.problem = problem


def register(cls: type[E]) -> type[E]:
    """Class decorator: make an event class decodable by its ``TYPE``."""
    name = cls.TYPE  # type: ignore[attr-defined]
    if name in _REGISTRY and _REGISTRY[name] is not cls:
        raise TypeError(f"event type {name!r} registered twice")
    _REGISTRY[name] = cls
    return cls


def register_upcaster(type_name: str, from_version: int) -> Callable[[Upcaster], Upcaster]:
    """Register a function that turns a ``from_version`` payload into the next version's."""

    def deco(fn: Upcaster) -> Upcaster:
        _UPCASTERS[(type_name, from_version)] = fn
        return fn

    return deco


def register_wire(cls: type, encoder: WireEncoder, decoder: WireDecoder) -> None:
    """Give a registered event class a wire form of its own (see the module's docstring)."""
    _WIRE[cls] = (encoder, decoder)


def build_plain(cls: type[E], raw: dict[str, Any], where: str) -> E:
    """The generic decoding of ``raw`` into ``cls`` (for a wire decoder's simple fields)."""
    built: E = _build(cls, raw, where)
    return built


@cache
def _field_names(cls: type) -> tuple[str, ...] | None:
    if dataclasses.is_dataclass(cls):
        return tuple(f.name for f in dataclasses.fields(cls))
    return None


def to_plain(value: Any) -> Any:
    """A dataclass tree as plain JSON-ready values (tuples stay sequences)."""
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    # Annotated: mypy checks the inferred type[Any] against Hashable and refuses it.
    cls: type = type(value)
    names = _field_names(cls)
    if names is not None:
        return {n: to_plain(getattr(value, n)) for n in names}
    if isinstance(value, (tuple, list)):
        return [to_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: to_plain(v) for k, v in value.items()}
    return value


def encode(event: Any) -> bytes:
    """Serialize an event to its wire bytes."""
    cls: type = type(event)  # annotated for mypy, as in to_plain
    names = _field_names(cls)
    assert names is not None, f"{event!r} is not an event"
    wire = _WIRE.get(cls)
    if wire is not None:
        return orjson.dumps(
            {"type": event.TYPE, "schema_version": event.SCHEMA_VERSION, **wire[0](event)}
        )
    # orjson serializes the nested dataclasses itself (natively, in order of their fields):
    # no Python-level walk of a 2,000-op batch.
    body = {n: getattr(event, n) for n in names}
    return orjson.dumps({"type": event.TYPE, "schema_version": event.SCHEMA_VERSION, **body})


def decode(data: bytes | None) -> Any:
    """Parse wire bytes into the registered event class, or raise EventDecodeError."""
    if data is None:
        raise EventDecodeError("event has no value (null record); producers must send a body")
    try:
        raw = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise EventDecodeError(f"event is not JSON: {exc}") from exc
    if not isinstance(raw, dict):
        raise EventDecodeError(f"event is JSON {type(raw).__name__}, expected an object")
    type_name = raw.pop("type", None)
    version = raw.pop("schema_version", None)
    cls = _REGISTRY.get(type_name) if isinstance(type_name, str) else None
    if cls is None:
        raise EventDecodeError(f"unknown event type {type_name!r}", event_type=type_name)
    current = cls.SCHEMA_VERSION  # type: ignore[attr-defined]
    if not isinstance(version, int) or isinstance(version, bool) or not 1 <= version <= current:
        raise EventDecodeError(
            f"event {type_name!r}: schema_version {version!r} is not one this code reads "
            f"(1..{current}); upgrade pachstream to read newer events",
            event_type=type_name,
        )
    while version < current:
        upcast = _UPCASTERS.get((type_name, version))
        if upcast is None:
            raise EventDecodeError(f"event {type_name!r}: no upcaster from version {version}")
        raw = upcast(raw)
        version += 1
    wire = _WIRE.get(cls)
    if wire is not None:
        try:
            return wire[1](raw)
        except WireError as bad:
            where = f"{type_name}.{bad.where}" if bad.where else type_name
            raise EventDecodeError(f"{where}: {bad.problem}", event_type=type_name) from None
    return _build(cls, raw, type_name)


_TYPE_FIRST = b'{"type":"'
"""How :func:`encode` begins every event: its type first."""


def peek_type(data: bytes | None) -> str | None:
    """The ``type`` named by an event's wire bytes, without building the event (None if the
    bytes are no JSON object naming one). A reader that skips most of a topic's records (the
    dispatcher on the requests topic: every ``file.modify`` is the commit processor's) pays
    the parse only: building a 2,000-op record's dataclasses costs about 7 times as much.

    Bytes that begin as :func:`encode` writes them are not parsed at all (a 2,000-op
    ``file.modify`` took 8 ms to parse, 50 of them per 100,000 files put): their type is read
    from their first bytes (0.6 ms there), unless the name could be another one to the parser
    (a second ``"type"`` anywhere, or any escape, which could spell one; orjson keeps the last
    of duplicate keys). Such a peek does not check the rest: it is a hint, and the record's
    validity is for its decoder to judge.
    """
    if data is None:
        return None
    if data.startswith(_TYPE_FIRST):
        end = data.find(b'"', len(_TYPE_FIRST))
        # No escape anywhere (a byte search, ~40 times faster than one for a string here).
        if end > 0 and b"\\" not in data and data.count(b'"type"') == 1:
            with contextlib.suppress(UnicodeDecodeError):
                return data[len(_TYPE_FIRST) : end].decode()
    try:
        raw = orjson.loads(data)
    except orjson.JSONDecodeError:
        return None
    name = raw.get("type") if isinstance(raw, dict) else None
    return name if isinstance(name, str) else None


def from_plain(hint: Any, value: Any, where: str | None = None) -> Any:
    """Plain JSON values (as :func:`to_plain` makes them) back into ``hint``, e.g.
    ``tuple[FileOp, ...]``; EventDecodeError when they do not fit, naming the value as
    ``where`` (default: the hint's name).
    """
    name = where if where is not None else str(getattr(hint, "__name__", hint))
    return _run(_converter(hint), value, name)


def _build(cls: type, raw: Any, where: str) -> Any:
    return _run(_converter(cls), raw, where)


def _run(convert: Converter, value: Any, where: str) -> Any:
    try:
        return convert(value)
    except _Bad as bad:
        path = ".".join([where, *reversed(bad.path)])
        raise EventDecodeError(f"{path}: {bad.problem}") from None


Converter = Callable[[Any], Any]


class _Bad(Exception):
    """Internal: a value does not fit; the field path is collected on the way up, so the hot
    path never formats a path string (decoding is per file op, 100,000s per commit).
    """

    def __init__(self, problem: str) -> None:
        self.problem = problem
        self.path: list[str] = []


def _bad_at(problem: str, path: list[str]) -> _Bad:
    """A new ``_Bad`` saying ``problem`` at ``path`` (one built in the frame that raises it
    would be one of that frame's locals: a cycle through its traceback).
    """
    bad = _Bad(problem)
    bad.path = path
    return bad


def _fail(hint: Any, value: Any) -> _Bad:
    name = getattr(hint, "__name__", str(hint))
    return _Bad(f"value {value!r:.60} is not of type {name}")


@cache
def _converter(hint: Any) -> Converter:  # noqa: C901 - one branch per kind of hint
    """A function checking and converting plain values into ``hint``, built once per hint."""
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        optional = type(None) in typing.get_args(hint)
        options = [_converter(o) for o in typing.get_args(hint) if o is not type(None)]

        def union(value: Any) -> Any:
            if value is None and optional:
                return None  # an optional field left empty, the usual case: nothing raised
            first: tuple[str, list[str]] | None = None
            for option in options:
                try:
                    return option(value)
                except _Bad as bad:
                    # Its words only: the exception holds its traceback, the traceback this
                    # frame and every caller's; were the exception kept in a local here, the
                    # cycle would keep their locals alive until a full collection (measured:
                    # a finished commit's 100,000 staged ops, 600,000 objects, in the
                    # commit processor).
                    first = first or (bad.problem, bad.path)
            if optional and len(options) == 1 and first is not None:
                # The value was meant as the non-null kind: say what is wrong inside.
                raise _bad_at(*first)
            raise _Bad(f"value {value!r:.60} fits none of {hint}")

        return union
    if hint is type(None):

        def none(value: Any) -> Any:
            if value is None:
                return None
            raise _fail(hint, value)

        return none
    if hint is Any:
        return lambda value: value
    if origin is typing.Literal:
        allowed = frozenset(typing.get_args(hint))

        def literal(value: Any) -> Any:
            if isinstance(value, str) and value in allowed:
                return value
            raise _fail(hint, value)

        return literal
    if origin is tuple:
        args = typing.get_args(hint)
        if len(args) == 2 and args[1] is Ellipsis:
            item = _converter(args[0])

            def var_tuple(value: Any) -> Any:
                if not isinstance(value, list):
                    raise _fail(hint, value)
                return tuple([item(v) for v in value])

            return var_tuple
        items = [_converter(a) for a in args]

        def fixed_tuple(value: Any) -> Any:
            if not isinstance(value, list) or len(value) != len(items):
                raise _fail(hint, value)
            return tuple(c(v) for c, v in zip(items, value, strict=True))

        return fixed_tuple
    if origin is dict:
        key_c, val_c = (_converter(a) for a in typing.get_args(hint))

        def mapping(value: Any) -> Any:
            if not isinstance(value, dict):
                raise _fail(hint, value)
            return {key_c(k): val_c(v) for k, v in value.items()}

        return mapping
    if dataclasses.is_dataclass(hint):
        return _dataclass_converter(hint)  # type: ignore[arg-type]
    if hint is float:

        def real(value: Any) -> Any:
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                return float(value)
            raise _fail(hint, value)

        return real
    if hint is int:

        def integer(value: Any) -> Any:
            if isinstance(value, int) and not isinstance(value, bool):
                return value
            raise _fail(hint, value)

        return integer
    if isinstance(hint, type):

        def plain(value: Any) -> Any:
            if isinstance(value, hint):
                return value
            raise _fail(hint, value)

        return plain
    raise TypeError(f"codec cannot decode type hint {hint!r}")


def _dataclass_converter(cls: type) -> Converter:
    hints = typing.get_type_hints(cls)
    fields = [
        (
            f.name,
            _LazyConverter(hints[f.name]),
            f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING,
        )
        for f in dataclasses.fields(cls)
    ]

    resolved: list[tuple[str, Converter, bool]] = []

    def build(raw: Any) -> Any:
        if not isinstance(raw, dict):
            raise _Bad(f"expected an object, got {type(raw).__name__}")
        if not resolved:
            # Every dataclass exists by the first decode: drop the lazy layer, one Python
            # call per field of every event (measured: a quarter of a datum fact's decode).
            resolved.extend((name, conv.resolve(), req) for name, conv, req in fields)
        kwargs = {}
        for name, conv, required in resolved:
            if name in raw:
                try:
                    kwargs[name] = conv(raw[name])
                except _Bad as bad:
                    bad.path.append(name)
                    raise
            elif required:
                raise _Bad(f"missing field {name!r}")
        return cls(**kwargs)

    return build


class _LazyConverter:
    """Defers building a field's converter to first use (dataclasses may refer to each other)."""

    __slots__ = ("_hint", "_fn")

    def __init__(self, hint: Any) -> None:
        self._hint = hint
        self._fn: Converter | None = None

    def resolve(self) -> Converter:
        """The converter itself (built now if it was not yet)."""
        if self._fn is None:
            self._fn = _converter(self._hint)
        return self._fn

    def __call__(self, value: Any) -> Any:
        return self.resolve()(value)
