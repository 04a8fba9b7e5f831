"""`workpool` client commands against a `workpool serve` subprocess: text
output, enqueue from a JSON-lines file and watching a list of ids."""

from __future__ import annotations

import asyncio
import json
import subprocess
from datetime import timedelta

import pytest

from tests.conftest import WORKPOOL_COMMAND, eventually
from workpool import AsyncClient, NonRetryableError, Worker, WorkItem


def _cli(target: str, *arguments: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [WORKPOOL_COMMAND, "--server", target, *arguments],
        capture_output=True,
        text=True,
        timeout=60,
    )


def _start_watch(target: str, ids_file, stderr_path) -> subprocess.Popen:
    """Start `watch --work-ids-file --progress` with stderr to a file."""
    with stderr_path.open("w") as stderr:
        return subprocess.Popen(
            [
                WORKPOOL_COMMAND,
                "--server",
                target,
                "watch",
                "--work-ids-file",
                str(ids_file),
                "--progress",
            ],  # fmt: skip
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
        )


def _json_lines(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines()]


@pytest.fixture
async def cli_target(spawn_server) -> str:
    server = await spawn_server().wait_ready()
    created = await asyncio.to_thread(
        _cli, server.target, "pools", "create", "jobs", "--max-parallelism", "4"
    )
    assert created.returncode == 0, created.stderr
    return server.target


async def test_enqueue_file_sends_all_lines(cli_target, tmp_path):
    items = tmp_path / "items.jsonl"
    lines = [json.dumps({"function": "f", "args": {"n": n}}) for n in range(2_500)]
    lines.insert(10, "")
    lines.append(json.dumps({"function": "g", "idempotency_key": "k", "retry": True}))
    items.write_text("\n".join(lines) + "\n")

    done = await asyncio.to_thread(
        _cli, cli_target, "enqueue", "jobs", "--file", str(items)
    )

    assert done.returncode == 0, done.stderr
    # stderr is a pipe here, not a terminal, so no progress line is shown.
    assert done.stderr == ""
    work_ids = [line["work_id"] for line in _json_lines(done.stdout)]
    assert len(work_ids) == 2_501
    assert len(set(work_ids)) == 2_501
    status = await asyncio.to_thread(
        _cli, cli_target, "status", work_ids[0], work_ids[-1]
    )
    functions = [line["function"] for line in _json_lines(status.stdout)]
    assert functions == ["f", "g"]


@pytest.mark.parametrize(
    ("line", "message"),
    [
        pytest.param("{not json", "line 2: invalid JSON", id="bad-json"),
        pytest.param('["f"]', "line 2: expected a JSON object", id="not-object"),
        pytest.param('{"function": "f", "colour": 1}', "unknown keys", id="unknown"),
        pytest.param('{"args": 1}', "line 2: function must be", id="no-function"),
        pytest.param('{"function": "f", "run_after": "soon"}', "line 2", id="delay"),
    ],
)
async def test_enqueue_file_rejects_bad_line(cli_target, tmp_path, line, message):
    items = tmp_path / "items.jsonl"
    items.write_text(json.dumps({"function": "f"}) + "\n" + line + "\n")

    done = await asyncio.to_thread(
        _cli, cli_target, "enqueue", "jobs", "--file", str(items)
    )

    assert done.returncode == 2
    assert message in done.stderr
    assert done.stdout == ""


async def test_enqueue_file_missing(cli_target, tmp_path):
    missing = str(tmp_path / "absent.jsonl")
    done = await asyncio.to_thread(
        _cli, cli_target, "enqueue", "jobs", "--file", missing
    )
    assert done.returncode == 2
    assert f"cannot read {missing}" in done.stderr


async def test_enqueue_needs_function_or_file(cli_target, tmp_path):
    done = await asyncio.to_thread(_cli, cli_target, "enqueue", "jobs")
    assert done.returncode == 2
    assert "needs FUNCTION or --file" in done.stderr


