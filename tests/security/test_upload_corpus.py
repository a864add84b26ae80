"""An applicant uploads files from the bad-file corpus, through the form and through the API.

Every bad file is refused with the message that says what is wrong, and nothing is
written: no request, no document, no event, no file in UPLOAD_FOLDER.

File names are a choice: a real document under a hostile name (a path, CR/LF, quotes, a
right-to-left override, a Windows device name, a double extension, 200 letters) is
accepted. The file is stored under a random hex name; the name kept for people is the
last path part without control or formatting characters, at most 120 characters; the
name offered on download also ends with the extension of the content and never is a
device name, and the Content-Disposition header carries no separator or control
character. Names that cannot come from a real file (NUL, over 255 characters, nothing
left once cleaned) are refused.
"""

from __future__ import annotations

import re
from types import SimpleNamespace
from urllib.parse import unquote

import pytest
from werkzeug.http import parse_options_header

from portal.models import Document, ServiceRequest
from portal.services import tokens
from tests.conftest import csrf_token
from tests.helpers import REFERENCE, counts, fresh, sign_in, stored_files, text
from tests.security.corpus import BAD, GOOD, LIMIT, RENAMED, Bad, Renamed, multipart

DESCRIPTION = "Please register our shop"


@pytest.fixture
def office(make, app):
    """A service that needs one document, its employee, and an applicant."""
    app.config["MAX_UPLOAD_BYTES"] = LIMIT
    department = make.department()
    charter = make.document_type("charter")
    service = make.service(department, [charter])
    make.employee(department)
    applicant = make.applicant()
    _token, secret = tokens.create(applicant, "corpus")
    return SimpleNamespace(
        service=service, field=f"doc_{charter.id}", applicant=applicant, secret=secret
    )


def apply_on_the_form(client, office, data: bytes, filename: str):
    path = f"/my/apply/{office.service.code}"
    fields = {"csrf_token": csrf_token(client, path), "description": DESCRIPTION}
    body, content_type = multipart(fields, {office.field: (data, filename)})
    return client.post(path, data=body, content_type=content_type)


def apply_through_the_api(client, office, data: bytes, filename: str):
    fields = {"service_code": office.service.code, "description": DESCRIPTION}
    body, content_type = multipart(fields, {office.field: (data, filename)})
    return client.post(
        "/api/v1/requests",
        data=body,
        content_type=content_type,
        headers={"Authorization": f"Bearer {office.secret}"},
    )


def field_error(page: str, field: str) -> str | None:
    found = re.search(
        rf'<small id="{field}-error" class="field-error" role="alert">(.*?)</small>', page
    )
    return found.group(1) if found else None


# --- bad files ----------------------------------------------------------------------------


@pytest.mark.parametrize("case", BAD, ids=lambda case: case.id)
def test_applicant_form_refuses_a_bad_file_and_says_why(client, office, case: Bad):
    sign_in(client, office.applicant)
    before = counts()

    response = apply_on_the_form(client, office, case.data, case.filename)

    assert response.status_code == 422
    assert field_error(text(response), office.field) == case.message
    assert counts() == before
    assert stored_files() == []


@pytest.mark.parametrize("case", BAD, ids=lambda case: case.id)
def test_api_refuses_a_bad_file_and_names_the_field(client, office, case: Bad):
    before = counts()

    response = apply_through_the_api(client, office, case.data, case.filename)

    assert response.status_code == (413 if case.code == "too_large" else 422)
    error = response.get_json()["error"]
    assert error["code"] == case.code
    assert error["fields"] == {office.field: case.message}
    assert counts() == before
    assert stored_files() == []


# --- hostile names on real documents ------------------------------------------------------


def assert_safe_disposition(header: str, expected: str) -> None:
    assert not any(ch in header for ch in "\r\n\x00")
    value, options = parse_options_header(header)
    assert value == "attachment"
    fallback = options["filename"]
    assert not any(ch in fallback for ch in "/\\") and fallback.isprintable()
    raw = re.search(r"filename\*=UTF-8''([^;\s]+)", header)
    offered = unquote(raw.group(1)) if raw else fallback
    assert offered == expected


@pytest.mark.parametrize("case", RENAMED, ids=lambda case: case.id)
def test_a_hostile_name_is_kept_clean_and_downloads_safely(client, office, case: Renamed):
    sign_in(client, office.applicant)
    response = apply_on_the_form(client, office, case.data, case.filename)

    assert response.status_code == 302, text(response)
    reference = REFERENCE.search(response.headers["Location"]).group(0)
    document = fresh(Document, request_id=fresh(ServiceRequest, reference=reference).id)
    assert document.original_name == case.shown
    assert re.fullmatch(r"[0-9a-f]{32}", document.stored_name)
    assert stored_files() == [document.stored_name]

    download = client.get(f"/my/requests/{reference}/documents/{document.id}")
    served = download.get_data()
    download.close()  # send_file's open file

    assert download.status_code == 200
    assert served == case.data
    assert download.mimetype == document.content_type
    assert download.headers["X-Content-Type-Options"] == "nosniff"
    assert_safe_disposition(download.headers["Content-Disposition"], case.download)


@pytest.mark.parametrize("case", RENAMED, ids=lambda case: case.id)
def test_api_lists_a_hostile_name_cleaned(client, office, case: Renamed):
    response = apply_through_the_api(client, office, case.data, case.filename)

    assert response.status_code == 201, response.get_json()
    (listed,) = response.get_json()["documents"]
    assert listed["name"] == case.shown
    (stored,) = stored_files()
    assert re.fullmatch(r"[0-9a-f]{32}", stored)


# --- what the filter must let through -----------------------------------------------------


@pytest.mark.parametrize("data", GOOD.values(), ids=GOOD.keys())
def test_odd_but_harmless_pdfs_are_accepted(client, office, data: bytes):
    sign_in(client, office.applicant)
    assert apply_on_the_form(client, office, data, "charter.pdf").status_code == 302
    assert apply_through_the_api(client, office, data, "charter.pdf").status_code == 201
    assert len(stored_files()) == 2
