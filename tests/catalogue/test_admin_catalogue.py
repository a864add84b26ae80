"""An admin sets up the catalogue through the pages; applicants then use what was set up."""

from __future__ import annotations

import io

import pytest
import sqlalchemy as sa

from portal.extensions import db
from portal.models import CatalogueChange, Department, DocumentType, Role, Service, ServiceRequest
from portal.services import ServiceError, tokens
from portal.services import requests as request_service
from portal.services.requests import Upload
from tests.conftest import PDF, PNG, pdf_file
from tests.helpers import main, post_form, sign_in, sign_out, text


def texts(name: str, ru: str, kk: str, en: str) -> dict:
    return {f"{name}_ru": ru, f"{name}_kk": kk, f"{name}_en": en}


def create_department(client, code="TRD", head=""):
    return post_form(
        client,
        "/admin/departments/new",
        {
            "code": code,
            **texts("name", "Отдел торговли", "Сауда бөлімі", "Department of Trade"),
            "head": head,
            "active": "y",
        },
    )


def create_document_type(client, code, formats=("pdf",), max_size_mb="", multiple=False):
    data = {
        "code": code,
        **texts("name", f"Документ {code}", f"Құжат {code}", f"Document {code}"),
        **texts(
            "note",
            "Выдан не ранее чем за 30 дней до подачи",
            "Өтінім берілгенге дейін 30 күннен ерте берілмеген",
            "Issued not earlier than 30 days before submission",
        ),
        "formats": list(formats),
        "max_size_mb": max_size_mb,
        "active": "y",
    }
    if multiple:
        data["multiple_files"] = "y"
    return post_form(client, "/admin/document-types/new", data)


def create_service(client, code="kiosk", department="TRD", required=(), optional=(), **extra):
    data = {
        "code": code,
        "department": department,
        **texts("title", "Размещение киоска", "Дүңгіршек орналастыру", "Placing a kiosk"),
        **texts("description", "Киоск у дома", "Үй жанындағы дүңгіршек", "A kiosk by a house"),
        **texts("legal_basis", "Закон о торговле", "Сауда туралы заң", "The trade law"),
        "applicants": "both",
        "fee_tenge": "3690",
        "result_form": "permit",
        "required_documents": list(required),
        "optional_documents": list(optional),
        "target_days": "5",
        "waiting_policy": "pause",
        "at_risk_percent": "75",
        "intake_days": "2",
        "warn_at_risk": "y",
        "escalate_to_head": "y",
        "supervisor_after_days": "3",
        "reply_days": "10",
        "reminder_days": "2, 4, 6",
        "approvers": ["role:head"],
        **extra,
    }
    return post_form(client, "/admin/services/new", data)


def apply(client, code, files: dict, description="A kiosk at Abay 10"):
    return post_form(
        client,
        f"/my/apply/{code}",
        {"description": description, **files},
        content_type="multipart/form-data",
    )


def by_code(model, code):
    db.session.expire_all()
    return db.session.scalar(sa.select(model).where(model.code == code))


