"""WorkpoolService: enqueue, status, cancel and completions."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator

import grpc

from workpool.v1 import types_pb2, workpool_service_pb2, workpool_service_pb2_grpc
from workpool_server.api import convert
from workpool_server.api.admission import StreamSlots, WriteBacklog
from workpool_server.api.decoding import check_decoded
from workpool_server.api.errors import abort, mapped
from workpool_server.engine.engine import Engine
from workpool_server.engine.model import CancelOutcome
from workpool_server.errors import NotFoundError, WorkpoolError, invalid
from workpool_server.tracing import Tracing

_CANCEL_OUTCOMES = {
    outcome: workpool_service_pb2.CancelOutcome.Value(f"CANCEL_OUTCOME_{outcome.name}")
    for outcome in CancelOutcome
}
MAX_WATCH_FILTER = 1_000


def work_not_found(work_id: str) -> NotFoundError:
    return NotFoundError(
        f"work item {work_id!r} not found: it was never issued, or it finished "
        "longer ago than its pool's status_ttl (24 hours unless the pool sets "
        "another) and its status was deleted"
    )


def _metadata(context, tracing: Tracing):
    # Reading the metadata costs a copy per call, so only while tracing.
    return context.invocation_metadata() if tracing.enabled else None


class WorkpoolServicer(workpool_service_pb2_grpc.WorkpoolServiceServicer):
    def __init__(
        self,
        engine: Engine,
        limits: convert.Limits,
        watch_slots: StreamSlots | None = None,
        write_backlog: WriteBacklog | None = None,
    ) -> None:
        self._engine = engine
        self._limits = limits
        self._watch_slots = watch_slots or StreamSlots("max_watch_streams", 1_000)
        self._write_backlog = write_backlog

    @mapped
    async def Enqueue(self, request, context):  # noqa: N802
        pool = convert.check_pool_name(request.pool, "pool")
        if not request.HasField("work"):
            raise invalid("work", "is required: set work.function and work.args")
        item = convert.new_work(
            request.work, "work", self._limits, self._engine.clock.now_us()
        )
        self._check_write_backlog()
        tracing = self._engine.tracing
        with tracing.enqueue_span(_metadata(context, tracing), pool, 1) as trace:
            if trace is not None:
                item = dataclasses.replace(item, trace_context=trace)
            results, head = await self._engine.enqueue(pool, [item])
        work_id, deduplicated = results[0]
        return workpool_service_pb2.EnqueueResponse(
            work_id=work_id, deduplicated=deduplicated, completion_sequence=head
        )

    @mapped
    async def EnqueueBatch(self, request, context):  # noqa: N802
        pool = convert.check_pool_name(request.pool, "pool")
        convert.check_batch_size(len(request.work), "work", self._limits)
        now_us = self._engine.clock.now_us()
        items = [
            convert.new_work(spec, f"work[{index}]", self._limits, now_us)
            for index, spec in enumerate(request.work)
        ]
        self._check_write_backlog()
        tracing = self._engine.tracing
        metadata = _metadata(context, tracing)
        with tracing.enqueue_span(metadata, pool, len(items)) as trace:
            if trace is not None:
                items = [dataclasses.replace(i, trace_context=trace) for i in items]
            results, head = await self._engine.enqueue(pool, items)
        return workpool_service_pb2.EnqueueBatchResponse(
            work_ids=[work_id for work_id, _ in results], completion_sequence=head
        )

    def _check_write_backlog(self) -> None:
        if self._write_backlog is not None:
            self._write_backlog.check()

    @mapped
    async def Status(self, request, context):  # noqa: N802
        work_id = convert.check_work_id(request.work_id, "work_id")
        if request.include_attempts:
            return await self._status_with_attempts(work_id)

        views = await self._engine.statuses([work_id])
        if work_id not in views:
            raise work_not_found(work_id)
        return workpool_service_pb2.StatusResponse(
            status=convert.status_message(views[work_id])
        )

    async def _status_with_attempts(
        self, work_id: str
    ) -> workpool_service_pb2.StatusResponse:
        found = await self._engine.status_with_attempts(work_id)
        if found is None:
            raise work_not_found(work_id)
        view, attempts = found
        status = convert.status_message(view)
        status.attempts.extend(convert.attempt_message(a) for a in attempts)
        return workpool_service_pb2.StatusResponse(status=status)

    @mapped
    async def StatusBatch(self, request, context):  # noqa: N802
        convert.check_batch_size(len(request.work_ids), "work_ids", self._limits)
        for index, work_id in enumerate(request.work_ids):
            convert.check_work_id(work_id, f"work_ids[{index}]")
        views = await self._engine.statuses(list(set(request.work_ids)))
        statuses = []
        for work_id in request.work_ids:
            view = views.get(work_id)
            if view is None:
                statuses.append(
                    types_pb2.WorkStatus(
                        work_id=work_id, state=types_pb2.WORK_STATE_NOT_FOUND
                    )
                )
            else:
                statuses.append(convert.status_message(view))
        return workpool_service_pb2.StatusBatchResponse(statuses=statuses)

    @mapped
    async def Explain(self, request, context):  # noqa: N802
        work_id = convert.check_work_id(request.work_id, "work_id")
        explanation = await self._engine.explain(work_id)
        if explanation is None:
            raise work_not_found(work_id)
        return convert.explain_message(explanation)

    @mapped
    async def Cancel(self, request, context):  # noqa: N802
        work_id = convert.check_work_id(request.work_id, "work_id")
        self._check_write_backlog()
        outcome = await self._engine.cancel(work_id)
        return workpool_service_pb2.CancelResponse(outcome=_CANCEL_OUTCOMES[outcome])

    @mapped
    async def CancelAll(self, request, context):  # noqa: N802
        pool = convert.check_pool_name(request.pool, "pool")
        self._check_write_backlog()
        canceled, requested = await self._engine.cancel_all(pool)
        return workpool_service_pb2.CancelAllResponse(
            canceled_count=canceled, cancel_requested_count=requested
        )

    async def WatchCompletions(  # noqa: N802
        self, request, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[workpool_service_pb2.WatchCompletionsResponse]:
        try:
            check_decoded(request)
            if request.HasField("after_sequence") and request.after_sequence < 0:
                raise invalid(
                    "after_sequence",
                    f"must be 0 or more, got {request.after_sequence}",
                )
            pools = [
                convert.check_pool_name(name, f"pools[{index}]")
                for index, name in enumerate(request.pools)
            ]
            for index, work_id in enumerate(request.work_ids):
                convert.check_work_id(work_id, f"work_ids[{index}]")
            if len(request.work_ids) > MAX_WATCH_FILTER:
                raise invalid(
                    "work_ids",
                    f"has {len(request.work_ids)} ids, over the limit of "
                    f"{MAX_WATCH_FILTER}: filter by pool instead",
                )
            after = (
                request.after_sequence if request.HasField("after_sequence") else None
            )

            with self._watch_slots.hold():
                async for head, records in self._engine.watch(
                    pools, list(request.work_ids), after
                ):
                    response = workpool_service_pb2.WatchCompletionsResponse(
                        completions=[convert.completion_message(r) for r in records],
                        head_sequence=head,
                        sent_at=convert.to_timestamp(self._engine.clock.now_us()),
                    )
                    yield response
        except WorkpoolError as error:
            await abort(context, error)
