"""boards: escalation.excused, service_request.worked_seconds, indexes for the boards

Revision ID: 0007_boards
Revises: 0006_api
Create Date: 2026-11-27 16:30:00

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0007_boards"
down_revision = "0006_api"
branch_labels = None
depends_on = None


OPEN_QUEUE_SQL = "state IN ('awaiting_documents', 'in_approval', 'in_review', 'submitted')"
QUEUE_ORDER = [sa.text("(paused_since IS NOT NULL)"), "due_at", "id"]


def upgrade():
    with op.batch_alter_table("escalation", schema=None) as batch_op:
        batch_op.add_column(sa.Column("excused", sa.Boolean(), nullable=True))
        batch_op.create_index("ix_escalation_fired_at", ["fired_at"], unique=False)
        batch_op.create_index("ix_escalation_request_id", ["request_id"], unique=False)

    with op.batch_alter_table("service_request", schema=None) as batch_op:
        batch_op.add_column(sa.Column("worked_seconds", sa.Integer(), nullable=True))

    # Outside the batch: expressions, partial indexes and INCLUDE are created as written.
    # On PostgreSQL the boards' figures come from these indexes alone (index-only scans).
    op.create_index(
        "ix_service_request_department_decided",
        "service_request",
        ["department_id", "decided_at"],
        postgresql_include=["assignee_id", "sla_state", "state"],
    )
    op.create_index(
        "ix_service_request_decided_at",
        "service_request",
        ["decided_at"],
        postgresql_include=[
            "department_id",
            "service_id",
            "assignee_id",
            "sla_state",
            "state",
            "worked_seconds",
        ],
    )
    for name, column, include in (
        ("ix_service_request_assignee_queue", "assignee_id", "department_id"),
        ("ix_service_request_department_queue", "department_id", "assignee_id"),
    ):
        op.create_index(
            name,
            "service_request",
            [column, *QUEUE_ORDER],
            postgresql_where=sa.text(OPEN_QUEUE_SQL),
            sqlite_where=sa.text(OPEN_QUEUE_SQL),
            postgresql_include=[include, "service_id", "sla_state", "state"],
        )
    op.create_index(
        "ix_escalation_pending",
        "escalation",
        ["fired_at"],
        postgresql_where=sa.text("acknowledged_at IS NULL"),
        sqlite_where=sa.text("acknowledged_at IS NULL"),
    )


def downgrade():
    op.drop_index("ix_escalation_pending", table_name="escalation")
    op.drop_index("ix_service_request_department_queue", table_name="service_request")
    op.drop_index("ix_service_request_assignee_queue", table_name="service_request")

    op.drop_index("ix_service_request_decided_at", table_name="service_request")
    op.drop_index("ix_service_request_department_decided", table_name="service_request")
    with op.batch_alter_table("service_request", schema=None) as batch_op:
        batch_op.drop_column("worked_seconds")

    with op.batch_alter_table("escalation", schema=None) as batch_op:
        batch_op.drop_index("ix_escalation_request_id")
        batch_op.drop_index("ix_escalation_fired_at")
        batch_op.drop_column("excused")
