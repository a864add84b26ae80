"""The applicant's journey through the real HTTP paths."""

import io

import sqlalchemy as sa

from portal.extensions import db
from portal.models import Event, ServiceRequest
from tests.conftest import PDF, csrf_token


def submit(client, service, description="Please register our shop", files=None):
    path = f"/my/apply/{service.code}"
    data = {"csrf_token": csrf_token(client, path), "description": description}
    for doc in service.required_documents:
        data[f"doc_{doc.id}"] = (io.BytesIO(PDF), f"{doc.code}.pdf")
    data.update(files or {})
    return client.post(path, data=data, content_type="multipart/form-data")


def test_applicant_sees_who_is_accountable(make, login):
    department = make.department("ENT")
    charter = make.document_type("charter")
    service = make.service(department, [charter], target_days=3)
    employee = make.employee(department, name="Aigerim Nurlanova")
    applicant = make.applicant()
    client = login(applicant)

    response = submit(client, service)
    assert response.status_code == 302, response.get_data(as_text=True)
    request = db.session.scalar(sa.select(ServiceRequest))
    assert response.headers["Location"].endswith(f"/my/requests/{request.reference}/confirmation")
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert request.reference in page
    assert "Aigerim Nurlanova" in page
    assert request.assignee_id == employee.id
    kinds = [e.kind for e in db.session.scalars(sa.select(Event).order_by(Event.id))]
    assert kinds == ["submitted", "assigned", "clock_started"]
