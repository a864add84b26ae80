"""The API limits bind: one budget per token and one per address, across every endpoint of
the JSON API and Open311 together (README: `API_RATE_LIMIT`, `API_IP_RATE_LIMIT`)."""

from __future__ import annotations

from portal.services import tokens
from tests.api.support import assert_error

OPEN311 = "/open311/v2"


def test_one_token_shares_its_budget_across_endpoints(api, world, app, client):
    app.config["API_RATE_LIMIT"] = "6 per minute"
    caller = api(world.daulet)
    reference = caller.submitted(world.notice)  # 1
    spread = [
        caller.get("/me"),  # 2
        caller.get("/services"),  # 3
        caller.get(f"/services/{world.notice.code}"),  # 4
        caller.get("/requests"),  # 5
        caller.get(f"/requests/{reference}"),  # 6
    ]
    assert [r.status_code for r in spread] == [200] * 5

    # The seventh call, to an endpoint not used before, is over the token's budget.
    limited = caller.get("/document-types")
    error = assert_error(limited, 429, "rate_limited")
    assert error["message"] == "Too many requests. Please slow down."
    assert int(limited.headers["Retry-After"]) > 0
    # Open311 with the same token counts against the same budget.
    over311 = client.get(f"{OPEN311}/requests.json", query_string={"api_key": caller.secret})
    assert over311.status_code == 429
    assert over311.get_json()[0]["code"] == 429
    assert int(over311.headers["Retry-After"]) > 0
    # Another person's token has its own.
    assert api(world.saule).get("/document-types").status_code == 200


def test_open311_and_the_api_share_a_token_budget(api, world, app, client):
    app.config["API_RATE_LIMIT"] = "3 per minute"
    secret = tokens.create(world.daulet, "civic tool")[1]
    key = {"api_key": secret}
    assert client.get(f"{OPEN311}/services.json", query_string=key).status_code == 200
    assert client.get(f"{OPEN311}/requests.json", query_string=key).status_code == 200
    assert api(world.daulet, secret).get("/me").status_code == 200
    assert_error(api(world.daulet, secret).get("/services"), 429, "rate_limited")


def test_one_address_shares_its_budget_across_endpoints_and_tokens(api, world, app, client):
    app.config["API_IP_RATE_LIMIT"] = "4 per minute"
    assert api(world.daulet).get("/me").status_code == 200
    assert api(world.saule).get("/services").status_code == 200
    assert client.get(f"{OPEN311}/services.json").status_code == 200
    assert client.get(f"{OPEN311}/discovery.json").status_code == 200
    limited = api(world.aigerim).get("/queue")
    assert_error(limited, 429, "rate_limited")
    assert "Retry-After" in limited.headers
    assert client.get(f"{OPEN311}/services.xml").status_code == 429
    # Another address is counted on its own.
    elsewhere = api(world.aigerim).get("/queue", environ_base={"REMOTE_ADDR": "10.0.0.9"})
    assert elsewhere.status_code == 200
