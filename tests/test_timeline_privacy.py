"""The applicant sees every step of their request, but not the administration's internal
remarks: an approver's comment, a head's reason for reassigning, and who wrote them."""

from portal.models import Role
from portal.services import requests as request_service
from portal.services.requests import Upload
from tests.conftest import pdf_file


def test_the_applicant_sees_a_reassignment_happen_but_not_the_heads_reason(make, login):
    department = make.department()
    charter = make.document_type()
    service = make.service(department, [charter], target_days=5)
    first = make.employee(department, name="Aigerim Bekova")
    second = make.employee(department, name="Bolat Serikov")
    head = make.employee(department, Role.HEAD, name="Yerlan Head")
    applicant = make.applicant()
    request = request_service.submit(applicant, service, "shop", [Upload(charter.id, pdf_file())])
    assignee = request.assignee
    other = second if assignee.id == first.id else first
    request_service.reassign(head, request.reference, other.id, "INTERNAL: overloaded, sloppy")

    client = login(applicant)
    client.get("/lang/en")
    page = client.get(f"/my/requests/{request.reference}").get_data(as_text=True)
    assert f"Reassigned from {assignee.full_name} to {other.full_name}" in page
    assert "INTERNAL" not in page
    assert "Yerlan Head" not in page

    client = login(head)
    client.get("/lang/en")
    page = client.get(f"/staff/requests/{request.reference}").get_data(as_text=True)
    assert "INTERNAL: overloaded, sloppy" in page
    assert "Yerlan Head" in page
