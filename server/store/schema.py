"""Tables of the store. The Alembic migrations create the same schema.

All times are integer microseconds since the Unix epoch (UTC), in columns
named `*_us`. Payloads (args, contexts, return values) are serialized
google.protobuf.Value bytes, and error texts are UTF-8 bytes, so that NUL and
any other character round-trip on both engines.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Float,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    SmallInteger,
    String,
    Table,
    false,
    text,
)

metadata = MetaData()

# SQLite only auto-increments an INTEGER PRIMARY KEY, not a BIGINT one.
_SEQUENCE_TYPE = BigInteger().with_variant(Integer, "sqlite")

pools = Table(
    "pools",
    metadata,
    Column("name", String(128), primary_key=True),
    Column("max_parallelism", Integer, nullable=False),
    Column("retry_by_default", Boolean, nullable=False),
    Column("retry_max_attempts", Integer, nullable=False),
    Column("retry_initial_backoff_us", BigInteger, nullable=False),
    Column("retry_base", Float, nullable=False),
    Column("retry_max_backoff_us", BigInteger, nullable=True),
    # NULL keeps finished status forever.
    Column("status_ttl_us", BigInteger, nullable=True),
    Column("created_at_us", BigInteger, nullable=False),
    Column("updated_at_us", BigInteger, nullable=False),
    # Scheduling settings and the shared state of the rate limit and circuit
    # breaker. Claims update the state under this row's lock, so every
    # replica reads and spends one bucket and one breaker.
    Column("max_per_key", Integer, nullable=False, server_default=text("0")),
    Column(
        "priority_aging_us", BigInteger, nullable=False, server_default=text("1000000")
    ),
    Column("rate_per_second", Float, nullable=True),
    Column("rate_burst", Integer, nullable=True),
    Column("rate_tokens", Float, nullable=True),
    Column("rate_refilled_at_us", BigInteger, nullable=True),
    Column("default_attempt_timeout_us", BigInteger, nullable=True),
    Column("breaker_failure_rate", Float, nullable=True),
    Column("breaker_window_us", BigInteger, nullable=True),
    Column("breaker_min_attempts", Integer, nullable=True),
    Column("breaker_cool_down_us", BigInteger, nullable=True),
    Column("breaker_state", SmallInteger, nullable=True),
    Column("breaker_open_until_us", BigInteger, nullable=True),
    # Attempts that ended before this time do not count toward the rate.
    Column("breaker_counted_from_us", BigInteger, nullable=True),
    Column("breaker_probe_work_id", String(32), nullable=True),
    Column("breaker_probe_attempt", Integer, nullable=True),
    Column("parent", String(128), nullable=True),
)

work = Table(
    "work",
    metadata,
    Column("seq", _SEQUENCE_TYPE, primary_key=True, autoincrement=True),
    Column("id", String(32), nullable=False, unique=True),
    Column("pool", String(128), nullable=False),
    Column("function", String(256), nullable=False),
    Column("args", LargeBinary, nullable=False),
    Column("state", SmallInteger, nullable=False),
    Column("lane", SmallInteger, nullable=False),
    Column("ready_at_us", BigInteger, nullable=False),
    Column("enqueued_at_us", BigInteger, nullable=False),
    # Attempts started so far; the running attempt's number while running.
    Column("attempt", Integer, nullable=False),
    Column("max_attempts", Integer, nullable=False),
    Column("initial_backoff_us", BigInteger, nullable=False),
    Column("backoff_base", Float, nullable=False),
    Column("max_backoff_us", BigInteger, nullable=True),
    Column("on_complete_function", String(256), nullable=True),
    Column("on_complete_context", LargeBinary, nullable=True),
    Column("idempotency_key", String(256), nullable=True),
    Column("lease_owner", String(64), nullable=True),
    Column("lease_expires_at_us", BigInteger, nullable=True),
    Column("started_at_us", BigInteger, nullable=True),
    Column("cancel_requested", Boolean, nullable=False),
    Column("last_error", LargeBinary, nullable=True),
    Column("result_kind", SmallInteger, nullable=True),
    Column("return_value", LargeBinary, nullable=True),
    Column("non_retryable", Boolean, nullable=False, server_default=false()),
    Column("finished_at_us", BigInteger, nullable=True),
    # NULL while unfinished, and for pools that keep status forever.
    Column("expires_at_us", BigInteger, nullable=True),
    Column("concurrency_key", String(256), nullable=True),
    Column("priority", Integer, nullable=False, server_default=text("0")),
    # Dispatch order within a lane: ready_at_us - priority * priority_aging_us,
    # so that sorting by it ascending gives the order of priority plus waited
    # time over aging, whatever the current time.
    Column("rank_us", BigInteger, nullable=True),
    Column("attempt_timeout_us", BigInteger, nullable=True),
    # When the running attempt times out; NULL without an attempt timeout.
    Column("deadline_us", BigInteger, nullable=True),
    # Attempts that ended with a continuation, and the attempt count when the
    # current run's retry budget began (the last continuation).
    Column("continuations", Integer, nullable=False, server_default=text("0")),
    Column("budget_start", Integer, nullable=False, server_default=text("0")),
    # Parent pool whose slot the running attempt uses, NULL on its own slot.
    Column("borrowed_from", String(128), nullable=True),
)

# Dispatch reads the first ready items of one (pool, function, lane), so its
# cost does not grow with the number of pending items.
Index(
    "work_ready_idx",
    work.c.pool,
    work.c.function,
    work.c.lane,
    work.c.ready_at_us,
    work.c.seq,
    sqlite_where=text("state = 1"),
    postgresql_where=text("state = 1"),
)
Index(
    "work_lease_idx",
    work.c.lease_expires_at_us,
    sqlite_where=text("state = 2"),
    postgresql_where=text("state = 2"),
)
Index(
    "work_expiry_idx",
    work.c.expires_at_us,
    sqlite_where=text("state = 3 AND expires_at_us IS NOT NULL"),
    postgresql_where=text("state = 3 AND expires_at_us IS NOT NULL"),
)
Index(
    "work_idempotency_idx",
    work.c.pool,
    work.c.idempotency_key,
    unique=True,
    sqlite_where=text("idempotency_key IS NOT NULL"),
    postgresql_where=text("idempotency_key IS NOT NULL"),
)
Index("work_pool_state_idx", work.c.pool, work.c.state, work.c.seq)
# Dispatch reads ready items in rank order; work_ready_idx still serves the
# next-due lookups, which go by ready time.
Index(
    "work_rank_idx",
    work.c.pool,
    work.c.function,
    work.c.lane,
    work.c.rank_us,
    work.c.seq,
    sqlite_where=text("state = 1"),
    postgresql_where=text("state = 1"),
)
Index(
    "work_deadline_idx",
    work.c.deadline_us,
    sqlite_where=text("state = 2 AND deadline_us IS NOT NULL"),
    postgresql_where=text("state = 2 AND deadline_us IS NOT NULL"),
)
Index(
    "work_borrowed_idx",
    work.c.borrowed_from,
    sqlite_where=text("state = 2 AND borrowed_from IS NOT NULL"),
    postgresql_where=text("state = 2 AND borrowed_from IS NOT NULL"),
)
Index(
    "work_owner_idx",
    work.c.lease_owner,
    sqlite_where=text("state = 2"),
    postgresql_where=text("state = 2"),
)

completions = Table(
    "completions",
    metadata,
    Column("sequence", BigInteger, primary_key=True, autoincrement=False),
    Column("work_id", String(32), nullable=False),
    Column("pool", String(128), nullable=False),
    Column("function", String(256), nullable=False),
    Column("result_kind", SmallInteger, nullable=False),
    Column("return_value", LargeBinary, nullable=True),
    Column("error", LargeBinary, nullable=True),
    Column("non_retryable", Boolean, nullable=False, server_default=false()),
    Column("context", LargeBinary, nullable=True),
    Column("attempts", Integer, nullable=False),
    Column("finished_at_us", BigInteger, nullable=False),
    Column("continuations", Integer, nullable=False, server_default=text("0")),
)
Index("completions_finished_idx", completions.c.finished_at_us)

# Ended attempts of pools with a circuit breaker, kept for the breaker's
# window. Rows are inserted without the pool lock; claims read and prune
# them under it.
breaker_attempts = Table(
    "breaker_attempts",
    metadata,
    Column("seq", _SEQUENCE_TYPE, primary_key=True, autoincrement=True),
    Column("pool", String(128), nullable=False),
    Column("work_id", String(32), nullable=False),
    Column("attempt", Integer, nullable=False),
    Column("ended_at_us", BigInteger, nullable=False),
    Column("failed", Boolean, nullable=False),
)
Index(
    "breaker_attempts_pool_idx",
    breaker_attempts.c.pool,
    breaker_attempts.c.ended_at_us,
)

# Named counters. "completion_sequence" is the last sequence issued: taking it
# with UPDATE inside the completing transaction keeps the log gap-free, which
# a database sequence does not (it skips values on rollback).
counters = Table(
    "counters",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("value", BigInteger, nullable=False),
)

COMPLETION_SEQUENCE = "completion_sequence"

# One row per attempt of a work item, written when the attempt starts and
# completed in the transaction that ends it. Rows go with their item: the
# status TTL sweep and DeletePool delete them too. ended_at_us and outcome
# stay NULL while the attempt runs.
attempts = Table(
    "attempts",
    metadata,
    Column("work_id", String(32), primary_key=True),
    Column("attempt", Integer, primary_key=True, autoincrement=False),
    Column("worker_id", String(64), nullable=False),
    Column("worker_name", String(256), nullable=False),
    Column("started_at_us", BigInteger, nullable=False),
    Column("ended_at_us", BigInteger, nullable=True),
    Column("outcome", SmallInteger, nullable=True),
    Column("error", LargeBinary, nullable=True),
)

# W3C trace context ("traceparent" and "tracestate" as a JSON object) of the
# span that enqueued the item, so that its attempts join the caller's trace.
# NULL when tracing is off or the caller sent none.
work.append_column(Column("trace_context", String(1024), nullable=True))
