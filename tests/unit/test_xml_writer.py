"""The gateway's XML writer writes the bytes ElementTree writes for the same document.

ElementTree (the reference here, and what the gateway used before) builds each case's tree
from the same description; the two documents must be equal byte for byte, so that no client
sees the change of writer.
"""

import xml.etree.ElementTree as ET
from typing import Any

import pytest

from pachstream.gateway._xmlwrite import Element, document, escape, leaf

# A case: (tag, attributes, children); a child is (tag, text) or a nested case.
Node = tuple[str, dict[str, str], list[Any]]

CASES: dict[str, Node] = {
    "one text child": ("R", {}, [("A", "x")]),
    "markup in text": ("R", {}, [("A", "a&b<c>d"), ("B", "&amp;"), ("C", "]]>")]),
    "quotes and whitespace stay in text": ("R", {}, [("A", '"it\'s"\t\n x ')]),
    "empty text and no text both write <T />": ("R", {}, [("A", ""), ("B", None)]),
    "numbers, zero too": ("R", {}, [("A", 0), ("B", 12345678901234)]),
    "non-ASCII as UTF-8": ("R", {}, [("A", "é💾ü")]),
    "a lone surrogate as a character reference": ("R", {}, [("A", "a\ud800b")]),
    "an empty root": ("R", {}, []),
    "an empty nested element": ("R", {}, [("C", {}, [])]),
    "nesting, mixed with text children": (
        "R",
        {"xmlns": "http://s3.amazonaws.com/doc/2006-03-01/"},
        [("A", "1"), ("C", {}, [("D", "2"), ("E", {}, [("F", "3")])]), ("G", "4")],
    ),
    "attributes in order, escaped": (
        "R",
        {},
        [("G", {"xmlns:xsi": "http://x/?a=1&b=<2>", "xsi:type": 'say "hi"'}, [("I", "i")])],
    ),
}


def _ours(node: Node, parent: Element | None = None) -> Element:
    tag, attributes, children = node
    element = Element(tag, attributes) if parent is None else parent.child(tag, attributes)
    for child in children:
        if len(child) == 2:
            element.text(*child)
        else:
            _ours(child, element)
    return element


def _theirs(node: Node, parent: ET.Element | None = None) -> ET.Element:
    tag, attributes, children = node
    element = (
        ET.Element(tag, attributes) if parent is None else ET.SubElement(parent, tag, attributes)
    )
    for child in children:
        if len(child) == 2:
            sub = ET.SubElement(element, child[0])
            if child[1] is not None:
                sub.text = str(child[1])
        else:
            _theirs(child, element)
    return element


@pytest.mark.parametrize("name", list(CASES))
def test_the_writer_writes_what_elementtree_writes(name: str) -> None:
    node = CASES[name]
    expected = b'<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(
        _theirs(node), encoding="utf-8", xml_declaration=False
    )
    assert document(_ours(node)) == expected


@pytest.mark.parametrize(
    ("tag", "text", "written"),
    [
        ("K", "a", "<K>a</K>"),
        ("K", "", "<K />"),
        ("K", None, "<K />"),
        ("K", 0, "<K>0</K>"),
        ("K", "<&>", "<K>&lt;&amp;&gt;</K>"),
    ],
)
def test_a_leaf_written_ahead_equals_one_added_as_text(
    tag: str, text: str | int | None, written: str
) -> None:
    assert leaf(tag, text) == written
    ahead, added = Element("R"), Element("R")
    ahead.written(leaf(tag, text))
    added.text(tag, text)
    assert document(ahead) == document(added)


def test_escape_leaves_text_without_markup_as_it_is() -> None:
    text = "plain/key with spaces'\"é"
    assert escape(text) is text