def test_admin_sets_up_a_service_and_an_applicant_is_served_by_its_department(client, make, login):
    admin = make.overseer(Role.ADMIN)
    applicant = make.applicant()
    sign_in(client, admin)

    assert create_department(client).status_code == 303
    assert create_document_type(client, "passport", multiple=True).status_code == 303
    assert create_document_type(client, "plan", formats=("pdf", "png")).status_code == 303
    response = create_service(client, required=["passport"], optional=["plan"])
    assert response.status_code == 303, main(response)

    department = by_code(Department, "TRD")
    staff = make.employee(department, name="Gulnar Staff")
    kiosk = by_code(Service, "kiosk")
    assert kiosk.department_id == department.id and kiosk.active
    assert (kiosk.fee_tenge, kiosk.result_form, kiosk.applicants) == (3690, "permit", "both")
    assert [d.code for d in kiosk.required_documents] == ["passport"]
    assert [d.code for d in kiosk.optional_documents] == ["plan"]
    assert [a.role for a in kiosk.approvers] == ["head"]
    audited = db.session.scalars(sa.select(CatalogueChange).order_by(CatalogueChange.id)).all()
    assert [(c.entity, c.code, c.action, c.actor_id) for c in audited] == [
        ("department", "TRD", "created", admin.id),
        ("document_type", "passport", "created", admin.id),
        ("document_type", "plan", "created", admin.id),
        ("service", "kiosk", "created", admin.id),
    ]
    listing = main(client.get("/admin/services"))
    assert "Placing a kiosk" in listing

    sign_out(client)
    sign_in(client, applicant)
    page = main(client.get("/my/apply/kiosk"))
    assert "Issued not earlier than 30 days before submission" in page
    assert "multiple" in page  # the passport takes several files (a multi-page scan)
    passport, plan = by_code(DocumentType, "passport"), by_code(DocumentType, "plan")
    response = apply(
        client,
        "kiosk",
        {
            f"doc_{passport.id}": [
                (io.BytesIO(PDF + b"%page1\n"), "page1.pdf"),
                (io.BytesIO(PDF + b"%page2\n"), "page2.pdf"),
            ],
            f"doc_{plan.id}": (io.BytesIO(PNG), "plan.png"),
        },
    )
    assert response.status_code == 302, main(response)
    created = db.session.scalar(sa.select(ServiceRequest))
    assert created.service.code == "kiosk"
    assert created.assignee_id == staff.id
    assert sorted(d.original_name for d in created.documents) == [
        "page1.pdf",
        "page2.pdf",
        "plan.png",
    ]


def test_a_document_type_narrows_the_formats_size_and_number_of_files(app, client, make, login):
    app.config["MAX_UPLOAD_BYTES"] = 5 * 1024 * 1024
    department = make.department()
    make.employee(department)
    scan = DocumentType(
        code="scan", name_ru="Скан", name_kk="Скан", name_en="Scan", formats=["pdf"], max_size_mb=1
    )
    db.session.add(scan)
    db.session.commit()
    service = make.service(department, [scan], code="permit")
    applicant = make.applicant()
    sign_in(client, applicant)

    png = apply(client, "permit", {f"doc_{scan.id}": (io.BytesIO(PNG), "scan.png")})
    assert png.status_code == 422
    assert "This document is accepted as PDF only." in text(png)

    # (Through the service: an upload this big would go to a temporary file in the test
    # client, which it leaves open.)
    big = PDF + b"%" + b"x" * (1024 * 1024 + 10) + b"\n"
    with pytest.raises(ServiceError, match="The file is larger than 1 MB."):
        request_service.submit(applicant, service, "Big", [Upload(scan.id, pdf_file("s.pdf", big))])

    # The page offers one file for it; a client sending two is refused, not half-served.
    two = [Upload(scan.id, pdf_file("a.pdf")), Upload(scan.id, pdf_file("b.pdf"))]
    with pytest.raises(ServiceError, match="Attach one file for this document."):
        request_service.submit(applicant, service, "Two scans", two)
    assert db.session.scalar(sa.select(sa.func.count(ServiceRequest.id))) == 0
    assert service.active


def test_who_may_apply_is_honoured(client, make, login):
    department = make.department()
    make.employee(department)
    service = make.service(department, code="citizens_only")
    service.applicants = "citizen"
    db.session.commit()
    sign_in(client, make.applicant())  # a company

    page = client.get("/my/apply/citizens_only")
    assert page.status_code == 403
    assert "This service is for citizens (with an IIN) only." in text(page)
    refused = apply(client, "citizens_only", {})
    assert refused.status_code == 403
    assert db.session.scalar(sa.select(sa.func.count(ServiceRequest.id))) == 0


def test_a_service_with_open_requests_is_retired_not_deleted(client, make, login):
    admin = make.overseer(Role.ADMIN)
    department = make.department()
    make.employee(department)
    service = make.service(department, code="kiosk")
    applicant = make.applicant()
    sign_in(client, applicant)
    assert apply(client, "kiosk", {}).status_code == 302
    sign_out(client)

    sign_in(client, admin)
    page = main(client.get("/admin/services/kiosk/details"))
    assert "1 open request." in page
    deleted = post_form(
        client,
        "/admin/services/kiosk/status",
        {"action": "delete"},
        "/admin/services/kiosk/details",
    )
    assert deleted.status_code == 303
    assert by_code(Service, "kiosk") is not None
    assert "retire it instead of deleting it" in text(client.get("/admin/services/kiosk/details"))

    retired = post_form(
        client,
        "/admin/services/kiosk/status",
        {"action": "retire"},
        "/admin/services/kiosk/details",
    )
    assert retired.status_code == 303
    assert by_code(Service, "kiosk").active is False
    change = db.session.scalar(
        sa.select(CatalogueChange).where(CatalogueChange.action == "retired")
    )
    assert change.changes == {"active": [True, False]} and change.actor_id == admin.id
    # Its request goes on; nobody can apply any more; the public catalogue hides it.
    assert db.session.scalar(sa.select(ServiceRequest.state)) == "submitted"
    sign_out(client)
    sign_in(client, applicant)
    assert client.get("/my/apply/kiosk").status_code == 404
    assert client.get("/services/kiosk").status_code == 404
    del service


