"""Open311 answers as JSON or XML, in the shapes the GeoReport v2 specification gives."""

from __future__ import annotations

import json
import re
from xml.etree import ElementTree as ET  # noqa: S405  # nosec B405: builds, never parses

from flask import Response

# The XML element that wraps a list, and the one for each item in it.
XML_LIST = {
    "services": ("services", "service"),
    "requests": ("service_requests", "request"),
    "errors": ("errors", "error"),
}


_XML_UNSAFE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _xml_value(parent: ET.Element, name: str, value) -> None:
    child = ET.SubElement(parent, name)
    if value is None:
        return
    if isinstance(value, bool):
        child.text = "true" if value else "false"
    elif isinstance(value, dict):
        for key, inner in value.items():
            _xml_value(child, key, inner)
    elif isinstance(value, list):
        item_name = {
            "attributes": "attribute",
            "values": "value",
            "endpoints": "endpoint",
            "formats": "format",
        }.get(name, "item")
        for inner in value:
            _xml_value(child, item_name, inner)
    else:
        # Characters XML 1.0 cannot carry (control characters) would make the document
        # unreadable for every client; they are dropped.
        child.text = _XML_UNSAFE.sub("", str(value))


def xml_document(root_name: str, item_name: str | None, payload) -> bytes:
    root = ET.Element(root_name)
    if item_name is None:
        for key, value in payload.items():
            _xml_value(root, key, value)
    else:
        for item in payload:
            element = ET.SubElement(root, item_name)
            for key, value in item.items():
                _xml_value(element, key, value)
    return ET.tostring(root, encoding="utf-8", xml_declaration=True)


def respond(fmt: str, kind: str, payload, status: int = 200) -> Response:
    """`payload` as `fmt` ("json" or "xml"); `kind` names its XML wrapping."""
    if fmt == "xml":
        if kind in XML_LIST:
            root_name, item_name = XML_LIST[kind]
        else:
            root_name, item_name = kind, None
        body = xml_document(root_name, item_name, payload)
        return Response(body, status=status, content_type="text/xml; charset=utf-8")
    body = json.dumps(payload, ensure_ascii=False)
    return Response(body, status=status, content_type="application/json; charset=utf-8")


def error(fmt: str, status: int, description) -> Response:
    return respond(fmt, "errors", [{"code": status, "description": str(description)}], status)
