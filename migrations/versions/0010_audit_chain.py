"""the audit chain: every event carries the hash of the one before it

Revision ID: 0010_audit_chain
Revises: 0009_escalation_accountable
Create Date: 2026-11-28 10:00:00

Events already written are chained in id order per request (the order of their timeline),
a batch at a time. Plain `add_column`, no batch mode: rebuilding `service_request` on SQLite
would lose the expression indexes of 0007.
"""

import sqlalchemy as sa
from alembic import op

from portal.audit import event_hash

revision = "0010_audit_chain"
down_revision = "0009_escalation_accountable"
branch_labels = None
depends_on = None

BATCH = 5000

# The columns as this revision knows them (not the models, which move on).
event = sa.table(
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
service_request = sa.table(
    "service_request",
    sa.column("id", sa.Integer),
    sa.column("audit_seq", sa.Integer),
    sa.column("audit_head", sa.String),
)


def upgrade():
    op.add_column("event", sa.Column("seq", sa.Integer(), nullable=True))
    op.add_column("event", sa.Column("prev_hash", sa.String(64), nullable=True))
    op.add_column("event", sa.Column("hash", sa.String(64), nullable=True))
    op.add_column(
        "service_request",
        sa.Column("audit_seq", sa.Integer(), nullable=False, server_default=sa.text("0")),
    )
    op.add_column("service_request", sa.Column("audit_head", sa.String(64), nullable=True))
    backfill(op.get_bind())
    op.create_index("ix_event_request_id_seq", "event", ["request_id", "seq"], unique=True)


def downgrade():
    op.drop_index("ix_event_request_id_seq", table_name="event")
    # SQLite 3.35+ drops a plain column in place, so no batch rebuild here either.
    op.drop_column("service_request", "audit_head")
    op.drop_column("service_request", "audit_seq")
    op.drop_column("event", "hash")
    op.drop_column("event", "prev_hash")
    op.drop_column("event", "seq")


def backfill(connection, batch_size=BATCH):
    """Chain every event in id order per request (over any chain it had); set the heads.

    Reads by (request_id, id) from the existing index, `batch_size` rows at a time; a chain
    may run over several batches.
    """
    set_event = (
        event.update()
        .where(event.c.id == sa.bindparam("event_id"))
        .values(seq=sa.bindparam("n"), prev_hash=sa.bindparam("prev"), hash=sa.bindparam("h"))
    )
    set_head = (
        service_request.update()
        .where(service_request.c.id == sa.bindparam("r_id"))
        .values(audit_seq=sa.bindparam("n"), audit_head=sa.bindparam("h"))
    )
    position = (0, 0)
    current, seq, head = None, 0, None
    while True:
        rows = connection.execute(
            sa.select(event)
            .where(sa.tuple_(event.c.request_id, event.c.id) > sa.tuple_(*position))
            .order_by(event.c.request_id, event.c.id)
            .limit(batch_size)
        ).all()
        if not rows:
            break
        chained, heads = [], []
        for row in rows:
            if row.request_id != current:
                if current is not None:
                    heads.append({"r_id": current, "n": seq, "h": head})
                current, seq, head = row.request_id, 0, None
            seq += 1
            digest = event_hash(
                head,
                row.request_id,
                seq,
                row.kind,
                row.actor_id,
                row.from_state,
                row.to_state,
                row.payload,
                row.created_at,
            )
            chained.append({"event_id": row.id, "n": seq, "prev": head, "h": digest})
            head = digest
        connection.execute(set_event, chained)
        if heads:
            connection.execute(set_head, heads)
        position = (rows[-1].request_id, rows[-1].id)
    if current is not None:
        connection.execute(set_head, [{"r_id": current, "n": seq, "h": head}])
