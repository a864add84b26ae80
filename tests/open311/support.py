"""Validation of Open311 answers against the GeoReport v2 schemas kept in `schemas/`."""

from __future__ import annotations

import json
import re
from datetime import datetime
from pathlib import Path
from xml.etree import ElementTree as ET  # noqa: S405  (parses only our own answers)

import jsonschema
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT4

SCHEMAS = Path(__file__).parent / "schemas"
RFC3339 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$")

FORMATS = jsonschema.FormatChecker()


@FORMATS.checks("date-time")
def _is_rfc3339(value) -> bool:
    # ISO 8601 with a zone, as the specification asks (jsonschema alone skips this format).
    if not isinstance(value, str) or not RFC3339.match(value):
        return False
    return datetime.fromisoformat(value).tzinfo is not None


def _registry() -> Registry:
    resources = [
        (path.name, Resource.from_contents(json.loads(path.read_text()), DRAFT4))
        for path in SCHEMAS.glob("*.json")
    ]
    return Registry().with_resources(resources)


REGISTRY = _registry()


def validate(document, schema_name: str) -> None:
    """Raise if `document` does not follow the GeoReport v2 schema `schema_name`."""
    schema = json.loads((SCHEMAS / schema_name).read_text())
    validator = jsonschema.Draft4Validator(schema, registry=REGISTRY, format_checker=FORMATS)
    validator.validate(document)


def xml(response) -> ET.Element:
    assert response.mimetype == "text/xml", response.mimetype
    return ET.fromstring(response.get_data())  # noqa: S314  (our own answer)


def json_of(response):
    assert response.mimetype == "application/json", response.mimetype
    return json.loads(response.get_data())
