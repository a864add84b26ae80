"""businesses with several people: members (owner, employees, accountant, lawyer) with
their power of attorney, and the owner's one-time invitations; existing applicants become
the owners of their businesses, and every request is linked to its business

Revision ID: 0016_business_members
Revises: 0015_catalogue
Create Date: 2026-12-10 09:00:00

"""

import warnings
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision = "0016_business_members"
down_revision = "0015_catalogue"
branch_labels = None
depends_on = None

POWER_OF_ATTORNEY = {
    "code": "power_of_attorney",
    "name_ru": "Доверенность",
    "name_kk": "Сенімхат",
    "name_en": "Power of attorney",
}


def _outbox_batch():
    # On SQLite the batch rebuilds `outbox_message` only; reflecting the tables it refers to
    # warns about service_request's expression indexes, which it does not touch.
    warnings.filterwarnings("ignore", "Skipped unsupported reflection of expression-based index")
    return op.batch_alter_table("outbox_message", schema=None)


def upgrade():
    op.create_table(
        "business_member",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("business_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("role", sa.String(length=12), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decided_by_id", sa.Integer(), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("poa_stored_name", sa.String(length=64), nullable=True),
        sa.Column("poa_original_name", sa.String(length=255), nullable=True),
        sa.Column("poa_content_type", sa.String(length=40), nullable=True),
        sa.Column("poa_size", sa.Integer(), nullable=True),
        sa.Column("poa_sha256", sa.String(length=64), nullable=True),
        sa.Column("poa_valid_until", sa.Date(), nullable=True),
        sa.CheckConstraint(
            "role in ('owner', 'employee', 'accountant', 'lawyer')",
            name=op.f("ck_business_member_role"),
        ),
        sa.CheckConstraint(
            "status in ('pending', 'active', 'declined', 'removed')",
            name=op.f("ck_business_member_status"),
        ),
        sa.ForeignKeyConstraint(
            ["business_id"], ["business.id"], name=op.f("fk_business_member_business_id_business")
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["user.id"], name=op.f("fk_business_member_user_id_user")
        ),
        sa.ForeignKeyConstraint(
            ["decided_by_id"], ["user.id"], name=op.f("fk_business_member_decided_by_id_user")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_business_member")),
        sa.UniqueConstraint("business_id", "user_id", name="uq_business_member_once"),
        sa.UniqueConstraint("poa_stored_name", name=op.f("uq_business_member_poa_stored_name")),
    )
    op.create_index(
        op.f("ix_business_member_business_id"), "business_member", ["business_id"], unique=False
    )
    op.create_index(
        op.f("ix_business_member_user_id"), "business_member", ["user_id"], unique=False
    )
    op.create_index(
        "ix_business_member_one_owner",
        "business_member",
        ["business_id"],
        unique=True,
        postgresql_where=sa.text("role = 'owner' AND status = 'active'"),
        sqlite_where=sa.text("role = 'owner' AND status = 'active'"),
    )

    op.create_table(
        "business_invitation",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("business_id", sa.Integer(), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("role", sa.String(length=12), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("invited_by_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("used_by_id", sa.Integer(), nullable=True),
        sa.CheckConstraint(
            "role in ('employee', 'accountant', 'lawyer')",
            name=op.f("ck_business_invitation_role"),
        ),
        sa.ForeignKeyConstraint(
            ["business_id"],
            ["business.id"],
            name=op.f("fk_business_invitation_business_id_business"),
        ),
        sa.ForeignKeyConstraint(
            ["invited_by_id"], ["user.id"], name=op.f("fk_business_invitation_invited_by_id_user")
        ),
        sa.ForeignKeyConstraint(
            ["used_by_id"], ["user.id"], name=op.f("fk_business_invitation_used_by_id_user")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_business_invitation")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_business_invitation_token_hash")),
    )
    op.create_index(
        op.f("ix_business_invitation_business_id"),
        "business_invitation",
        ["business_id"],
        unique=False,
    )
    # An invitation goes to an address with no account behind it yet.
    with warnings.catch_warnings(), _outbox_batch() as batch:
        batch.alter_column("recipient_id", existing_type=sa.Integer(), nullable=True)
    migrate_applicants(op.get_bind())


def migrate_applicants(connection) -> None:
    """Each applicant becomes the active owner of the business they registered (a citizen
    of their own IIN's, alone), every request is linked to its applicant's business, and
    staff can ask for a power of attorney. Nothing existing is changed otherwise."""
    now = datetime.now(UTC)
    if connection.dialect.name == "sqlite":
        now = now.replace(tzinfo=None)
    user = sa.table(
        "user",
        sa.column("id", sa.Integer),
        sa.column("role", sa.String),
        sa.column("business_id", sa.Integer),
        sa.column("created_at", sa.DateTime(timezone=True)),
    )
    member = sa.table(
        "business_member",
        sa.column("business_id", sa.Integer),
        sa.column("user_id", sa.Integer),
        sa.column("role", sa.String),
        sa.column("status", sa.String),
        sa.column("created_at", sa.DateTime(timezone=True)),
        sa.column("decided_at", sa.DateTime(timezone=True)),
    )
    request = sa.table(
        "service_request",
        sa.column("applicant_id", sa.Integer),
        sa.column("business_id", sa.Integer),
    )
    document_type = sa.table(
        "document_type",
        *(sa.column(name, sa.String) for name in ("id", "code", "name_ru", "name_kk", "name_en")),
    )
    # The first registrant of each business (lowest id) is its owner; anyone else who
    # somehow shares it becomes an active employee, as they could already see nothing less.
    owners_seen: set[int] = set()
    applicants = connection.execute(
        sa.select(user.c.id, user.c.business_id, user.c.created_at)
        .where(user.c.role == "applicant", user.c.business_id.is_not(None))
        .order_by(user.c.id)
    ).all()
    rows = []
    for row in applicants:
        role = "employee" if row.business_id in owners_seen else "owner"
        owners_seen.add(row.business_id)
        rows.append(
            {
                "business_id": row.business_id,
                "user_id": row.id,
                "role": role,
                "status": "active",
                "created_at": row.created_at or now,
                "decided_at": row.created_at or now,
            }
        )
    if rows:
        connection.execute(member.insert(), rows)
    applicant_business = (
        sa.select(user.c.business_id).where(user.c.id == request.c.applicant_id).scalar_subquery()
    )
    connection.execute(
        request.update()
        .where(request.c.business_id.is_(None))
        .values(business_id=applicant_business)
    )
    exists = connection.scalar(
        sa.select(document_type.c.id).where(document_type.c.code == POWER_OF_ATTORNEY["code"])
    )
    if exists is None:
        connection.execute(document_type.insert().values(**POWER_OF_ATTORNEY))


def downgrade():
    op.execute("DELETE FROM outbox_message WHERE recipient_id IS NULL")
    with warnings.catch_warnings(), _outbox_batch() as batch:
        batch.alter_column("recipient_id", existing_type=sa.Integer(), nullable=False)
    op.drop_index(op.f("ix_business_invitation_business_id"), table_name="business_invitation")
    op.drop_table("business_invitation")
    op.drop_index("ix_business_member_one_owner", table_name="business_member")
    op.drop_index(op.f("ix_business_member_user_id"), table_name="business_member")
    op.drop_index(op.f("ix_business_member_business_id"), table_name="business_member")
    op.drop_table("business_member")
