"""Whatever a civic tool sends, Open311 answers in its own format and never with a 5xx."""

from __future__ import annotations

from flask import g
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from portal.services import tokens
from tests.open311.support import json_of, validate

PARAMETERS = st.dictionaries(
    st.sampled_from(
        [
            "service_request_id",
            "service_code",
            "start_date",
            "end_date",
            "status",
            "api_key",
            "description",
            "attribute[charter]",
            "attribute[x]",
            "jurisdiction_id",
        ]
    ),
    st.one_of(
        st.text(max_size=30),
        st.sampled_from(["open", "closed", "2026-03-02", "2026-03-02T10:00:00Z", "shop_permit"]),
    ),
    max_size=5,
)
PATHS = st.sampled_from(
    [
        "/services.{fmt}",
        "/services/shop_permit.{fmt}",
        "/requests.{fmt}",
        "/requests/SHY-2026-000001.{fmt}",
        "/tokens/SHY-2026-000001.{fmt}",
        "/discovery.{fmt}",
    ]
)


def test_random_input_never_breaks_open311(app, client, api, world):
    app.config["API_RATE_LIMIT"] = app.config["API_IP_RATE_LIMIT"] = "1000000 per minute"
    api(world.daulet).submitted(world.notice)
    _t, key = tokens.create(world.daulet, "fuzz")

    @settings(
        max_examples=60,
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
    )
    @given(
        path=PATHS,
        fmt=st.sampled_from(["json", "xml"]),
        params=PARAMETERS,
        post=st.booleans(),
        with_key=st.booleans(),
    )
    def explore(path, fmt, params, post, with_key):
        for name in list(vars(g)):
            delattr(g, name)
        if with_key:
            params = {**params, "api_key": key}
        url = "/open311/v2" + path.format(fmt=fmt)
        response = client.post(url, data=params) if post else client.get(url, query_string=params)
        assert response.status_code < 500, response.get_data(as_text=True)
        expected = "text/xml" if fmt == "xml" else "application/json"
        assert response.mimetype == expected
        if response.status_code >= 400 and fmt == "json":
            body = json_of(response)
            assert body[0]["code"] == response.status_code and body[0]["description"]
        elif fmt == "json" and "/requests" in path and not post:
            validate(json_of(response), "requests.json")

    explore()
