"""A small XML writer for the gateway's response documents: elements with text, nothing else.

ElementTree built and serialized every listing page before, and a profile of a 1,000,000-key
listing found 53 % of the gateway's CPU there: its serializer is Python that walks every
element and writes each piece through a stream. The documents S3 answers with need far
less: elements, text, and an attribute or two on fixed tags. Here a child with text is
written at once as one string, and a document is one join, so a page of 1,000 keys is a few
thousand string pieces rather than a tree of elements.

The bytes are those ElementTree wrote (so no client sees a change): text escapes ``&``,
``<`` and ``>`` only, an element with neither text nor children is written ``<Tag />``, and
characters UTF-8 cannot carry become character references. What text may hold is the
caller's to check (:mod:`~._s3xml` refuses what XML 1.0 cannot carry).
"""

from __future__ import annotations

__all__ = ["Element", "document", "escape", "leaf"]

DECLARATION = '<?xml version="1.0" encoding="UTF-8"?>\n'


def escape(text: str) -> str:
    """Escape text for an element's content: ``&``, ``<`` and ``>``, as ElementTree does."""
    if "&" in text:
        text = text.replace("&", "&amp;")
    if "<" in text:
        text = text.replace("<", "&lt;")
    if ">" in text:
        text = text.replace(">", "&gt;")
    return text


def leaf(tag: str, text: str | int | None = None) -> str:
    """An element holding ``text`` (escaped), written; ``None`` or ``""`` writes it empty."""
    if text is None or text == "":
        return f"<{tag} />"
    if isinstance(text, str):
        return f"<{tag}>{escape(text)}</{tag}>"
    return f"<{tag}>{text}</{tag}>"


class Element:
    """An element being written: its tag, its attributes (written as given) and its content,
    each piece either written text or a child element still open to additions.
    """

    __slots__ = ("_open", "_parts", "tag")

    def __init__(self, tag: str, attributes: dict[str, str] | None = None) -> None:
        self.tag = tag
        # Attribute values here are constants (namespaces, a type name): escaped all the same,
        # quotes included, so that no value can break out of its attribute.
        attrs = "".join(
            f' {name}="{escape(value).replace(chr(34), "&quot;")}"'
            for name, value in (attributes or {}).items()
        )
        self._open = f"<{tag}{attrs}"
        self._parts: list[str | Element] = []

    def text(self, tag: str, text: str | int | None = None) -> None:
        """Add a child holding ``text`` (escaped); ``None`` or ``""`` writes it empty."""
        self._parts.append(leaf(tag, text))

    def written(self, text: str) -> None:
        """Add content already written (from :func:`leaf`, say): a long loop's fast path."""
        self._parts.append(text)

    def child(self, tag: str, attributes: dict[str, str] | None = None) -> Element:
        """Add a child element and return it, to add to."""
        element = Element(tag, attributes)
        self._parts.append(element)
        return element

    def write(self, out: list[str]) -> None:
        """Append this element's text to ``out``."""
        if not self._parts:
            out.append(self._open + " />")
            return
        out.append(self._open + ">")
        for part in self._parts:
            if isinstance(part, str):
                out.append(part)
            else:
                part.write(out)
        out.append(f"</{self.tag}>")


def document(root: Element) -> bytes:
    """The whole document: the declaration, then ``root``, in UTF-8."""
    out = [DECLARATION]
    root.write(out)
    return "".join(out).encode("utf-8", "xmlcharrefreplace")
