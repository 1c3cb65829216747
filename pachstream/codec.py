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
"""

from __future__ import annotations

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
_UPCASTERS: dict[tuple[str, int], Callable[[dict[str, Any]], dict[str, Any]]] = {}


def register(cls: type[E]) -> type[E]:
    """Class decorator: make an event class decodable by its ``TYPE``."""
    name = cls.TYPE  # type: ignore[attr-defined]
    if name in _REGISTRY and _REGISTRY[name] is not cls:
        raise TypeError(f"event type {name!r} registered twice")
    _REGISTRY[name] = cls
    return cls


def register_upcaster(
    type_name: str, from_version: int
) -> Callable[[Callable[[dict[str, Any]], dict[str, Any]]], Callable[[dict[str, Any]], dict[str, Any]]]:
    """Register a function that turns a ``from_version`` payload into the next version's."""

    def deco(fn: Callable[[dict[str, Any]], dict[str, Any]]) -> Callable[[dict[str, Any]], dict[str, Any]]:
        _UPCASTERS[(type_name, from_version)] = fn
        return fn

    return deco


def to_plain(value: Any) -> Any:
    """A dataclass tree as plain JSON-ready values (tuples stay sequences)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, (tuple, list)):
        return [to_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: to_plain(v) for k, v in value.items()}
    return value


def encode(event: Any) -> bytes:
    """Serialize an event to its wire bytes."""
    body = to_plain(event)
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
    if not isinstance(version, int) or version < 1 or version > current:
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
    return _build(cls, raw, type_name)


def from_plain(hint: Any, value: Any) -> Any:
    """Plain JSON values (as :func:`to_plain` makes them) back into ``hint``, e.g.
    ``tuple[FileOp, ...]``; EventDecodeError when they do not fit."""
    return _convert(hint, value, getattr(hint, "__name__", str(hint)))


def _build(cls: type, raw: Any, where: str) -> Any:
    if not isinstance(raw, dict):
        raise EventDecodeError(f"{where}: expected an object, got {type(raw).__name__}")
    kwargs = {}
    for f, hint in _fields(cls):
        if f.name in raw:
            kwargs[f.name] = _convert(hint, raw[f.name], f"{where}.{f.name}")
        elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            raise EventDecodeError(f"{where}: missing field {f.name!r}")
    return cls(**kwargs)


@cache
def _fields(cls: type) -> tuple[tuple[dataclasses.Field[Any], Any], ...]:
    hints = typing.get_type_hints(cls)
    return tuple((f, hints[f.name]) for f in dataclasses.fields(cls))


def _convert(hint: Any, value: Any, where: str) -> Any:  # noqa: C901 - one branch per kind
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        for option in typing.get_args(hint):
            try:
                return _convert(option, value, where)
            except EventDecodeError:
                continue
        raise EventDecodeError(f"{where}: value {value!r:.60} fits none of {hint}")
    if hint is type(None):
        if value is None:
            return None
    elif hint is Any:
        return value
    elif origin is typing.Literal:
        if value in typing.get_args(hint):
            return value
    elif origin is tuple:
        args = typing.get_args(hint)
        if isinstance(value, list):
            if len(args) == 2 and args[1] is Ellipsis:
                return tuple(_convert(args[0], v, where) for v in value)
            if len(args) == len(value):
                return tuple(_convert(a, v, where) for a, v in zip(args, value, strict=True))
    elif origin is dict:
        key_t, val_t = typing.get_args(hint)
        if isinstance(value, dict):
            return {_convert(key_t, k, where): _convert(val_t, v, where) for k, v in value.items()}
    elif dataclasses.is_dataclass(hint):
        return _build(hint, value, where)  # type: ignore[arg-type]
    elif hint is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
    elif hint is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    elif isinstance(hint, type) and isinstance(value, hint):
        return value
    raise EventDecodeError(f"{where}: value {value!r:.60} is not a {getattr(hint, '__name__', hint)}")
