"""Circuit breaker: too many failed attempts pause a pool's new starts until
a probe attempt succeeds."""

from __future__ import annotations

from datetime import timedelta

from tests.conftest import eventually
from workpool import CircuitBreaker, CircuitState, RetryPolicy, WaitReason, WorkState
from workpool_server.clock import from_micros

BREAKER = CircuitBreaker(
    failure_rate=0.5,
    window=timedelta(seconds=60),
    min_attempts=4,
    cool_down=timedelta(seconds=30),
)
SECOND = 1_000_000


def _circuit_gauge(server, pool: str) -> float | None:
    return server.metrics.registry.get_sample_value(
        "workpool_pool_circuit_state", {"pool": pool}
    )


async def _open_breaker(client, worker, pool: str) -> list[str]:
    """Enqueue 6 items and fail the first 4 attempts, which opens the breaker."""
    ids = [await client.enqueue(pool, "work", {"n": i}) for i in range(6)]
    for index in range(4):
        await worker.wait_started(index + 1)
        await worker.fail(ids[index], f"attempt {index} fails")
    return ids


async def test_breaker_opens_and_probe_closes(
    workpool_client, scripted_workers, fake_clock, server
):
    await workpool_client.create_pool(
        "fragile", max_parallelism=1, circuit_breaker=BREAKER
    )
    pool = await workpool_client.get_pool("fragile")
    assert pool.circuit_breaker == BREAKER
    assert pool.stats.circuit_state is CircuitState.CLOSED
    worker = await scripted_workers(["fragile"], ["work"], capacity=5)
    opened_us = fake_clock.now_us()
    ids = await _open_breaker(workpool_client, worker, "fragile")

    pool = await workpool_client.get_pool("fragile")
    assert pool.stats.circuit_state is CircuitState.OPEN
    assert pool.stats.circuit_open_until == from_micros(opened_us + 30 * SECOND)
    explanation = await workpool_client.explain(ids[4])
    assert explanation.reason is WaitReason.CIRCUIT_OPEN
    assert explanation.until == from_micros(opened_us + 30 * SECOND)
    await server.engine.refresh_gauges()
    assert _circuit_gauge(server, "fragile") == 1

    # At the end of the cool-down exactly one probe starts.
    fake_clock.advance(timedelta(seconds=30))
    await worker.wait_started(5)
    assert worker.started[4].work_id == ids[4]
    pool = await workpool_client.get_pool("fragile")
    assert pool.stats.circuit_state is CircuitState.HALF_OPEN
    await workpool_client.update_pool("fragile", max_parallelism=5)
    explanation = await workpool_client.explain(ids[5])
    assert explanation.reason is WaitReason.CIRCUIT_OPEN
    assert explanation.running_work_ids == (ids[4],)

    # The probe's success closes the breaker and the rest starts.
    await worker.succeed(ids[4])
    await worker.wait_started(6)
    pool = await workpool_client.get_pool("fragile")
    assert pool.stats.circuit_state is CircuitState.CLOSED
    await server.engine.refresh_gauges()
    assert _circuit_gauge(server, "fragile") == 0


async def test_failed_probe_reopens(workpool_client, scripted_workers, fake_clock):
    await workpool_client.create_pool(
        "fragile", max_parallelism=1, circuit_breaker=BREAKER
    )
    worker = await scripted_workers(["fragile"], ["work"], capacity=5)
    ids = await _open_breaker(workpool_client, worker, "fragile")

    fake_clock.advance(timedelta(seconds=30))
    await worker.wait_started(5)
    probe_failed_us = fake_clock.now_us()
    await worker.fail(ids[4], "the probe fails")
    pool = await workpool_client.get_pool("fragile")
    assert pool.stats.circuit_state is CircuitState.OPEN
    assert pool.stats.circuit_open_until == from_micros(probe_failed_us + 30 * SECOND)
    assert len(worker.started) == 5


async def test_running_items_finish_while_open(
    workpool_client, scripted_workers, fake_clock
):
    """Opening pauses new starts only; retries wait and a cancel still ends."""
    await workpool_client.create_pool(
        "fragile", max_parallelism=10, circuit_breaker=BREAKER
    )
    worker = await scripted_workers(["fragile"], ["work"], capacity=10)
    retry = RetryPolicy(max_attempts=3, initial_backoff=timedelta(seconds=1))
    ids = [
        await workpool_client.enqueue("fragile", "work", {"n": i}, retry=retry)
        for i in range(5)
    ]
    await worker.wait_started(5)
    for work_id in ids[:4]:
        await worker.fail(work_id, "downstream is down")
    pool = await workpool_client.get_pool("fragile")
    assert pool.stats.circuit_state is CircuitState.OPEN

    # The fifth attempt was running and still reports success.
    await worker.succeed(ids[4])
    status = await workpool_client.status(ids[4])
    assert status.result.succeeded

    # The retries are due after 1 s, but the open breaker keeps them waiting.
    fake_clock.advance(timedelta(seconds=2))
    explanation = await workpool_client.explain(ids[0])
    assert explanation.reason is WaitReason.CIRCUIT_OPEN
    await workpool_client.cancel(ids[0])
    status = await workpool_client.status(ids[0])
    assert status.state is WorkState.FINISHED
    assert status.result.canceled
    assert len(worker.started) == 5

    fake_clock.advance(timedelta(seconds=28))
    await eventually(lambda: len(worker.started) == 6, message="the probe")
    assert worker.started[5].work_id in ids[1:4]


async def test_paused_pool_keeps_breaker_state(
    workpool_client, scripted_workers, fake_clock
):
    await workpool_client.create_pool(
        "fragile", max_parallelism=1, circuit_breaker=BREAKER
    )
    worker = await scripted_workers(["fragile"], ["work"], capacity=5)
    ids = await _open_breaker(workpool_client, worker, "fragile")
    await workpool_client.update_pool("fragile", max_parallelism=0)

    fake_clock.advance(timedelta(seconds=31))
    explanation = await workpool_client.explain(ids[4])
    assert explanation.reason is WaitReason.POOL_PAUSED
    pool = await workpool_client.get_pool("fragile")
    assert pool.stats.circuit_state is CircuitState.HALF_OPEN
    await workpool_client.update_pool("fragile", max_parallelism=1)
    await worker.wait_started(5)