async def test_status_text_table(cli_target):
    enqueued = await asyncio.to_thread(_cli, cli_target, "enqueue", "jobs", "f")
    work_id = json.loads(enqueued.stdout)["work_id"]

    text = await asyncio.to_thread(
        _cli, cli_target, "status", work_id, "--output", "text"
    )
    default = await asyncio.to_thread(_cli, cli_target, "status", work_id)

    assert text.returncode == 0, text.stderr
    header, row = text.stdout.splitlines()
    assert header.split() == [
        "WORK_ID", "STATE", "POOL", "FUNCTION", "ATTEMPTS", "RESULT", "ERROR",
    ]  # fmt: skip
    assert row.split() == [work_id, "pending", "jobs", "f", "0", "-", "-"]
    assert json.loads(default.stdout)["state"] == "pending"


async def test_status_attempts(cli_target):
    enqueued = await asyncio.to_thread(
        _cli, cli_target, "enqueue", "jobs", "bad", "--retry", "no"
    )
    work_id = json.loads(enqueued.stdout)["work_id"]
    worker = Worker(cli_target, pools=["jobs"], capacity=1, name="cli-worker")

    @worker.handler("bad")
    def bad(context, args):
        raise NonRetryableError("disk full")

    task = asyncio.create_task(worker.run_async())
    try:

        async def finished() -> bool:
            done = await asyncio.to_thread(_cli, cli_target, "status", work_id)
            return json.loads(done.stdout)["state"] == "finished"

        await eventually(finished, timeout=30, message=f"{work_id} to finish")
    finally:
        await worker.stop(timedelta(seconds=1))
        await asyncio.gather(task, return_exceptions=True)

    text = await asyncio.to_thread(
        _cli, cli_target, "status", work_id, "--attempts", "--output", "text"
    )
    default = await asyncio.to_thread(_cli, cli_target, "status", work_id, "--attempts")
    unknown = await asyncio.to_thread(
        _cli, cli_target, "status", "wk_01JD9V6GQ8M3T6Y4D3W0Y5B7ZC", "--attempts"
    )

    assert text.returncode == 0, text.stderr
    status_table, attempts_table = text.stdout.split("\n\n")
    header, row = attempts_table.splitlines()
    assert header.split() == [
        "WORK_ID", "ATTEMPT", "WORKER", "STARTED", "ENDED", "OUTCOME", "ERROR",
    ]  # fmt: skip
    assert row.split()[:3] == [work_id, "1", "cli-worker"]
    assert row.split()[6] == "failure"
    assert row.endswith("NonRetryableError: disk full")
    [attempt] = json.loads(default.stdout)["attempts"]
    assert attempt["attempt"] == 1
    assert attempt["worker_name"] == "cli-worker"
    assert attempt["outcome"] == "failure"
    assert attempt["error"] == "NonRetryableError: disk full"
    assert unknown.returncode == 1
    assert json.loads(unknown.stdout)["state"] == "not_found"


async def test_explain_text_table(cli_target):
    enqueued = await asyncio.to_thread(_cli, cli_target, "enqueue", "jobs", "f")
    work_id = json.loads(enqueued.stdout)["work_id"]

    text = await asyncio.to_thread(
        _cli, cli_target, "explain", work_id, "--output", "text"
    )

    assert text.returncode == 0, text.stderr
    fields = dict(line.split(None, 1) for line in text.stdout.splitlines())
    assert fields["FIELD"] == "VALUE"
    assert fields["work_id"] == work_id
    assert fields["reason"] == "no_worker"


async def test_pools_text_tables(cli_target):
    listed = await asyncio.to_thread(
        _cli, cli_target, "pools", "list", "--output", "text"
    )
    got = await asyncio.to_thread(
        _cli, cli_target, "pools", "get", "jobs", "--output", "text"
    )

    assert listed.returncode == 0, listed.stderr
    header, row = listed.stdout.splitlines()
    assert header.split() == [
        "NAME", "MAX_PARALLELISM", "RETRY_BY_DEFAULT", "STATUS_TTL"
    ]  # fmt: skip
    assert row.split() == ["jobs", "4", "no", "86400s"]
    header, row = got.stdout.splitlines()
    assert header.split()[-2:] == ["PENDING", "RUNNING"]
    assert row.split() == ["jobs", "4", "no", "86400s", "0", "0"]


