"""Fixtures for the approval stories: a department whose service needs sign-offs."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
import sqlalchemy as sa

from portal.extensions import db
from portal.models import (
    ApprovalStep,
    Department,
    DocumentType,
    Role,
    Service,
    ServiceApprover,
    ServiceRequest,
    User,
)
from portal.services import requests as request_service
from portal.services.requests import Upload
from sla import deadlines
from tests.conftest import pdf_file


@pytest.fixture(autouse=True)
def _fresh_calendar():
    """The calendar is cached per process; each story reads its own database's."""
    deadlines.invalidate()
    yield
    deadlines.invalidate()


@dataclass
class Chancery:
    """A licensing department whose service is signed off by its head and the legal
    department; and someone from a third department, who has no say."""

    department: Department
    legal: Department
    service: Service
    document: DocumentType
    employee: User
    head: User
    lawyer: User
    outsider: User
    supervisor: User
    applicant: User

    def submit(self, description: str = "Licence for our pharmacy") -> ServiceRequest:
        return request_service.submit(
            self.applicant, self.service, description, [Upload(self.document.id, pdf_file())]
        )

    def to_approval(self, request: ServiceRequest) -> ServiceRequest:
        request_service.act(self.employee, request.reference, "accept_documents")
        return request_service.act(self.employee, request.reference, "send_to_approval")


def steps(request: ServiceRequest) -> list[ApprovalStep]:
    """The committed steps of a request, in rounds and in order."""
    db.session.expire_all()
    return list(
        db.session.scalars(
            sa.select(ApprovalStep)
            .where(ApprovalStep.request_id == request.id)
            .order_by(ApprovalStep.round, ApprovalStep.position)
        )
    )


@pytest.fixture
def chancery(make) -> Chancery:
    department = make.department()
    legal = make.department()
    elsewhere = make.department()
    document = make.document_type()
    service = make.service(department, [document], target_days=10)
    service.intake_days = None
    service.approval_days = 2
    service.approvers = [
        ServiceApprover(position=0, role="head"),
        ServiceApprover(position=1, department_id=legal.id),
    ]
    db.session.commit()
    return Chancery(
        department=department,
        legal=legal,
        service=service,
        document=document,
        employee=make.employee(department, name="Aigerim Employee"),
        head=make.employee(department, role=Role.HEAD, name="Dana Head"),
        lawyer=make.employee(legal, name="Yerlan Lawyer"),
        outsider=make.employee(elsewhere, name="Oskar Outsider"),
        supervisor=make.overseer(),
        applicant=make.applicant(),
    )
