"""A small world for the API stories: two departments, their people, services, tokens."""

from __future__ import annotations

import io
from dataclasses import dataclass

import pytest

from portal.models import Role, Service, User
from portal.services import tokens
from tests.helpers import pdf


@dataclass
class World:
    licensing: object
    transport: object
    charter: object
    registry: object
    permit: Service  # needs two documents
    notice: Service  # needs none
    bus_permit: Service  # another department's
    head: User
    aigerim: User  # staff, licensing
    daniyar: User  # staff, licensing
    ruslan: User  # staff, transport
    supervisor: User
    daulet: User  # applicant
    saule: User  # another applicant


@pytest.fixture
def world(make) -> World:
    licensing = make.department("LIC")
    transport = make.department("MOB")
    charter = make.document_type("charter")
    registry = make.document_type("registry_extract")
    permit = make.service(licensing, documents=[charter, registry], code="shop_permit")
    notice = make.service(licensing, code="trade_notice")
    bus_permit = make.service(transport, documents=[charter], code="bus_route")
    return World(
        licensing=licensing,
        transport=transport,
        charter=charter,
        registry=registry,
        permit=permit,
        notice=notice,
        bus_permit=bus_permit,
        head=make.employee(licensing, role=Role.HEAD, name="Yerlan Head"),
        aigerim=make.employee(licensing, name="Aigerim Staff"),
        daniyar=make.employee(licensing, name="Daniyar Staff"),
        ruslan=make.employee(transport, name="Ruslan Staff"),
        supervisor=make.overseer(),
        daulet=make.applicant(name="Daulet Owner"),
        saule=make.applicant(name="Saule Citizen"),
    )


class Api:
    """The test client, speaking for one token."""

    def __init__(self, client, secret: str | None):
        self.client = client
        self.secret = secret

    def _headers(self, headers=None) -> dict:
        base = {"Authorization": f"Bearer {self.secret}"} if self.secret else {}
        return {**base, **(headers or {})}

    def get(self, path, **kwargs):
        headers = self._headers(kwargs.pop("headers", None))
        return self.client.get("/api/v1" + path, headers=headers, **kwargs)

    def post(self, path, **kwargs):
        headers = self._headers(kwargs.pop("headers", None))
        return self.client.post("/api/v1" + path, headers=headers, **kwargs)

    def submit(self, service: Service, description="Please register our shop", files=None):
        data = {"service_code": service.code, "description": description}
        for doc in service.required_documents:
            data[f"doc_{doc.id}"] = (io.BytesIO(pdf(doc.code)), f"{doc.code}.pdf")
        data.update(files or {})
        return self.post("/requests", data=data, content_type="multipart/form-data")

    def submitted(self, service: Service, **kwargs) -> str:
        response = self.submit(service, **kwargs)
        assert response.status_code == 201, response.get_json()
        return response.get_json()["reference"]

    def act(self, reference: str, action: str, **body):
        return self.post(f"/requests/{reference}/actions", json={"action": action, **body})


@pytest.fixture
def api(client):
    """`api(user)`: a client with a fresh token of `user`; `api(None)`: with none."""

    def as_user(user: User | None, secret: str | None = None) -> Api:
        if user is not None and secret is None:
            _token, secret = tokens.create(user, "integration")
        return Api(client, secret)

    return as_user


def assert_error(response, status: int, code: str | None = None) -> dict:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/json"
    error = response.get_json()["error"]
    assert set(error) == {"code", "message", "fields"}
    assert error["message"]
    if code is not None:
        assert error["code"] == code
    return error