async def test_watch_text_rows(cli_target):
    enqueued = await asyncio.to_thread(_cli, cli_target, "enqueue", "jobs", "f")
    work_id = json.loads(enqueued.stdout)["work_id"]
    await asyncio.to_thread(_cli, cli_target, "cancel", work_id)

    watched = await asyncio.to_thread(
        _cli, cli_target, "watch", "--after", "0", "--count", "1", "--output", "text"
    )

    assert watched.returncode == 0, watched.stderr
    header, row = watched.stdout.splitlines()
    assert header.split() == [
        "SEQUENCE", "WORK_ID", "POOL", "FUNCTION", "RESULT", "ATTEMPTS"
    ]  # fmt: skip
    assert row.split() == ["1", work_id, "jobs", "f", "canceled", "0"]


async def test_watch_ids_file_until_finished(cli_target, tmp_path):
    items = tmp_path / "items.jsonl"
    items.write_text(
        "\n".join(json.dumps({"function": name}) for name in ("ok", "ok", "bad"))
    )
    enqueued = await asyncio.to_thread(
        _cli, cli_target, "enqueue", "jobs", "--file", str(items)
    )
    work_ids = [line["work_id"] for line in _json_lines(enqueued.stdout)]
    ids_file = tmp_path / "ids.txt"
    ids_file.write_text("\n".join(work_ids) + "\n")
    stderr_path = tmp_path / "watch.err"

    watch = _start_watch(cli_target, ids_file, stderr_path)
    try:
        await eventually(
            lambda: "finished 0/3, failed 0" in stderr_path.read_text(),
            message="the first progress line",
        )
        worker = Worker(cli_target, pools=["jobs"], capacity=3)
        worker.register("ok", lambda context, args: "done")

        @worker.handler("bad")
        def bad(context, args):
            raise NonRetryableError("broken")

        task = asyncio.create_task(worker.run_async())
        try:
            await eventually(lambda: watch.poll() is not None, timeout=30)
        finally:
            await worker.stop(timedelta(seconds=1))
            await asyncio.gather(task, return_exceptions=True)
        stdout = watch.stdout.read()
    finally:
        if watch.poll() is None:
            watch.kill()
        watch.wait(timeout=10)

    assert watch.returncode == 0, stderr_path.read_text()
    progress = stderr_path.read_text().splitlines()
    assert progress[-1] == "finished 3/3, failed 1"
    printed = _json_lines(stdout)
    assert {line["work_id"] for line in printed} <= set(work_ids)


async def test_watch_ids_file_longer_than_one_batch(cli_target, tmp_path):
    """More ids than one StatusBatch or watch filter takes, all finished."""
    async with AsyncClient(cli_target) as client:
        await client.create_pool("many", max_parallelism=0)
        work_ids = []
        for _ in range(2):
            items = [WorkItem("f", {"n": n}) for n in range(1_000)]
            work_ids += await client.enqueue_batch("many", items)
        await client.cancel_all("many")
    ids_file = tmp_path / "ids.txt"
    ids_file.write_text("\n".join(work_ids) + "\n")

    done = await asyncio.to_thread(
        _cli, cli_target, "watch", "--work-ids-file", str(ids_file)
    )

    assert done.returncode == 0, done.stderr


async def test_watch_ids_file_unknown_id(cli_target, tmp_path):
    ids_file = tmp_path / "ids.txt"
    ids_file.write_text("wk_01JD9V6GQ8M3T6Y4D3W0Y5B7ZC\n")

    done = await asyncio.to_thread(
        _cli, cli_target, "watch", "--work-ids-file", str(ids_file)
    )

    assert done.returncode == 1
    assert "not found: wk_01JD9V6GQ8M3T6Y4D3W0Y5B7ZC" in done.stderr


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        pytest.param(["--progress"], "--progress needs --work-ids-file", id="progress"),
        pytest.param(
            ["--work-ids-file", "ids.txt", "--after", "0"],
            "cannot be combined",
            id="after",
        ),
    ],
)
async def test_watch_rejects_option_mix(cli_target, arguments, message):
    done = await asyncio.to_thread(_cli, cli_target, "watch", *arguments)
    assert done.returncode == 2
    assert message in done.stderr
