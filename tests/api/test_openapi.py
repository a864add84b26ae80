"""The OpenAPI document describes exactly the routes there are, and the docs page shows it."""

from __future__ import annotations

import re
from pathlib import Path

import jsonschema

from portal.api import spec

STATIC = Path(__file__).resolve().parents[2] / "portal" / "static"


def _flask_routes(app) -> set[tuple[str, str]]:
    routes = set()
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith(spec.API_PREFIX + "/"):
            continue
        path = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule[len(spec.API_PREFIX) :])
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            routes.add((method, path))
    return routes


def test_every_api_route_is_documented_and_every_documented_route_exists(app, client):
    document = client.get("/api/openapi.json").get_json()
    documented = {
        (method.upper(), path)
        for path, operations in document["paths"].items()
        for method in operations
    }
    assert documented == _flask_routes(app)
    assert len(documented) == 12


def test_the_document_is_openapi_3_1_with_resolvable_references(client):
    document = client.get("/api/openapi.json").get_json()
    assert document["openapi"] == "3.1.0"
    assert document["servers"] == [{"url": "/api/v1"}]
    assert document["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"
    for name, schema in document["components"]["schemas"].items():
        jsonschema.Draft202012Validator.check_schema(schema), name
    refs = set(re.findall(r'"\$ref": "#/components/(\w+)/(\w+)"', str(document).replace("'", '"')))
    for section, name in refs:
        assert name in document["components"][section], name


def test_every_operation_documents_its_errors(client):
    document = client.get("/api/openapi.json").get_json()
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            codes = set(operation["responses"])
            assert {"400", "401", "404", "429"} <= codes, (method, path)
            if "requestBody" in operation:
                assert {"413", "415", "422"} <= codes, (method, path)


def test_docs_page_renders_the_vendored_viewer_without_inline_script(client):
    response = client.get("/api/docs")
    page = response.get_data(as_text=True)

    assert response.status_code == 200
    assert "/static/vendor/swagger-ui/swagger-ui-bundle.js" in page
    assert "/static/vendor/swagger-ui/swagger-ui.css" in page
    assert 'data-spec-url="/api/openapi.json"' in page
    scripts = re.findall(r"<script([^>]*)>(.*?)</script>", page, re.S)
    assert scripts and all("src=" in attrs and not body.strip() for attrs, body in scripts)
    assert "//cdn" not in page and "unpkg" not in page
    for name in ("swagger-ui-bundle.js", "swagger-ui.css", "LICENSE"):
        assert (STATIC / "vendor" / "swagger-ui" / name).is_file()
    script = client.get("/static/api-docs.js")
    assert script.status_code == 200
    script.close()
