"""escalations remember who was accountable when they fired

Revision ID: 0009_escalation_accountable
Revises: 0008_reply_days
Create Date: 2026-11-27 17:45:00

"""

import warnings

import sqlalchemy as sa
from alembic import op

revision = "0009_escalation_accountable"
down_revision = "0008_reply_days"
branch_labels = None
depends_on = None


def _batch():
    # On SQLite the batch rebuilds `escalation` only; reflecting the tables it refers to
    # warns about service_request's expression indexes, which it does not touch.
    warnings.filterwarnings("ignore", "Skipped unsupported reflection of expression-based index")
    return op.batch_alter_table("escalation", schema=None)


def upgrade():
    with warnings.catch_warnings(), _batch() as batch_op:
        batch_op.add_column(sa.Column("accountable_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            "fk_escalation_accountable_id_user", "user", ["accountable_id"], ["id"]
        )
    # Best effort for rows from before: whoever holds the request now.
    op.execute(
        "UPDATE escalation SET accountable_id = "
        "(SELECT assignee_id FROM service_request WHERE service_request.id = escalation.request_id)"
    )


def downgrade():
    with warnings.catch_warnings(), _batch() as batch_op:
        batch_op.drop_constraint("fk_escalation_accountable_id_user", type_="foreignkey")
        batch_op.drop_column("accountable_id")
