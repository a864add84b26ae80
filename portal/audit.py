"""The tamper-evident audit log: each request's events form a hash chain.

Event n of a request carries `seq` n, the hash of event n-1 (`prev_hash`, none for the
first) and its own `hash`, a SHA-256 over that and its content. The request keeps the head
of its chain (`audit_seq`, `audit_head`), so removing the last event shows as well as any
other. `lifecycle.record()` extends the chain; `verify()` (`flask audit verify`) walks every
chain and names the first broken event of each request.

The head also commits to the request row itself: its `audit_seal` holds the state, assignee
and deadline (`due_at`) as the last transaction that recorded an event left them, with a
SHA-256 over those and the head (`seal()`). The app changes those fields only together
with an event, so a row whose fields differ from its seal was edited outside the app, and
`verify()` names the fields. Each document's SHA-256, recorded at upload, is checked
against its file the same way (and on every download, portal/downloads.py).

This catches rows edited, removed, inserted or reordered behind the app's back. Someone who
can rewrite the table and also recomputes every hash after theirs can forge a chain: that
would take a key kept outside the database (an HMAC), which this does not have.

The hash must never change meaning: the migration that chained the existing events and the
app share `event_hash`, and a changed recipe would make every stored chain look broken.
No ORM models here: migrations import this module.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import click
import sqlalchemy as sa
from flask.cli import AppGroup

from portal.services import storage  # plain functions over a folder; no app needed

RECIPE = "moldir-event-v1"  # first item of every hashed record; a new recipe, a new tag
SEAL_RECIPE = "moldir-seal-v1"
# The request's own fields the head commits to, as named in its seal.
SEALED = ("state", "assignee_id", "due_at")

# Only the columns the chain reads, as plain tables (see the module's docstring).
event_table = sa.table(
    "event",
    sa.column("id", sa.Integer),
    sa.column("request_id", sa.Integer),
    sa.column("seq", sa.Integer),
    sa.column("prev_hash", sa.String),
    sa.column("hash", sa.String),
    sa.column("kind", sa.String),
    sa.column("actor_id", sa.Integer),
    sa.column("from_state", sa.String),
    sa.column("to_state", sa.String),
    sa.column("payload", sa.JSON),
    sa.column("created_at", sa.DateTime(timezone=True)),
)
request_table = sa.table(
    "service_request",
    sa.column("id", sa.Integer),
    sa.column("reference", sa.String),
    sa.column("audit_seq", sa.Integer),
    sa.column("audit_head", sa.String),
    sa.column("audit_seal", sa.JSON),
    sa.column("state", sa.String),
    sa.column("assignee_id", sa.Integer),
    sa.column("due_at", sa.DateTime(timezone=True)),
)
document_table = sa.table(
    "document",
    sa.column("id", sa.Integer),
    sa.column("request_id", sa.Integer),
    sa.column("stored_name", sa.String),
    sa.column("sha256", sa.String),
)


def plain_payload(payload) -> dict:
    """`payload` as it will read back from the JSON column (keys as strings, lists not
    tuples), so that what is hashed is what is stored."""
    return json.loads(json.dumps(payload, ensure_ascii=False))


def canonical_time(at: datetime) -> str:
    """UTC, with microseconds. Naive means UTC: SQLite read through a plain DateTime."""
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    return at.astimezone(UTC).isoformat(timespec="microseconds")


def event_hash(
    prev_hash: str | None,
    request_id: int,
    seq: int,
    kind: str,
    actor_id: int | None,
    from_state: str | None,
    to_state: str | None,
    payload: dict,
    created_at: datetime,
) -> str:
    """SHA-256 (hex) of the previous hash and the event's content, as one JSON array."""
    record = [
        RECIPE,
        prev_hash or "",
        request_id,
        seq,
        kind,
        actor_id,
        from_state,
        to_state,
        payload,
        canonical_time(created_at),
    ]
    text = json.dumps(record, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def row_hash(row) -> str:
    """`event_hash` of an event row read through `event_table`, over its stored prev_hash."""
    return event_hash(
        row.prev_hash,
        row.request_id,
        row.seq,
        row.kind,
        row.actor_id,
        row.from_state,
        row.to_state,
        row.payload,
        row.created_at,
    )


def sealed_values(state, assignee_id, due_at: datetime | None) -> dict:
    """The sealed fields as the seal holds them: plain JSON values, times in UTC."""
    return {
        "state": str(state) if state is not None else None,
        "assignee_id": assignee_id,
        "due_at": canonical_time(due_at) if due_at is not None else None,
    }


def seal_hash(request_id: int, audit_seq: int | None, audit_head: str | None, values) -> str:
    """SHA-256 (hex) binding the sealed fields to the request and its chain's head."""
    record = [
        SEAL_RECIPE,
        request_id,
        audit_seq or 0,
        audit_head or "",
        *(values.get(name) for name in SEALED),
    ]
    text = json.dumps(record, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def seal(request_id: int, audit_seq, audit_head, state, assignee_id, due_at) -> dict:
    """The request's `audit_seal`: its sealed fields, and their hash with the chain's head."""
    values = sealed_values(state, assignee_id, due_at)
    return {**values, "hash": seal_hash(request_id, audit_seq, audit_head, values)}


# --- verifying ---------------------------------------------------------------------------

EDITED = "edited"
REMOVED = "removed"
REMOVED_AT_END = "removed at the end"
INSERTED = "inserted"
REORDERED = "reordered"
UNSEALED = "unsealed"
SEAL_BROKEN = "seal broken"
SWAPPED = "swapped"
MISSING = "missing"

CHAIN, ROW, FILE = "chain", "row", "file"  # what a break is about


@dataclass(frozen=True)
class Break:
    """Where one request does not hold: the first break of its chain of events (CHAIN), its
    row disagreeing with its seal (ROW), or a document's file (FILE, one break each)."""

    request_id: int
    reference: str | None
    event_id: int | None  # None when the request's events are gone altogether
    problem: str
    detail: str
    part: str = CHAIN
    document_id: int | None = None
    fields: tuple[str, ...] = ()  # the row's edited fields, when they can be named

    def __str__(self) -> str:
        request = f"{self.reference or '-'} (request {self.request_id})"
        if self.part == ROW:
            where = "row"
        elif self.part == FILE:
            where = f"document {self.document_id}"
        else:
            where = f"event {self.event_id}" if self.event_id is not None else "no event"
        return f"{request}: {where} {self.problem}: {self.detail}"


@dataclass
class Report:
    requests: int = 0
    events: int = 0
    documents: int = 0
    files_checked: bool = True
    breaks: list[Break] = field(default_factory=list)

    @property
    def intact(self) -> bool:
        return not self.breaks

    def count(self, part: str) -> int:
        return sum(1 for found in self.breaks if found.part == part)

    def summary(self) -> str:
        files = f"{self.documents} documents" if self.files_checked else "files not checked"
        counted = f"{self.requests} requests, {self.events} events, {files}"
        if self.intact:
            return f"{counted}, chain intact"
        return (
            f"{counted}, {self.count(CHAIN)} broken chains, {self.count(ROW)} edited rows, "
            f"{self.count(FILE)} bad files"
        )


def check_chain(request, events: list) -> Break | None:
    """The first break in one request's chain: `request` has id, reference, audit_seq and
    audit_head; `events` are its rows (as `event_table`) in id order, the timeline's."""
    seqs = {row.seq for row in events}
    expected_seq, expected_prev = 1, None

    def broken(row, problem, detail):
        return Break(request.id, request.reference, row.id if row else None, problem, detail)

    for row in events:
        if row.seq is None or row.hash is None:
            return broken(row, INSERTED, "it carries no chain: the app did not write it")
        if row_hash(row) != row.hash:
            return broken(row, EDITED, "its content does not match its hash")
        if row.seq != expected_seq:
            if row.seq < expected_seq or expected_seq in seqs:
                return broken(row, REORDERED, f"it is number {row.seq}, in place of {expected_seq}")
            missing = _numbers(expected_seq, row.seq - 1)
            return broken(row, REMOVED, f"event {missing} before it is missing")
        if row.prev_hash != expected_prev:
            return broken(
                row, REMOVED, "the event before it is not the one it was chained to (replaced)"
            )
        expected_seq, expected_prev = row.seq + 1, row.hash
    last = events[-1] if events else None
    count = expected_seq - 1
    head_seq = request.audit_seq or 0
    if head_seq > count:
        missing = _numbers(count + 1, head_seq)
        return broken(last, REMOVED_AT_END, f"event {missing} after it is missing")
    if head_seq < count:
        beyond = next(row for row in events if row.seq == head_seq + 1)
        return broken(beyond, INSERTED, f"the request's chain ends at number {head_seq}")
    if request.audit_head != expected_prev:
        return broken(last, EDITED, "it is not the last event the request recorded (replaced)")
    return None


def _numbers(first: int, last: int) -> str:
    return f"#{first}" if first == last else f"#{first}-#{last}"


def check_row(request) -> Break | None:
    """Whether the request row still holds what its seal committed to: `request` has id,
    reference, audit_seq, audit_head, audit_seal and the sealed fields as stored."""

    def broken(problem, detail, fields=()):
        return Break(request.id, request.reference, None, problem, detail, ROW, None, fields)

    sealed = request.audit_seal
    if not isinstance(sealed, dict) or not isinstance(sealed.get("hash"), str):
        return broken(UNSEALED, "it carries no seal: the app did not write it")
    if seal_hash(request.id, request.audit_seq, request.audit_head, sealed) != sealed["hash"]:
        return broken(SEAL_BROKEN, "its seal does not match its values or its chain's head")
    stored = sealed_values(request.state, request.assignee_id, request.due_at)
    edited = tuple(name for name in SEALED if stored[name] != sealed.get(name))
    if not edited:
        return None
    detail = "; ".join(
        f"{name} is {_shown(stored[name])}, sealed {_shown(sealed.get(name))}" for name in edited
    )
    return broken(EDITED, detail, edited)


def _shown(value) -> str:
    return "NULL" if value is None else repr(value) if isinstance(value, str) else str(value)


def check_document(request, document, upload_folder: Path) -> Break | None:
    """Whether a document's file is there and still has the SHA-256 recorded at upload."""

    def broken(problem, detail):
        return Break(request.id, request.reference, None, problem, detail, FILE, document.id)

    try:
        with open(storage.path_in(upload_folder, document.stored_name), "rb") as file:
            found = storage.sha256_of(file)
    except FileNotFoundError:
        return broken(MISSING, "its file is not in the upload folder")
    if found != document.sha256:
        return broken(SWAPPED, "its file does not match the SHA-256 recorded at upload")
    return None


def verify(
    connection,
    reference: str | None = None,
    batch_size: int = 1000,
    upload_folder: Path | str | None = None,
) -> Report:
    """Walk the chains of every request (or the one with `reference`), `batch_size`
    requests at a time, and report the first break of each, each row that disagrees with
    its seal and, given the `upload_folder`, each document whose file is missing or not
    the one received."""
    report = Report(files_checked=upload_folder is not None)
    folder = Path(upload_folder) if upload_folder is not None else None
    for request, events, documents in _chains(connection, reference, batch_size, folder):
        report.requests += 1
        report.events += len(events)
        found = check_chain(request, events)
        if found is not None:
            report.breaks.append(found)
        found = check_row(request)
        if found is not None:
            report.breaks.append(found)
        for document in documents:
            report.documents += 1
            found = check_document(request, document, folder)
            if found is not None:
                report.breaks.append(found)
    return report


def _chains(connection, reference, batch_size, folder=None) -> Iterator[tuple]:
    r, e, d = request_table, event_table, document_table
    after = 0
    while True:
        ids = sa.select(r.c.id).where(r.c.id > after).order_by(r.c.id).limit(batch_size)
        if reference is not None:
            ids = ids.where(r.c.reference == reference)
        batch = connection.scalars(ids).all()
        if not batch:
            return
        # One statement for the heads and the events: one snapshot, so an event recorded
        # while this runs is never seen without its head, nor the other way round.
        rows = connection.execute(
            sa.select(
                r.c.id.label("r_id"),
                r.c.reference,
                r.c.audit_seq,
                r.c.audit_head,
                r.c.audit_seal,
                r.c.state.label("r_state"),
                r.c.assignee_id.label("r_assignee_id"),
                r.c.due_at.label("r_due_at"),
                *e.c,
            )
            .select_from(r.outerjoin(e, e.c.request_id == r.c.id))
            .where(r.c.id >= batch[0], r.c.id <= batch[-1])
            .order_by(r.c.id, e.c.id)
        ).all()  # one fetch, not a round of the driver per row
        documents: dict[int, list] = {}
        if folder is not None:
            for document in connection.execute(
                sa.select(d.c.id, d.c.request_id, d.c.stored_name, d.c.sha256)
                .where(d.c.request_id >= batch[0], d.c.request_id <= batch[-1])
                .order_by(d.c.request_id, d.c.id)
            ):
                documents.setdefault(document.request_id, []).append(document)
        current, events = None, []
        for row in rows:
            if current is None or row.r_id != current.r_id:
                if current is not None:
                    yield _head(current), events, documents.get(current.r_id, [])
                current, events = row, []
            if row.id is not None:
                events.append(row)
        if current is not None:
            yield _head(current), events, documents.get(current.r_id, [])
        if reference is not None:
            return
        after = batch[-1]


@dataclass(frozen=True)
class _Head:
    id: int
    reference: str | None
    audit_seq: int
    audit_head: str | None
    audit_seal: dict | None
    state: str | None
    assignee_id: int | None
    due_at: datetime | None


def _head(row) -> _Head:
    return _Head(
        row.r_id,
        row.reference,
        row.audit_seq,
        row.audit_head,
        row.audit_seal,
        row.r_state,
        row.r_assignee_id,
        row.r_due_at,
    )


# --- the command ---------------------------------------------------------------------------

audit_cli = AppGroup("audit", help="The tamper-evident audit log of request events.")


@audit_cli.command("verify")
@click.pass_context
@click.option("--request", "reference", metavar="REFERENCE", help="Only this request.")
@click.option("--batch", "batch_size", default=1000, show_default=True, help="Requests a read.")
@click.option(
    "--files/--no-files",
    default=True,
    show_default=True,
    help="Also hash every stored document against the SHA-256 recorded at upload.",
)
def verify_command(ctx: click.Context, reference: str | None, batch_size: int, files: bool):
    """Walk every request's chain of events, its row's seal and its documents' files; exit 1
    if anything does not hold."""
    from flask import current_app

    from portal.extensions import db

    folder = current_app.config["UPLOAD_FOLDER"] if files else None
    with db.engine.connect() as connection:
        report = verify(connection, reference, batch_size, folder)
    if reference is not None and report.requests == 0:
        raise click.UsageError(f"no request {reference}")
    for found in report.breaks:
        click.echo(str(found))
    click.echo(report.summary())
    if report.breaks:
        ctx.exit(1)
