"""Validate OpenLineage events against the spec's JSON schemas, offline.

The spec (tests/fixtures/openlineage/, copied from OpenLineage/OpenLineage) and pachstream's own
facet schemas (docs/openlineage/) are loaded into one registry under their ``$id``s, so every
``$ref`` by URL resolves to a local file. Each facet is checked against the schema its
``_schemaURL`` names: a facet pointing at a schema we do not have fails.
"""

from __future__ import annotations

import datetime
import json
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from jsonschema import Draft202012Validator, FormatChecker
from referencing import Registry, Resource

ROOT = Path(__file__).resolve().parent.parent
SCHEMA_FILES = [
    *sorted((ROOT / "tests" / "fixtures" / "openlineage").rglob("*.json")),
    *sorted((ROOT / "docs" / "openlineage").glob("*.json")),
]
RUN_EVENT = "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent"


DOCUMENTS = {doc["$id"]: doc for doc in (json.loads(p.read_text()) for p in SCHEMA_FILES)}
REGISTRY: Registry = Registry().with_resources(
    (uri, Resource.from_contents(doc)) for uri, doc in DOCUMENTS.items()
)

# jsonschema checks "uuid" itself but needs extra packages for "date-time" and "uri": these
# three are what the spec uses, checked strictly enough to catch a naive time or a bare name.
FORMATS = FormatChecker(formats=())


@FORMATS.checks("uuid", raises=ValueError)
def _uuid(value: object) -> bool:
    return not isinstance(value, str) or str(uuid.UUID(value)) == value


@FORMATS.checks("date-time", raises=ValueError)
def _date_time(value: object) -> bool:
    if not isinstance(value, str):
        return True
    return "T" in value and datetime.datetime.fromisoformat(value).tzinfo is not None


@FORMATS.checks("uri")
def _uri(value: object) -> bool:
    if not isinstance(value, str):
        return True
    parts = urlsplit(value)
    return bool(parts.scheme and (parts.netloc or parts.path))


def validator(ref: str) -> Draft202012Validator:
    """A validator for the schema at ``ref`` (a URL with a JSON pointer fragment)."""
    return Draft202012Validator({"$ref": ref}, registry=REGISTRY, format_checker=FORMATS)


def facets_of(event: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    """Every facet of an event: (where, key, facet)."""
    out = [("run", k, v) for k, v in event["run"].get("facets", {}).items()]
    out += [("job", k, v) for k, v in event["job"].get("facets", {}).items()]
    for side in ("inputs", "outputs"):
        for ds in event.get(side, []):
            out += [(f"{side}.{ds['name']}", k, v) for k, v in ds.get("facets", {}).items()]
    return out


def errors(event: dict[str, Any]) -> list[str]:
    """Every schema violation of a RunEvent and of each of its facets (empty when valid)."""
    found = [f"event: {e.message}" for e in validator(RUN_EVENT).iter_errors(event)]
    for where, key, facet in facets_of(event):
        url = facet.get("_schemaURL", "")
        document = url.split("#")[0]
        if document not in DOCUMENTS:
            found.append(f"{where}.{key}: no local schema for _schemaURL {url!r}")
            continue
        # The facet's own schema, and the file's top-level shape: the key must be the one
        # the facet is registered under (e.g. "version" for DatasetVersionDatasetFacet).
        found += [f"{where}.{key}: {e.message}" for e in validator(url).iter_errors(facet)]
        found += [
            f"{where}.{key}: {e.message}"
            for e in validator(document + "#").iter_errors({key: facet})
        ]
        props = DOCUMENTS[document].get("properties", {})
        if key not in props:
            found.append(f"{where}.{key}: {url} names its facet {sorted(props)}, not {key!r}")
    return found