def test_a_service_nobody_applied_for_can_be_deleted(client, make, login):
    department = make.department()
    make.service(department, code="mistake")
    sign_in(client, make.overseer(Role.ADMIN))
    response = post_form(
        client,
        "/admin/services/mistake/status",
        {"action": "delete"},
        "/admin/services/mistake/details",
    )
    assert response.status_code == 303
    assert by_code(Service, "mistake") is None
    change = db.session.scalar(sa.select(CatalogueChange))
    assert (change.code, change.action) == ("mistake", "deleted")


def test_bad_input_on_the_catalogue_pages_changes_nothing(client, make, login):
    sign_in(client, make.overseer(Role.ADMIN))
    assert create_department(client).status_code == 303
    taken = create_department(client)
    assert taken.status_code == 422 and "This code is taken" in text(taken)
    bad_code = create_department(client, code="1 bad")
    assert bad_code.status_code == 422
    no_head = create_department(client, code="OTH", head="nobody@moldir.test")
    assert no_head.status_code == 422
    assert "No active head of department has this email." in text(no_head)
    no_format = create_document_type(client, "x", formats=())
    assert no_format.status_code == 422
    unknown_department = create_service(client, department="NOPE")
    assert unknown_department.status_code == 422
    bad_target = create_service(client, target_days="400")
    assert bad_target.status_code == 422
    assert db.session.scalar(sa.select(sa.func.count(Service.id))) == 0
    assert db.session.scalar(sa.select(sa.func.count(DocumentType.id))) == 0
    assert db.session.scalar(sa.select(sa.func.count(CatalogueChange.id))) == 1


def test_editing_a_department_and_a_document_type_is_audited(client, make, login):
    department = make.department("TRD")
    head = make.employee(department, Role.HEAD, name="Yerlan Head")
    sign_in(client, make.overseer(Role.ADMIN))
    page = main(client.get("/admin/departments/TRD"))
    assert "Department 1" in page or "Department" in page
    response = post_form(
        client,
        "/admin/departments/TRD",
        {
            **texts("name", "Отдел", "Бөлім", "Trade and Services"),
            "head": head.email,
            "active": "y",
        },
    )
    assert response.status_code == 303, main(response)
    assert by_code(Department, "TRD").head.id == head.id
    change = db.session.scalar(sa.select(CatalogueChange))
    assert change.action == "updated" and set(change.changes) == {"name", "head"}
    assert "Yerlan Head" in main(client.get("/admin/departments"))


def test_a_new_service_is_served_by_the_api_and_open311(client, make, login):
    admin = make.overseer(Role.ADMIN)
    applicant = make.applicant()
    sign_in(client, admin)
    assert create_department(client).status_code == 303
    make.employee(by_code(Department, "TRD"))
    assert create_service(client, code="street_stall").status_code == 303
    sign_out(client)

    listing = client.get("/open311/v2/services.json").get_json()
    assert "street_stall" in {s["service_code"] for s in listing}

    _token, secret = tokens.create(applicant, "integration")
    auth = {"Authorization": f"Bearer {secret}"}
    services = client.get("/api/v1/services", headers=auth).get_json()
    assert "street_stall" in {s["code"] for s in services["items"]}
    created = client.post(
        "/api/v1/requests",
        headers=auth,
        data={"service_code": "street_stall", "description": "A stall by the market"},
        content_type="multipart/form-data",
    )
    assert created.status_code == 201, created.get_json()
    assert created.get_json()["service"]["code"] == "street_stall"
