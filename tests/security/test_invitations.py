"""People an admin brings in: invitations by a one-time link, a role or department changed
(their open requests handed to colleagues), last sign-in; and the first admin of a fresh
install, from the command line."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from notifications.outbox import OutboxMessage
from portal.extensions import db
from portal.models import AccountChange, Event, OneTimeToken, Role, ServiceRequest, User
from tests.helpers import post_form, sign_in, submitted, text

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
CHOSEN = "river stones in spring"


def invitation_links(address: str | None = None) -> list[str]:
    db.session.expire_all()
    query = (
        sa.select(OutboxMessage)
        .where(OutboxMessage.template == "invitation", OutboxMessage.channel == "email")
        .order_by(OutboxMessage.id)
    )
    if address:
        query = query.where(OutboxMessage.address == address)
    return [row.context["path"] for row in db.session.scalars(query)]


def invite(client, **fields):
    data = {"full_name": "Aruzhan Bekova", "email": "aruzhan@akimat.kz", "role": "staff"}
    data.update(fields)
    return post_form(client, "/admin/people/invite", data)


def accept(client, path, password=CHOSEN):
    data = {"password": password, "confirm": password}
    return post_form(client, path, data, token_from="/login")


def english(client):
    with client.session_transaction() as session:
        session["lang"] = "en"
    return client


def test_an_admin_invites_a_staff_member_who_sets_their_own_password(app, client, make, travel):
    travel(NOW)
    department = make.department()
    admin = make.overseer(Role.ADMIN)
    sign_in(client, admin)
    page = client.get("/admin/people/invite")
    assert page.status_code == 200
    assert department.name_en in text(page)

    sent = invite(client, department_id=str(department.id), email="Aruzhan@Akimat.kz")
    assert sent.status_code == 303
    person = db.session.scalar(sa.select(User).where(User.email == "aruzhan@akimat.kz"))
    assert (person.role, person.department_id, person.active) == ("staff", department.id, True)
    assert "sent, not accepted yet" in text(client.get(sent.headers["Location"]))
    [path] = invitation_links("aruzhan@akimat.kz")
    row = db.session.scalar(sa.select(OneTimeToken))
    assert path.rsplit("/", 1)[1] not in row.token_hash
    assert row.expires_at - row.created_at == timedelta(hours=72)
    assert row.created_by_id == admin.id
    # Nobody can sign in before the password is chosen.
    newcomer = english(app.test_client())
    assert "Welcome to Moldir" in text(newcomer.get(path))
    short = accept(newcomer, path, "eleven char")
    assert short.status_code == 422
    assert "Use at least 12 characters." in text(short)
    assert accept(newcomer, path).status_code == 302
    assert newcomer.get("/staff/queue").status_code == 200
    sign_in(app.test_client(), person, password=CHOSEN)
    # Used once: the link does nothing more.
    assert accept(english(app.test_client()), path, "another long phrase").status_code == 410
    # The admin sees when they last signed in, and the history.
    page = text(client.get(f"/admin/people/{person.id}"))
    assert "sent, not accepted yet" not in page
    assert "invited as Specialist" in page
    assert "never" not in page.split("Last sign-in", 1)[1][:80]


def test_an_expired_invitation_is_refused_and_can_be_sent_again(app, client, make, travel):
    travel(NOW)
    admin = make.overseer(Role.ADMIN)
    sign_in(client, admin)
    invite(client, role="supervisor", email="deputy2@akimat.kz")
    [old] = invitation_links()
    person = db.session.scalar(sa.select(User).where(User.email == "deputy2@akimat.kz"))
    assert (person.role, person.department_id) == ("supervisor", None)

    travel(NOW + timedelta(hours=73))
    late = english(app.test_client())
    refused = accept(late, old)
    assert refused.status_code == 410
    assert "This link has expired" in text(refused)
    sign_in(client, admin)
    assert "expired, not accepted" in text(client.get(f"/admin/people/{person.id}"))
    again = post_form(
        client, f"/admin/people/{person.id}/invitation", token_from=f"/admin/people/{person.id}"
    )
    assert again.status_code == 303
    old_again, new = invitation_links()
    assert old_again == old
    assert accept(late, new).status_code == 302


def test_forged_invitation_links_open_nothing(client, make):
    make.overseer(Role.ADMIN)
    english(client)
    for path in ("/invitation/nonsense", "/invitation/" + "C" * 43):
        assert client.get(path).status_code == 404
        refused = accept(client, path)
        assert refused.status_code == 404
        assert "This link is not valid" in text(refused)


def test_an_invitation_needs_a_department_for_staff_and_a_free_address(client, make):
    admin = make.overseer(Role.ADMIN)
    sign_in(client, admin)
    before = db.session.scalar(sa.select(sa.func.count(User.id)))
    nowhere = invite(client, role="head")
    assert nowhere.status_code == 422
    assert "Staff and heads work in a department" in text(nowhere)
    taken = invite(client, email=admin.email.replace(".test", ".kz"), role="admin")
    assert taken.status_code == 303  # a different address: fine
    again = invite(client, email=admin.email.replace(".test", ".kz"), role="admin")
    assert again.status_code == 422
    assert "An account with this email already exists." in text(again)
    bad_role = invite(client, role="applicant", email="x@akimat.kz")
    assert bad_role.status_code == 422
    assert db.session.scalar(sa.select(sa.func.count(User.id))) == before + 1


def test_moving_a_staff_member_hands_their_open_requests_to_colleagues(app, client, make):
    department, other = make.department(), make.department()
    service = make.service(department)
    leaving = make.employee(department, name="Leaving Worker")
    applicant = make.applicant()
    mine = sign_in(app.test_client(), applicant)
    references = [submitted(mine, service) for _ in range(2)]
    staying = make.employee(department, name="Staying Worker")
    head = make.employee(department, Role.HEAD, name="Head Person")
    admin = make.overseer(Role.ADMIN)
    sign_in(client, admin)

    no_reason = post_form(
        client,
        f"/admin/people/{leaving.id}/role",
        {"role": "staff", "department_id": str(other.id), "reason": ""},
        token_from=f"/admin/people/{leaving.id}",
    )
    assert no_reason.status_code == 422
    moved = post_form(
        client,
        f"/admin/people/{leaving.id}/role",
        {"role": "staff", "department_id": str(other.id), "reason": "moved to land relations"},
        token_from=f"/admin/people/{leaving.id}",
    )
    assert moved.status_code == 303
    assert "2 open requests were handed to colleagues" in text(
        client.get(moved.headers["Location"])
    )
    db.session.expire_all()
    assert db.session.get(User, leaving.id).department_id == other.id
    assignees = db.session.scalars(
        sa.select(ServiceRequest.assignee_id).where(ServiceRequest.reference.in_(references))
    ).all()
    # Staff take work before the head does.
    assert set(assignees) == {staying.id}
    assert head.id not in assignees
    events = db.session.scalars(sa.select(Event).where(Event.kind == "reassigned")).all()
    assert len(events) == 2
    assert {e.payload["reason"] for e in events} == {"moved to land relations"}
    assert {e.actor_id for e in events} == {admin.id}
    # The applicant sees who is accountable now, and never the admin's reason.
    page = text(mine.get(f"/my/requests/{references[0]}"))
    assert "Staying Worker" in page
    assert "moved to land relations" not in page
    # The new accountable employee was told.
    told = db.session.scalars(
        sa.select(OutboxMessage.recipient_id).where(OutboxMessage.template == "reassigned")
    ).all()
    assert set(told) == {staying.id}
    change = db.session.scalar(
        sa.select(AccountChange).where(AccountChange.action == "role_changed")
    )
    assert (change.user_id, change.actor_id, change.reason) == (
        leaving.id,
        admin.id,
        "moved to land relations",
    )


def test_a_promotion_within_the_department_keeps_the_queue(app, client, make):
    department = make.department()
    service = make.service(department)
    worker = make.employee(department)
    make.employee(department)
    reference = submitted(sign_in(app.test_client(), make.applicant()), service)
    admin = make.overseer(Role.ADMIN)
    sign_in(client, admin)
    response = post_form(
        client,
        f"/admin/people/{worker.id}/role",
        {"role": "head", "department_id": str(department.id), "reason": "new head"},
        token_from=f"/admin/people/{worker.id}",
    )
    assert response.status_code == 303
    db.session.expire_all()
    assert db.session.get(User, worker.id).role == "head"
    found = db.session.scalar(
        sa.select(ServiceRequest).where(ServiceRequest.reference == reference)
    )
    assert found.assignee_id == worker.id


def test_nobody_to_take_over_refuses_the_change_whole(app, client, make):
    department = make.department()
    service = make.service(department)
    only = make.employee(department)
    reference = submitted(sign_in(app.test_client(), make.applicant()), service)
    admin = make.overseer(Role.ADMIN)
    sign_in(client, admin)
    refused = post_form(
        client,
        f"/admin/people/{only.id}/role",
        {"role": "supervisor", "department_id": "", "reason": "promoted"},
        token_from=f"/admin/people/{only.id}",
    )
    assert refused.status_code == 409
    assert f"{reference} has nobody else in its department" in text(refused)
    db.session.expire_all()
    assert (db.session.get(User, only.id).role, db.session.get(User, only.id).department_id) == (
        "staff",
        department.id,
    )
    assert db.session.scalar(sa.select(sa.func.count(AccountChange.id))) == 0


def test_an_admin_cannot_change_their_own_role(client, make):
    admin = make.overseer(Role.ADMIN)
    sign_in(client, admin)
    refused = post_form(
        client,
        f"/admin/people/{admin.id}/role",
        {"role": "supervisor", "department_id": "", "reason": "oops"},
        token_from=f"/admin/people/{admin.id}",
    )
    assert refused.status_code == 422
    assert "You cannot change your own role." in text(refused)


def test_the_people_list_shows_the_last_sign_in(app, client, make, travel):
    travel(NOW)
    worker = make.employee(make.department())
    admin = make.overseer(Role.ADMIN)
    sign_in(app.test_client(), worker)
    sign_in(client, admin)
    page = text(client.get("/admin/people", query_string={"q": worker.email}))
    assert "Last sign-in" in page
    assert "never" not in page.split(worker.email, 1)[1]


# --- the first admin -----------------------------------------------------------------------


def test_create_admin_prints_a_one_time_link(app, runner):
    result = runner.invoke(args=["people", "create-admin", "First@Akimat.kz", "--name", "Asel"])
    assert result.exit_code == 0, result.output
    path = result.output.strip().splitlines()[-1].split("127.0.0.1:5000", 1)[1]
    assert path.startswith("/invitation/")
    admin = db.session.scalar(sa.select(User).where(User.email == "first@akimat.kz"))
    assert (admin.role, admin.full_name) == ("admin", "Asel")
    client = english(app.test_client())
    assert accept(client, path).status_code == 302
    assert client.get("/admin/people").status_code == 200
    # Once an admin exists, the command refuses.
    again = runner.invoke(args=["people", "create-admin", "second@akimat.kz"])
    assert again.exit_code != 0
    assert db.session.scalar(sa.select(sa.func.count(User.id))) == 1


def test_create_admin_with_a_typed_password(app, runner):
    weak = runner.invoke(
        args=["people", "create-admin", "first@akimat.kz", "--prompt"],
        input="password1234\npassword1234\n",
    )
    assert weak.exit_code != 0
    assert db.session.scalar(sa.select(sa.func.count(User.id))) == 0
    result = runner.invoke(
        args=["people", "create-admin", "first@akimat.kz", "--prompt"],
        input=f"{CHOSEN}\n{CHOSEN}\n",
    )
    assert result.exit_code == 0, result.output
    assert "/invitation/" not in result.output
    admin = db.session.scalar(sa.select(User).where(User.email == "first@akimat.kz"))
    sign_in(app.test_client(), admin, password=CHOSEN)
