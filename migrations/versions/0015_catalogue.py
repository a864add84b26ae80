"""the catalogue run by an admin: department heads and retirement, document type rules,
who may apply for a service, its fee, result, legal basis and optional documents, and the
audit of catalogue changes

Revision ID: 0015_catalogue
Revises: 0014_people
Create Date: 2026-12-06 06:20:00

"""

import sqlalchemy as sa
from alembic import op

revision = "0015_catalogue"
down_revision = "0014_people"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("department") as batch:
        batch.add_column(
            sa.Column("active", sa.Boolean(), nullable=False, server_default=sa.true())
        )
    op.create_table(
        "department_head",
        sa.Column("department_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["department_id"],
            ["department.id"],
            name=op.f("fk_department_head_department_id_department"),
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["user.id"], name=op.f("fk_department_head_user_id_user")
        ),
        sa.PrimaryKeyConstraint("department_id", name=op.f("pk_department_head")),
    )
    with op.batch_alter_table("document_type") as batch:
        batch.add_column(sa.Column("note_ru", sa.Text(), nullable=True))
        batch.add_column(sa.Column("note_kk", sa.Text(), nullable=True))
        batch.add_column(sa.Column("note_en", sa.Text(), nullable=True))
        batch.add_column(
            sa.Column("formats", sa.JSON(), nullable=False, server_default='["pdf", "jpeg", "png"]')
        )
        batch.add_column(sa.Column("max_size_mb", sa.Integer(), nullable=True))
        batch.add_column(
            sa.Column("multiple_files", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch.add_column(
            sa.Column("active", sa.Boolean(), nullable=False, server_default=sa.true())
        )
        batch.create_check_constraint(
            "max_size", "max_size_mb is null or max_size_mb between 1 and 100"
        )
    with op.batch_alter_table("service") as batch:
        batch.add_column(
            sa.Column("applicants", sa.String(length=10), nullable=False, server_default="both")
        )
        batch.add_column(sa.Column("fee_tenge", sa.Integer(), nullable=True))
        batch.add_column(
            sa.Column("result_form", sa.String(length=12), nullable=False, server_default="letter")
        )
        batch.add_column(sa.Column("legal_basis_ru", sa.Text(), nullable=True))
        batch.add_column(sa.Column("legal_basis_kk", sa.Text(), nullable=True))
        batch.add_column(sa.Column("legal_basis_en", sa.Text(), nullable=True))
        batch.create_check_constraint("applicants", "applicants in ('business', 'citizen', 'both')")
        batch.create_check_constraint(
            "result_form", "result_form in ('permit', 'licence', 'certificate', 'letter')"
        )
        batch.create_check_constraint("fee", "fee_tenge is null or fee_tenge >= 0")
    op.create_table(
        "service_optional_document",
        sa.Column("service_id", sa.Integer(), nullable=False),
        sa.Column("document_type_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["document_type_id"],
            ["document_type.id"],
            name=op.f("fk_service_optional_document_document_type_id_document_type"),
        ),
        sa.ForeignKeyConstraint(
            ["service_id"],
            ["service.id"],
            name=op.f("fk_service_optional_document_service_id_service"),
        ),
        sa.PrimaryKeyConstraint(
            "service_id", "document_type_id", name=op.f("pk_service_optional_document")
        ),
    )
    op.create_table(
        "catalogue_change",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("actor_id", sa.Integer(), nullable=True),
        sa.Column("entity", sa.String(length=16), nullable=False),
        sa.Column("code", sa.String(length=40), nullable=False),
        sa.Column("action", sa.String(length=12), nullable=False),
        sa.Column("source", sa.String(length=8), nullable=False),
        sa.Column("changes", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "entity in ('department', 'document_type', 'service')",
            name=op.f("ck_catalogue_change_entity"),
        ),
        sa.CheckConstraint(
            "action in ('created', 'updated', 'retired', 'restored', 'deleted')",
            name=op.f("ck_catalogue_change_action"),
        ),
        sa.ForeignKeyConstraint(
            ["actor_id"], ["user.id"], name=op.f("fk_catalogue_change_actor_id_user")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_catalogue_change")),
    )
    op.create_index("ix_catalogue_change_created_at", "catalogue_change", ["created_at"])


def downgrade():
    op.drop_index("ix_catalogue_change_created_at", table_name="catalogue_change")
    op.drop_table("catalogue_change")
    op.drop_table("service_optional_document")
    with op.batch_alter_table("service") as batch:
        batch.drop_constraint("fee", type_="check")
        batch.drop_constraint("result_form", type_="check")
        batch.drop_constraint("applicants", type_="check")
        for column in (
            "legal_basis_en",
            "legal_basis_kk",
            "legal_basis_ru",
            "result_form",
            "fee_tenge",
            "applicants",
        ):
            batch.drop_column(column)
    with op.batch_alter_table("document_type") as batch:
        batch.drop_constraint("max_size", type_="check")
        for column in (
            "active",
            "multiple_files",
            "max_size_mb",
            "formats",
            "note_en",
            "note_kk",
            "note_ru",
        ):
            batch.drop_column(column)
    op.drop_table("department_head")
    with op.batch_alter_table("department") as batch:
        batch.drop_column("active")
