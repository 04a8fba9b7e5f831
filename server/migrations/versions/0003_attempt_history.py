"""Add the attempts table and work.trace_context.

Attempts that were running when this migration ran have no row, so their
history starts with the next attempt.

Revision ID: 0003_attempt_history
Revises: 0002_scheduling
"""

import sqlalchemy as sa
from alembic import op

revision = "0003_attempt_history"
down_revision = "0002_scheduling"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "attempts",
        sa.Column("work_id", sa.String(32), primary_key=True),
        sa.Column("attempt", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("worker_id", sa.String(64), nullable=False),
        sa.Column("worker_name", sa.String(256), nullable=False),
        sa.Column("started_at_us", sa.BigInteger, nullable=False),
        sa.Column("ended_at_us", sa.BigInteger, nullable=True),
        sa.Column("outcome", sa.SmallInteger, nullable=True),
        sa.Column("error", sa.LargeBinary, nullable=True),
    )
    with op.batch_alter_table("work") as batch:
        batch.add_column(sa.Column("trace_context", sa.String(1024), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("work") as batch:
        batch.drop_column("trace_context")
    op.drop_table("attempts")
