"""login sessions kept on the server (revocable), and who disabled an account and why

Revision ID: 0011_login_sessions
Revises: 0010_audit_chain
Create Date: 2026-11-28 10:00:00

"""

import sqlalchemy as sa
from alembic import op

revision = "0011_login_sessions"
down_revision = "0010_audit_chain"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "login_session",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ip", sa.String(length=45), nullable=True),
        sa.Column("user_agent", sa.String(length=200), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_reason", sa.String(length=40), nullable=True),
        sa.ForeignKeyConstraint(["user_id"], ["user.id"], name=op.f("fk_login_session_user_id_user")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_login_session")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_login_session_token_hash")),
    )
    op.create_index(op.f("ix_login_session_user_id"), "login_session", ["user_id"], unique=False)

    op.create_table(
        "account_change",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("actor_id", sa.Integer(), nullable=True),
        sa.Column("action", sa.String(length=20), nullable=False),
        sa.Column("reason", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "action in ('disabled', 'enabled')", name=op.f("ck_account_change_action")
        ),
        sa.ForeignKeyConstraint(["user_id"], ["user.id"], name=op.f("fk_account_change_user_id_user")),
        sa.ForeignKeyConstraint(
            ["actor_id"], ["user.id"], name=op.f("fk_account_change_actor_id_user")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_account_change")),
    )
    op.create_index(
        op.f("ix_account_change_user_id"), "account_change", ["user_id"], unique=False
    )


def downgrade():
    op.drop_index(op.f("ix_account_change_user_id"), table_name="account_change")
    op.drop_table("account_change")
    op.drop_index(op.f("ix_login_session_user_id"), table_name="login_session")
    op.drop_table("login_session")
