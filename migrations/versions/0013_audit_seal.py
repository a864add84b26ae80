"""the audit seal: each request's chain head also commits to its state, assignee and due_at

Revision ID: 0013_audit_seal
Revises: 0012_token_audit
Create Date: 2026-11-29 10:00:00

Requests already written are sealed as they stand (as 0010 chained the events already
written), a batch at a time. Documents already carry the SHA-256 taken at upload (0001):
`flask audit verify` checks the files against it, nothing to backfill there.
Plain `add_column`, no batch mode: rebuilding `service_request` on SQLite would lose the
expression indexes of 0007.
"""

import sqlalchemy as sa
from alembic import op

from portal.audit import seal

revision = "0013_audit_seal"
down_revision = "0012_token_audit"
branch_labels = None
depends_on = None

BATCH = 5000

# The columns as this revision knows them (not the models, which move on).
service_request = sa.table(
    "service_request",
    sa.column("id", sa.Integer),
    sa.column("audit_seq", sa.Integer),
    sa.column("audit_head", sa.String),
    sa.column("audit_seal", sa.JSON),
    sa.column("state", sa.String),
    sa.column("assignee_id", sa.Integer),
    sa.column("due_at", sa.DateTime(timezone=True)),
)


def upgrade():
    op.add_column("service_request", sa.Column("audit_seal", sa.JSON(), nullable=True))
    backfill(op.get_bind())


def downgrade():
    # SQLite 3.35+ drops a plain column in place, so no batch rebuild here either.
    op.drop_column("service_request", "audit_seal")


def backfill(connection, batch_size=BATCH):
    """Seal every request as it stands, in id order, `batch_size` rows at a time."""
    r = service_request
    set_seal = r.update().where(r.c.id == sa.bindparam("r_id")).values(audit_seal=sa.bindparam("s"))
    after = 0
    while True:
        rows = connection.execute(
            sa.select(r).where(r.c.id > after).order_by(r.c.id).limit(batch_size)
        ).all()
        if not rows:
            return
        connection.execute(
            set_seal,
            [
                {
                    "r_id": row.id,
                    "s": seal(
                        row.id,
                        row.audit_seq,
                        row.audit_head,
                        row.state,
                        row.assignee_id,
                        row.due_at,
                    ),
                }
                for row in rows
            ],
        )
        after = rows[-1].id
