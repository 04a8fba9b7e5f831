"""Worker faults: a worker process killed or stopped mid-attempt, one that dies
between its handler and its report, and reports repeated or for the wrong
attempt.

The process cases run Python SDK workers in processes of their own against a
`workpool serve` process with 2 s leases. The report cases use a scripted
worker on the raw stream, on SQLite and PostgreSQL.
"""

from __future__ import annotations

import signal
import subprocess
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import grpc
import pytest

import workpool
from tests.conftest import ServeProcess, eventually, logged_completions
from tests.faults.conftest import spawn_actor
from workpool.v1 import workpool_service_pb2_grpc

pytestmark = pytest.mark.faults

POOL = "faulty"
RETRY = workpool.RetryPolicy(max_attempts=3, initial_backoff=timedelta(milliseconds=50))


class FaultWorkers:
    """Fault-worker processes of one test, all logging their runs to one file."""

    def __init__(self, server: ServeProcess, folder: Path) -> None:
        self.server = server
        self.folder = folder
        self.runs_path = folder / "runs.txt"
        self.processes: list[subprocess.Popen] = []

    def start(self) -> subprocess.Popen:
        process = spawn_actor(
            self.folder,
            f"worker-{len(self.processes)}",
            "fault-worker", self.server.target, POOL, str(self.runs_path),
        )  # fmt: skip
        self.processes.append(process)
        return process

    def runs(self) -> list[tuple[str, int]]:
        if not self.runs_path.exists():
            return []
        return [
            (work_id, int(attempt))
            for work_id, attempt in (
                line.split() for line in self.runs_path.read_text().splitlines()
            )
        ]

    def stop_all(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.send_signal(signal.SIGCONT)
                process.kill()
            process.wait(10)


@pytest.fixture
async def fault_setup(
    spawn_server, tmp_path
) -> AsyncIterator[tuple[workpool.AsyncClient, FaultWorkers]]:
    server = await spawn_server().wait_ready()
    workers = FaultWorkers(server, tmp_path)
    async with workpool.AsyncClient(server.target) as client:
        await client.create_pool(POOL, retry_by_default=True, default_retry=RETRY)
        try:
            yield client, workers
        finally:
            workers.stop_all()


async def _wait_state(
    client: workpool.AsyncClient,
    work_id: str,
    state: workpool.WorkState,
    previous_attempts: int,
) -> workpool.WorkStatus:
    async def reached() -> bool:
        status = await client.status(work_id)
        return status.state is state and status.previous_attempts == previous_attempts

    await eventually(reached, timeout=20, message=f"{state.name}({previous_attempts})")
    return await client.status(work_id)


async def _log_entries(target: str, work_id: str) -> list:
    async with grpc.aio.insecure_channel(target) as channel:
        stub = workpool_service_pb2_grpc.WorkpoolServiceStub(channel)
        entries = await logged_completions(stub)
    return [entry for entry in entries if entry.work_id == work_id]


async def test_worker_killed_mid_attempt_retried(fault_setup, figures):
    client, workers = fault_setup
    doomed = workers.start()
    work_id = await client.enqueue(POOL, "task", {"mode": "hold"})
    await _wait_state(client, work_id, workpool.WorkState.RUNNING, 0)
    # RUNNING means leased; the handler records its start a moment later.
    await eventually(
        lambda: (work_id, 1) in workers.runs(), message="the handler to start"
    )

    doomed.kill()
    lost = await _wait_state(client, work_id, workpool.WorkState.PENDING, 1)
    assert lost.last_error is not None
    assert lost.last_error.startswith("worker lost")

    workers.start()
    finished = await _wait_state(client, work_id, workpool.WorkState.FINISHED, 2)
    assert finished.result is not None
    assert finished.result.succeeded
    assert finished.result.return_value["attempt"] == 2
    assert workers.runs() == [(work_id, 1), (work_id, 2)]
    entries = await _log_entries(workers.server.target, work_id)
    assert [entry.attempts for entry in entries] == [2]
    figures({"attempts": 2, "final_results": len(entries)}, name="worker_sigkill")


async def test_hung_worker_late_result_refused(fault_setup, figures):
    client, workers = fault_setup
    hung = workers.start()
    work_id = await client.enqueue(POOL, "task", {"mode": "hang", "seconds": 3})
    await _wait_state(client, work_id, workpool.WorkState.RUNNING, 0)
    await eventually(
        lambda: (work_id, 1) in workers.runs(), message="the handler to start"
    )

    # SIGSTOP freezes the process: its connection stays open, but no
    # heartbeat goes out, so the 2 s lease expires.
    hung.send_signal(signal.SIGSTOP)
    expired = await _wait_state(client, work_id, workpool.WorkState.PENDING, 1)
    assert expired.last_error is not None
    assert expired.last_error.startswith("lease expired")

    workers.start()
    finished = await _wait_state(client, work_id, workpool.WorkState.FINISHED, 2)

    # The frozen handler finishes after SIGCONT. The SDK drops its result if
    # it reads the lease-lost cancel first, and the server refuses it as stale
    # otherwise. The item keeps the result of attempt 2 in both cases.
    hung.send_signal(signal.SIGCONT)
    server_log, worker_log = workers.server.log, workers.folder / "worker-0.log"

    def late_result_handled() -> bool:
        return "stale result ignored" in server_log() or (
            "Lease lost" in worker_log.read_text(errors="replace")
        )

    await eventually(late_result_handled, timeout=15, message="late result handled")

    after = await client.status(work_id)
    assert after.result is not None
    assert after.result.succeeded
    assert after.result.return_value["attempt"] == 2
    assert after.result.return_value == finished.result.return_value
    entries = await _log_entries(workers.server.target, work_id)
    assert [entry.attempts for entry in entries] == [2]
    figures(
        {
            "attempts": 2,
            "final_results": len(entries),
            "refused_by_server": "stale result ignored" in server_log(),
        },
        name="worker_hang",
    )


async def test_worker_dies_before_report_reruns(fault_setup, figures):
    client, workers = fault_setup
    workers.start()
    work_id = await client.enqueue(
        POOL, "task", {"mode": "die"}, on_complete=workpool.OnComplete("task.done")
    )
    await _wait_state(client, work_id, workpool.WorkState.PENDING, 1)

    workers.start()
    finished = await _wait_state(client, work_id, workpool.WorkState.FINISHED, 2)

    # The handler ran to the end twice: delivery is at least once, but the
    # item has one final result.
    assert workers.runs() == [(work_id, 1), (work_id, 2)]
    assert finished.result is not None
    assert finished.result.return_value["attempt"] == 2
    entries = await _log_entries(workers.server.target, work_id)
    assert [entry.attempts for entry in entries] == [2]
    figures(
        {"handler_runs": 2, "attempts": 2, "final_results": len(entries)},
        name="worker_dies_before_report",
    )


# Reports on the raw stream.


async def test_repeated_and_wrong_attempt_reports(
    workpool_client, protocol_workers, stubs, figures, database_engine
):
    await workpool_client.create_pool("jobs", retry_by_default=True)
    worker = await protocol_workers(["jobs"], ["job", "job.done"])
    work_id = await workpool_client.enqueue(
        "jobs", "job", on_complete=workpool.OnComplete("job.done", {"n": 1})
    )
    await worker.wait_started(1)

    # Reports for attempts that were never handed out change nothing.
    wrong_attempts = [0, 2, 7, -1, 2**31 - 1]
    for attempt in wrong_attempts:
        assert await worker.report_success(work_id, attempt, "wrong") is False
    running = await workpool_client.status(work_id)
    assert running.state is workpool.WorkState.RUNNING
    assert running.previous_attempts == 0

    # The same result three times: the first counts.
    assert await worker.report_success(work_id, 1, "first") is True
    assert await worker.report_success(work_id, 1, "second") is False
    assert await worker.report_success(work_id, 1, "third") is False

    finished = await workpool_client.status(work_id)
    assert finished.state is workpool.WorkState.FINISHED
    assert finished.previous_attempts == 1
    assert finished.result is not None
    assert finished.result.return_value == "first"

    # One completion and one follow-up: the follow-up's entry appears once it
    # runs, so take it and finish it.
    await worker.wait_started(2)
    follow_up = worker.started[1]
    assert follow_up.function == "job.done"
    assert follow_up.args["work_id"] == work_id
    await worker.succeed(follow_up.work_id)
    entries = await logged_completions(stubs.workpool)
    assert [entry.work_id for entry in entries] == [work_id, follow_up.work_id]
    assert entries[0].result.success.return_value.string_value == "first"
    assert len(worker.started) == 2
    figures(
        {
            "wrong_attempt_reports": len(wrong_attempts),
            "repeated_reports": 2,
            "accepted": 1,
            "completion_entries": 1,
            "follow_ups": 1,
        },
        name=f"worker_reports_{database_engine}",
    )
