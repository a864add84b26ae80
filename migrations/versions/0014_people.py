"""people and accounts: one-time tokens (invitations, password resets, email changes);
account changes record role changes and invitations too

Revision ID: 0014_people
Revises: 0013_audit_seal
Create Date: 2026-12-06 06:10:00

"""

import sqlalchemy as sa
from alembic import op

revision = "0014_people"
down_revision = "0013_audit_seal"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "one_time_token",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("purpose", sa.String(length=20), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("new_email", sa.String(length=254), nullable=True),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.CheckConstraint(
            "purpose in ('invitation', 'password_reset', 'email_change')",
            name=op.f("ck_one_time_token_purpose"),
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["user.id"], name=op.f("fk_one_time_token_user_id_user")
        ),
        sa.ForeignKeyConstraint(
            ["created_by_id"], ["user.id"], name=op.f("fk_one_time_token_created_by_id_user")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_one_time_token")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_one_time_token_token_hash")),
    )
    op.create_index(
        op.f("ix_one_time_token_user_id"), "one_time_token", ["user_id"], unique=False
    )
    with op.batch_alter_table("account_change") as batch:
        batch.drop_constraint(op.f("ck_account_change_action"), type_="check")
        batch.create_check_constraint(
            op.f("ck_account_change_action"),
            "action in ('disabled', 'enabled', 'role_changed', 'invited')",
        )


def downgrade():
    op.execute("DELETE FROM account_change WHERE action IN ('role_changed', 'invited')")
    with op.batch_alter_table("account_change") as batch:
        batch.drop_constraint(op.f("ck_account_change_action"), type_="check")
        batch.create_check_constraint(
            op.f("ck_account_change_action"), "action in ('disabled', 'enabled')"
        )
    op.drop_index(op.f("ix_one_time_token_user_id"), table_name="one_time_token")
    op.drop_table("one_time_token")
