"""Create pools, work, completions and counters.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

_SEQUENCE = sa.BigInteger().with_variant(sa.Integer, "sqlite")


def _partial(condition: str) -> dict:
    return {
        "sqlite_where": sa.text(condition),
        "postgresql_where": sa.text(condition),
    }


def upgrade() -> None:
    op.create_table(
        "pools",
        sa.Column("name", sa.String(128), primary_key=True),
        sa.Column("max_parallelism", sa.Integer, nullable=False),
        sa.Column("retry_by_default", sa.Boolean, nullable=False),
        sa.Column("retry_max_attempts", sa.Integer, nullable=False),
        sa.Column("retry_initial_backoff_us", sa.BigInteger, nullable=False),
        sa.Column("retry_base", sa.Float, nullable=False),
        sa.Column("retry_max_backoff_us", sa.BigInteger, nullable=True),
        sa.Column("status_ttl_us", sa.BigInteger, nullable=True),
        sa.Column("created_at_us", sa.BigInteger, nullable=False),
        sa.Column("updated_at_us", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "work",
        sa.Column("seq", _SEQUENCE, primary_key=True, autoincrement=True),
        sa.Column("id", sa.String(32), nullable=False, unique=True),
        sa.Column("pool", sa.String(128), nullable=False),
        sa.Column("function", sa.String(256), nullable=False),
        sa.Column("args", sa.LargeBinary, nullable=False),
        sa.Column("state", sa.SmallInteger, nullable=False),
        sa.Column("lane", sa.SmallInteger, nullable=False),
        sa.Column("ready_at_us", sa.BigInteger, nullable=False),
        sa.Column("enqueued_at_us", sa.BigInteger, nullable=False),
        sa.Column("attempt", sa.Integer, nullable=False),
        sa.Column("max_attempts", sa.Integer, nullable=False),
        sa.Column("initial_backoff_us", sa.BigInteger, nullable=False),
        sa.Column("backoff_base", sa.Float, nullable=False),
        sa.Column("max_backoff_us", sa.BigInteger, nullable=True),
        sa.Column("on_complete_function", sa.String(256), nullable=True),
        sa.Column("on_complete_context", sa.LargeBinary, nullable=True),
        sa.Column("idempotency_key", sa.String(256), nullable=True),
        sa.Column("lease_owner", sa.String(64), nullable=True),
        sa.Column("lease_expires_at_us", sa.BigInteger, nullable=True),
        sa.Column("started_at_us", sa.BigInteger, nullable=True),
        sa.Column("cancel_requested", sa.Boolean, nullable=False),
        sa.Column("last_error", sa.LargeBinary, nullable=True),
        sa.Column("result_kind", sa.SmallInteger, nullable=True),
        sa.Column("return_value", sa.LargeBinary, nullable=True),
        sa.Column(
            "non_retryable", sa.Boolean, nullable=False, server_default=sa.false()
        ),
        sa.Column("finished_at_us", sa.BigInteger, nullable=True),
        sa.Column("expires_at_us", sa.BigInteger, nullable=True),
    )
    op.create_index(
        "work_ready_idx",
        "work",
        ["pool", "function", "lane", "ready_at_us", "seq"],
        **_partial("state = 1"),
    )
    op.create_index(
        "work_lease_idx", "work", ["lease_expires_at_us"], **_partial("state = 2")
    )
    op.create_index(
        "work_expiry_idx",
        "work",
        ["expires_at_us"],
        **_partial("state = 3 AND expires_at_us IS NOT NULL"),
    )
    op.create_index(
        "work_idempotency_idx",
        "work",
        ["pool", "idempotency_key"],
        unique=True,
        **_partial("idempotency_key IS NOT NULL"),
    )
    op.create_index("work_pool_state_idx", "work", ["pool", "state", "seq"])
    op.create_index("work_owner_idx", "work", ["lease_owner"], **_partial("state = 2"))

    op.create_table(
        "completions",
        sa.Column("sequence", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("work_id", sa.String(32), nullable=False),
        sa.Column("pool", sa.String(128), nullable=False),
        sa.Column("function", sa.String(256), nullable=False),
        sa.Column("result_kind", sa.SmallInteger, nullable=False),
        sa.Column("return_value", sa.LargeBinary, nullable=True),
        sa.Column("error", sa.LargeBinary, nullable=True),
        sa.Column(
            "non_retryable", sa.Boolean, nullable=False, server_default=sa.false()
        ),
        sa.Column("context", sa.LargeBinary, nullable=True),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("finished_at_us", sa.BigInteger, nullable=False),
    )
    op.create_index("completions_finished_idx", "completions", ["finished_at_us"])

    counters = op.create_table(
        "counters",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("value", sa.BigInteger, nullable=False),
    )
    op.bulk_insert(counters, [{"name": "completion_sequence", "value": 0}])


def downgrade() -> None:
    op.drop_table("counters")
    op.drop_table("completions")
    op.drop_table("work")
    op.drop_table("pools")
