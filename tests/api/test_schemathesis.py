"""Schemathesis against /api/openapi.json, in process: no 5xx, no response off the schema.

Checks: no server error; status codes, content types, headers and bodies as documented;
schema-violating requests rejected; calls without a token refused.

Cases come from the document itself (positive and negative data for every operation),
each sent with an applicant's and a head's token; path parameters are also swapped for
real references, so that bodies reach the services and not only the 404.
"""

from __future__ import annotations

import io
import os
from itertools import cycle

import schemathesis
from flask import g
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    ignored_auth,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from portal.services import tokens
from tests.helpers import pdf

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    negative_data_rejection,
    ignored_auth,
]
# Small and fixed in CI (a deterministic ~25 s); SCHEMATHESIS_EXAMPLES=200 explores more,
# with fresh random data each run.
MAX_EXAMPLES = int(os.environ.get("SCHEMATHESIS_EXAMPLES", "12"))
DERANDOMIZE = "SCHEMATHESIS_EXAMPLES" not in os.environ


def _seed(api, world) -> list[str]:
    """Requests in several states, so generated calls meet each of them."""
    daulet = api(world.daulet)
    references = [daulet.submitted(world.permit) for _ in range(4)]
    references.append(daulet.submitted(world.notice))
    head = api(world.head)
    head.act(references[1], "accept_documents")
    head.act(
        references[2],
        "request_documents",
        items=[{"document_type": "charter", "reason": "Unsigned"}],
    )
    head.act(references[3], "reject", reason="Residential premises")
    field = f"doc_{world.charter.id}"
    daulet.post(
        f"/requests/{references[2]}/documents",
        data={field: (io.BytesIO(pdf("x")), "c.pdf")},
        content_type="multipart/form-data",
    )
    return references


def test_api_conforms_to_its_openapi_document(app, api, world, capsys):
    app.config["API_RATE_LIMIT"] = app.config["API_IP_RATE_LIMIT"] = "1000000 per minute"
    references = cycle(_seed(api, world))
    _t, applicant = tokens.create(world.daulet, "schemathesis")
    _t, head = tokens.create(world.head, "schemathesis")
    auths = [{"Authorization": f"Bearer {secret}"} for secret in (applicant, head)]

    def wsgi(environ, start_response):
        # The test keeps one app context open; each call gets an empty `g`, as in production.
        for name in list(vars(g)):
            delattr(g, name)
        return app(environ, start_response)

    schema = schemathesis.openapi.from_wsgi("/api/openapi.json", wsgi)
    counted = {"cases": 0, "calls": 0, "operations": 0}
    failures: list[str] = []

    def run(case) -> None:
        counted["cases"] += 1
        variants = [case.path_parameters]
        if case.path_parameters and "reference" in case.path_parameters:
            variants.append({**case.path_parameters, "reference": next(references)})
        for path_parameters in variants:
            case.path_parameters = path_parameters
            for headers in auths:
                counted["calls"] += 1
                try:
                    case.call_and_validate(headers=headers, checks=CHECKS)
                except (FailureGroup, Exception) as failure:  # collected, reported below
                    failures.append(f"{case.operation.label} {path_parameters}: {failure}")

    for result in schema.get_all_operations():
        operation = result.ok()
        counted["operations"] += 1
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            strategy = operation.as_strategy(generation_mode=mode)

            @given(case=strategy)
            @settings(
                max_examples=MAX_EXAMPLES,
                deadline=None,
                database=None,
                derandomize=DERANDOMIZE,
                phases=[Phase.explicit, Phase.generate],
                suppress_health_check=list(HealthCheck),
            )
            def explore(case):
                run(case)

            explore()

    with capsys.disabled():
        print(
            f"\nschemathesis: {counted['cases']} generated cases, {counted['calls']} calls "
            f"over {counted['operations']} operations, {len(failures)} failures"
        )
    assert counted["operations"] == 12
    assert not failures, "\n\n".join(failures[:40])
