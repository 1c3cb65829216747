"""Image references, normalized as Docker does. Pure.

``busybox`` is ``docker.io/library/busybox:latest``, ``myorg/etl:1.2`` is
``docker.io/myorg/etl:1.2``, ``localhost:5000/etl`` is ``localhost:5000/etl:latest``: the
store keys names by the normalized form, so every way of typing one image finds it. The rules
are those of Docker's ``distribution/reference.ParseNormalizedNamed``: the first component is
a registry when it has a ``.`` or a ``:`` or is ``localhost``; otherwise the registry is
``docker.io`` and a one-component name is under ``library/``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from pachstream.errors import InvalidInput

DEFAULT_REGISTRY = "docker.io"
"""Where a name without a registry lives."""

DEFAULT_TAG = "latest"
"""The tag of a name given without a tag or a digest."""

_COMPONENT = re.compile(r"^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$")
_TAG = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")
_DIGEST = re.compile(r"^sha256:[a-f0-9]{64}$")
_DOMAIN = re.compile(r"^[A-Za-z0-9.-]+(?::[0-9]+)?$|^\[[0-9a-fA-F:]+\](?::[0-9]+)?$")
_ID = re.compile(r"^(?:sha256:)?([a-f0-9]{12,64})$")


@dataclass(frozen=True, slots=True, kw_only=True)
class Reference:
    """A parsed, normalized image reference."""

    registry: str
    """``docker.io``, ``ghcr.io``, ``localhost:5000``..."""
    repository: str
    """The path under the registry: ``library/busybox``, ``myorg/etl``."""
    tag: str | None
    """The tag; ``latest`` when neither a tag nor a digest was given."""
    digest: str | None
    """``sha256:<hex>`` when the reference pins a manifest digest."""

    def __str__(self) -> str:
        text = f"{self.registry}/{self.repository}"
        if self.tag is not None:
            text += f":{self.tag}"
        if self.digest is not None:
            text += f"@{self.digest}"
        return text


def parse_reference(text: str) -> Reference:
    """``text`` parsed and normalized, or InvalidInput naming what is wrong with it.

    Raises:
        InvalidInput: not an image reference (empty, upper case in the repository, a bad
            tag or digest).
    """
    original = text
    if not text or text != text.strip():
        raise InvalidInput(
            f"image {original!r} is not an image reference; give name[:tag][@sha256:digest], "
            "as 'busybox', 'myorg/etl:1.2' or 'ghcr.io/org/tool@sha256:...'",
            image=original,
        )
    digest = None
    if "@" in text:
        text, digest = text.split("@", 1)
        if not _DIGEST.match(digest):
            raise InvalidInput(
                f"image {original!r}: digest {digest!r} is not sha256:<64 hex digits>",
                image=original,
            )
    tag = None
    slash = text.rfind("/")
    colon = text.rfind(":")
    if colon > slash:
        text, tag = text[:colon], text[colon + 1 :]
        if not _TAG.match(tag):
            raise InvalidInput(
                f"image {original!r}: tag {tag!r} is not valid; a tag has up to 128 letters, "
                "digits, '_', '.' or '-' and does not start with '.' or '-'",
                image=original,
            )
    first, _, rest = text.partition("/")
    if rest and ("." in first or ":" in first or first == "localhost"):
        registry, path = first, rest
        if not _DOMAIN.match(registry):
            raise InvalidInput(
                f"image {original!r}: registry {registry!r} is not a host[:port]",
                image=original,
            )
    else:
        registry, path = DEFAULT_REGISTRY, text
    if registry == "index.docker.io":
        registry = DEFAULT_REGISTRY
    if registry == DEFAULT_REGISTRY and "/" not in path:
        path = f"library/{path}"
    for component in path.split("/"):
        if not _COMPONENT.match(component):
            hint = " (repository names are lower case)" if component.lower() != component else ""
            raise InvalidInput(
                f"image {original!r}: repository component {component!r} is not valid{hint}; "
                "use lower-case letters and digits separated by '.', '_', '__' or '-'",
                image=original,
            )
    if tag is None and digest is None:
        tag = DEFAULT_TAG
    return Reference(registry=registry, repository=path, tag=tag, digest=digest)


def normalize(text: str) -> str:
    """The normalized form of an image reference (the store's key for a name). Pure.

    Raises:
        InvalidInput: ``text`` is not an image reference.
    """
    return str(parse_reference(text))


def id_prefix(text: str) -> str | None:
    """The hex of an image id (``sha256:<hex>`` or at least 12 hex digits), else None. Pure.

    A bare hex string that is also a valid repository name (``deadbeefcafe``) is taken as an
    id here; the store tries names first, so such a name still resolves.
    """
    match = _ID.match(text)
    return match.group(1) if match else None
