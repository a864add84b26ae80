"""api tokens: where each was last used from, and who revoked it and why

Revision ID: 0012_token_audit
Revises: 0011_login_sessions
Create Date: 2026-12-06 05:40:00

"""

import sqlalchemy as sa
from alembic import op

revision = "0012_token_audit"
down_revision = "0011_login_sessions"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("api_token") as batch:
        batch.add_column(sa.Column("last_used_ip", sa.String(length=45), nullable=True))
        batch.add_column(sa.Column("revoked_by_id", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("revoked_reason", sa.String(length=40), nullable=True))
        batch.create_foreign_key(
            batch.f("fk_api_token_revoked_by_id_user"), "user", ["revoked_by_id"], ["id"]
        )


def downgrade():
    with op.batch_alter_table("api_token") as batch:
        batch.drop_constraint(batch.f("fk_api_token_revoked_by_id_user"), type_="foreignkey")
        batch.drop_column("revoked_reason")
        batch.drop_column("revoked_by_id")
        batch.drop_column("last_used_ip")
