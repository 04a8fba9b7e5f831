"""Add concurrency keys, priorities, attempt timeouts, continuations, rate
limits, circuit breakers and shared capacity.

Revision ID: 0002_scheduling
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002_scheduling"
down_revision = "0001"
branch_labels = None
depends_on = None

_SEQUENCE = sa.BigInteger().with_variant(sa.Integer, "sqlite")

_POOL_COLUMNS = [
    sa.Column("max_per_key", sa.Integer, nullable=False, server_default=sa.text("0")),
    sa.Column(
        "priority_aging_us",
        sa.BigInteger,
        nullable=False,
        server_default=sa.text("1000000"),
    ),
    sa.Column("rate_per_second", sa.Float, nullable=True),
    sa.Column("rate_burst", sa.Integer, nullable=True),
    sa.Column("rate_tokens", sa.Float, nullable=True),
    sa.Column("rate_refilled_at_us", sa.BigInteger, nullable=True),
    sa.Column("default_attempt_timeout_us", sa.BigInteger, nullable=True),
    sa.Column("breaker_failure_rate", sa.Float, nullable=True),
    sa.Column("breaker_window_us", sa.BigInteger, nullable=True),
    sa.Column("breaker_min_attempts", sa.Integer, nullable=True),
    sa.Column("breaker_cool_down_us", sa.BigInteger, nullable=True),
    sa.Column("breaker_state", sa.SmallInteger, nullable=True),
    sa.Column("breaker_open_until_us", sa.BigInteger, nullable=True),
    sa.Column("breaker_counted_from_us", sa.BigInteger, nullable=True),
    sa.Column("breaker_probe_work_id", sa.String(32), nullable=True),
    sa.Column("breaker_probe_attempt", sa.Integer, nullable=True),
    sa.Column("parent", sa.String(128), nullable=True),
]

_WORK_COLUMNS = [
    sa.Column("concurrency_key", sa.String(256), nullable=True),
    sa.Column("priority", sa.Integer, nullable=False, server_default=sa.text("0")),
    sa.Column("rank_us", sa.BigInteger, nullable=True),
    sa.Column("attempt_timeout_us", sa.BigInteger, nullable=True),
    sa.Column("deadline_us", sa.BigInteger, nullable=True),
    sa.Column("continuations", sa.Integer, nullable=False, server_default=sa.text("0")),
    sa.Column("budget_start", sa.Integer, nullable=False, server_default=sa.text("0")),
    sa.Column("borrowed_from", sa.String(128), nullable=True),
]


def _partial(condition: str) -> dict:
    return {
        "sqlite_where": sa.text(condition),
        "postgresql_where": sa.text(condition),
    }


def upgrade() -> None:
    for column in _POOL_COLUMNS:
        op.add_column("pools", column)
    for column in _WORK_COLUMNS:
        op.add_column("work", column)
    op.add_column(
        "completions",
        sa.Column(
            "continuations", sa.Integer, nullable=False, server_default=sa.text("0")
        ),
    )
    # Existing items have priority 0, so their rank is their ready time.
    op.execute("UPDATE work SET rank_us = ready_at_us")

    op.create_index(
        "work_rank_idx",
        "work",
        ["pool", "function", "lane", "rank_us", "seq"],
        **_partial("state = 1"),
    )
    op.create_index(
        "work_deadline_idx",
        "work",
        ["deadline_us"],
        **_partial("state = 2 AND deadline_us IS NOT NULL"),
    )
    op.create_index(
        "work_borrowed_idx",
        "work",
        ["borrowed_from"],
        **_partial("state = 2 AND borrowed_from IS NOT NULL"),
    )
    op.create_table(
        "breaker_attempts",
        sa.Column("seq", _SEQUENCE, primary_key=True, autoincrement=True),
        sa.Column("pool", sa.String(128), nullable=False),
        sa.Column("work_id", sa.String(32), nullable=False),
        sa.Column("attempt", sa.Integer, nullable=False),
        sa.Column("ended_at_us", sa.BigInteger, nullable=False),
        sa.Column("failed", sa.Boolean, nullable=False),
    )
    op.create_index(
        "breaker_attempts_pool_idx", "breaker_attempts", ["pool", "ended_at_us"]
    )


def downgrade() -> None:
    op.drop_table("breaker_attempts")
    op.drop_index("work_borrowed_idx", table_name="work")
    op.drop_index("work_deadline_idx", table_name="work")
    op.drop_index("work_rank_idx", table_name="work")
    with op.batch_alter_table("completions") as batch:
        batch.drop_column("continuations")
    with op.batch_alter_table("work") as batch:
        for column in _WORK_COLUMNS:
            batch.drop_column(column.name)
    with op.batch_alter_table("pools") as batch:
        for column in _POOL_COLUMNS:
            batch.drop_column(column.name)
