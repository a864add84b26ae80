"""document requests keep their reply days, so a calendar change can move reply-by

Revision ID: 0008_reply_days
Revises: 0007_boards
Create Date: 2026-11-27 17:10:00

"""

import sqlalchemy as sa
from alembic import op

revision = "0008_reply_days"
down_revision = "0007_boards"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("document_request", schema=None) as batch_op:
        batch_op.add_column(sa.Column("reply_days", sa.Integer(), nullable=True))


def downgrade():
    with op.batch_alter_table("document_request", schema=None) as batch_op:
        batch_op.drop_column("reply_days")
