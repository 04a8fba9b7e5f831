"""Gauges for alerts and autoscaling: connected workers, free slots and the
desired-worker estimate, checked against the workers a test connects."""

from __future__ import annotations

import pytest

from tests.conftest import eventually
from workpool_server.engine.scaling import desired_workers
from workpool_server.metrics import OTHER_FUNCTIONS, Metrics


def _value(server, name: str, **labels: str) -> float | None:
    return server.metrics.registry.get_sample_value(name, labels)


async def test_workers_connected_follows_streams(
    server, workpool_client, scripted_workers
):
    await workpool_client.create_pool("p")
    first = await scripted_workers(["p"], ["f"], capacity=3)
    await scripted_workers(["p"], ["f", "g"], capacity=2)

    assert _value(server, "workpool_workers_connected", pool="p", function="f") == 2
    assert _value(server, "workpool_workers_connected", pool="p", function="g") == 1
    assert _value(server, "workpool_worker_slots_free", pool="p") == 5

    await first.close()
    await eventually(
        lambda: (
            _value(server, "workpool_workers_connected", pool="p", function="f") == 1
        ),
        message="one worker left for p/f",
    )
    assert _value(server, "workpool_workers_connected", pool="p", function="g") == 1
    assert _value(server, "workpool_worker_slots_free", pool="p") == 2


async def test_slots_free_drop_while_items_run(
    server, workpool_client, scripted_workers
):
    await workpool_client.create_pool("p")
    worker = await scripted_workers(["p"], ["f"], capacity=3)
    work_id = await workpool_client.enqueue("p", "f")
    await worker.wait_started(1)
    await server.engine.refresh_gauges()

    assert _value(server, "workpool_worker_slots_free", pool="p") == 2
    assert _value(server, "workpool_running", pool="p") == 1

    await worker.succeed(work_id)
    await eventually(lambda: not worker.running, message="the result to be sent")
    await server.engine.refresh_gauges()
    assert _value(server, "workpool_worker_slots_free", pool="p") == 3


async def test_no_workers_gives_zero_series(server, workpool_client, scripted_workers):
    await workpool_client.create_pool("p")
    worker = await scripted_workers(["p"], ["f"])
    await worker.close()
    await eventually(
        lambda: (
            _value(server, "workpool_workers_connected", pool="p", function="f") == 0
        ),
        message="the worker to leave",
    )
    assert _value(server, "workpool_worker_slots_free", pool="p") == 0


async def test_desired_workers_from_backlog(server, workpool_client):
    """120 ready items and no worker: 2 starts a second for 60 s, at the
    assumed 1 s run and capacity 1, need 2 workers."""
    await workpool_client.create_pool("p")
    await workpool_client.create_pool("idle")
    for _ in range(120):
        await workpool_client.enqueue("p", "f")
    await server.engine.refresh_gauges()

    assert _value(server, "workpool_desired_workers", pool="p") == 2
    assert _value(server, "workpool_pending", pool="p") == 120
    assert _value(server, "workpool_desired_workers", pool="idle") == 0
    assert _value(server, "workpool_pool_max_parallelism", pool="p") == 10


@pytest.mark.parametrize(
    ("ready", "start_rate", "run_seconds", "capacity", "expected"),
    [
        pytest.param(0, 0.0, 1.0, 1.0, 0, id="idle"),
        pytest.param(60, 0.0, 1.0, 1.0, 1, id="backlog-only"),
        pytest.param(0, 10.0, 2.0, 4.0, 5, id="steady-rate-only"),
        pytest.param(600, 10.0, 0.5, 5.0, 2, id="backlog-and-rate"),
        pytest.param(1, 0.0, 0.1, 8.0, 1, id="tiny-demand-rounds-up"),
        pytest.param(120, 0.0, 1.0, 0.0, 2, id="capacity-below-one"),
    ],
)
def test_desired_workers_formula(ready, start_rate, run_seconds, capacity, expected):
    assert desired_workers(ready, start_rate, run_seconds, capacity) == expected


def test_function_labels_bounded():
    metrics = Metrics(max_function_labels=2)
    labels = [metrics.function(name) for name in ("a", "b", "c", "a")]
    assert labels == ["a", "b", OTHER_FUNCTIONS, "a"]
