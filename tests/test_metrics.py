"""The Prometheus endpoint: metric names, types, units and bounded labels."""

from __future__ import annotations

import asyncio
import urllib.request
from datetime import timedelta

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import eventually
from workpool import AsyncClient, NonRetryableError, NotFoundError, Worker
from workpool_server.app import start_server
from workpool_server.config import ServerConfig


@pytest.fixture
async def metered_server(tmp_path):
    """Start an in-process server with metrics on a random loopback port.

    make_server passes http_listen="" itself, so it cannot turn metrics on.
    """
    started = []

    async def factory(**overrides):
        config = ServerConfig(
            database_url=f"sqlite:///{tmp_path / 'workpool.db'}",
            listen="127.0.0.1:0",
            http_listen="127.0.0.1:0",
            sqlite_synchronous="NORMAL",
            shutdown_grace_us=0,
            **overrides,
        ).validate()
        started.append(await start_server(config))
        return started[-1]

    yield factory
    for server in started:
        await server.stop(grace_seconds=0)


def _scrape(port: int) -> dict:
    url = f"http://127.0.0.1:{port}/metrics"
    with urllib.request.urlopen(url, timeout=5) as response:
        text = response.read().decode()
    return {family.name: family for family in text_string_to_metric_families(text)}


async def _run_worker(worker: Worker, done) -> None:
    task = asyncio.create_task(worker.run_async())
    try:
        await eventually(done, message="the work to finish")
    finally:
        await worker.stop(timedelta(seconds=1))
        await asyncio.gather(task, return_exceptions=True)


def _samples(family, suffix: str = "", **labels: str) -> list:
    return [
        sample
        for sample in family.samples
        if sample.name == family.name + suffix
        and all(sample.labels.get(key) == value for key, value in labels.items())
    ]


async def test_metrics_have_standard_names_and_units(metered_server):
    server = await metered_server()
    target = f"127.0.0.1:{server.port}"
    worker = Worker(target, pools=["metered"], capacity=4)
    worker.register("ok", lambda context, args: "done")

    @worker.handler("bad")
    def bad(context, args):
        raise NonRetryableError("broken")

    async with AsyncClient(target) as client:
        await client.create_pool("metered")
        ids = [await client.enqueue("metered", "ok") for _ in range(2)]
        ids.append(await client.enqueue("metered", "bad"))
        with pytest.raises(NotFoundError):
            await client.enqueue("missing", "ok")

        async def all_finished() -> bool:
            statuses = await client.status_batch(ids)
            return all(status.result is not None for status in statuses)

        await _run_worker(worker, all_finished)
    families = await asyncio.to_thread(_scrape, server.http_port)

    enqueued = families["workpool_enqueued"]
    assert enqueued.type == "counter"
    assert [s.value for s in _samples(enqueued, "_total", pool="metered")] == [3]

    completed = families["workpool_completed"]
    assert completed.type == "counter"
    by_result = {
        sample.labels["result"]: sample.value
        for sample in _samples(completed, "_total", pool="metered")
    }
    assert by_result["success"] == 2
    assert by_result["failure"] == 1

    start_lag = families["workpool_start_lag_seconds"]
    assert start_lag.type == "histogram"
    assert [s.value for s in _samples(start_lag, "_count", pool="metered")] == [3]
    # In seconds: three immediate starts lag far less than a second in all.
    [lag_sum] = _samples(start_lag, "_sum", pool="metered")
    assert 0 <= lag_sum.value < 1
    assert _samples(start_lag, "_bucket", pool="metered", le="+Inf")

    handled = families["grpc_server_handled"]
    assert handled.type == "counter"
    enqueue_codes = {
        sample.labels["grpc_code"]: sample.value
        for sample in _samples(handled, "_total", grpc_method="Enqueue")
    }
    assert enqueue_codes["OK"] == 3
    assert enqueue_codes["NOT_FOUND"] == 1
    [sample] = _samples(handled, "_total", grpc_method="Enqueue", grpc_code="OK")
    assert sample.labels["grpc_service"] == "workpool.v1.WorkpoolService"
    assert sample.labels["grpc_type"] == "unary"

    handling = families["grpc_server_handling_seconds"]
    assert handling.type == "histogram"
    [count] = _samples(handling, "_count", grpc_method="Enqueue")
    [total] = _samples(handling, "_sum", grpc_method="Enqueue")
    assert count.value == 4
    assert 0 < total.value < 4


async def test_many_pools_keep_series_bounded(metered_server):
    """520 pools with one item each, and failures with unique error texts,
    against max_pool_labels=20."""
    server = await metered_server(max_pool_labels=20)
    target = f"127.0.0.1:{server.port}"
    names = [f"tenant-{number:03d}" for number in range(520)]
    error_texts: list[str] = []
    worker = Worker(target, pools=names[:3], capacity=4)

    @worker.handler("bad")
    def bad(context, args):
        error_texts.append(f"failed for {context.work_id}")
        raise NonRetryableError(error_texts[-1])

    async with AsyncClient(target) as client:
        ids = []
        for name in names:
            await client.create_pool(name)
            ids.append(await client.enqueue(name, "bad"))

        async def first_three_finished() -> bool:
            statuses = await client.status_batch(ids[:3])
            return all(status.result is not None for status in statuses)

        await _run_worker(worker, first_three_finished)
    families = await asyncio.to_thread(_scrape, server.http_port)

    for family in families.values():
        pools = {s.labels["pool"] for s in family.samples if "pool" in s.labels}
        assert len(pools) <= 21, family.name

    label_values = {
        value for family in families.values() for sample in family.samples
        for value in sample.labels.values()
    }  # fmt: skip
    assert len(error_texts) == 3
    for value in label_values:
        assert not value.startswith(("wk_", "ws_")), value
        assert value not in error_texts
        assert "failed for" not in value
    enqueued = families["workpool_enqueued"]
    by_pool = {s.labels["pool"]: s.value for s in _samples(enqueued, "_total")}
    assert sum(by_pool.values()) == 520
    assert len(by_pool) == 21
