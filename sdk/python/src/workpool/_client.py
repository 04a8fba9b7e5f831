"""Synchronous client of the WorkpoolService and PoolService."""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime, timedelta
from types import TracebackType
from typing import Any

import grpc

from workpool._backoff import Backoff
from workpool._channel import (
    DEFAULT_RPC_TIMEOUT,
    ChannelOptions,
    sync_channel,
    timeout_seconds,
)
from workpool._errors import AlreadyExistsError, NotFoundError, from_rpc_error
from workpool._models import (
    UNSET,
    CancelAllResult,
    CancelOutcome,
    CircuitBreaker,
    Completion,
    Explanation,
    OnComplete,
    Pool,
    RateLimit,
    RetryOption,
    RetryPolicy,
    Unset,
    WorkItem,
    WorkStatus,
)
from workpool._proto import (
    cancel_all_from_proto,
    cancel_outcome_from_proto,
    enqueue_batch_request,
    enqueue_request,
    explanation_from_proto,
    given_settings,
    passed_settings,
    pool_from_proto,
    pool_settings_differ,
    pool_settings_to_proto,
    status_from_proto,
    update_pool_request,
)
from workpool._tracing import trace_metadata
from workpool._watch import RESUMABLE_CODES, WatchCursor, log_watch_interrupted
from workpool.v1 import (
    pool_service_pb2,
    pool_service_pb2_grpc,
    workpool_service_pb2,
    workpool_service_pb2_grpc,
)


class Client:
    """Blocking client: enqueue work, read its status, cancel it, manage pools.

    Each client uses one channel, and threads may share the client. Pass a target
    such as ``"127.0.0.1:50051"`` to let the client open and close its own
    channel, or an existing ``grpc.Channel`` that the caller keeps and closes.
    ``timeout`` is the deadline of every unary call, None for no deadline.
    ``credentials`` turns on TLS (see ``tls_credentials``), and ``token`` sends
    ``authorization: Bearer TOKEN`` with every call; both apply only to a
    channel the client opens.
    """

    def __init__(
        self,
        target: str | grpc.Channel,
        *,
        credentials: grpc.ChannelCredentials | None = None,
        token: str | None = None,
        options: ChannelOptions | None = None,
        timeout: timedelta | float | None = DEFAULT_RPC_TIMEOUT,
    ) -> None:
        if isinstance(target, grpc.Channel):
            self._channel = target
            self._owns_channel = False
        else:
            self._channel = sync_channel(
                target, credentials=credentials, options=options, token=token
            )
            self._owns_channel = True

        self._timeout = timeout_seconds(timeout)
        self._workpool = workpool_service_pb2_grpc.WorkpoolServiceStub(self._channel)
        self._pools = pool_service_pb2_grpc.PoolServiceStub(self._channel)

    def __enter__(self) -> Client:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Close the channel if the client opened it."""
        if self._owns_channel:
            self._channel.close()

    # Work items.

    def enqueue(
        self,
        pool: str,
        function: str,
        args: Any = None,
        *,
        retry: RetryOption = None,
        on_complete: OnComplete | None = None,
        run_at: datetime | None = None,
        run_after: timedelta | None = None,
        idempotency_key: str | None = None,
        concurrency_key: str | None = None,
        priority: int = 0,
        attempt_timeout: timedelta | None = None,
    ) -> str:
        """Enqueue one call of ``function`` in ``pool`` and return its work id.

        ``retry`` is None for the pool's default, True for the pool's retry
        policy, False for a single attempt, or a RetryPolicy. A repeated
        ``idempotency_key`` returns the id of the first item. Items with the
        same ``concurrency_key`` run at most the pool's ``max_per_key`` at
        once; a higher ``priority`` starts first; ``attempt_timeout`` ends an
        attempt that runs longer as a failure.

        Raises:
            NotFoundError: the pool does not exist.
            InvalidArgumentError: the server rejected a field.
        """
        item = WorkItem(
            function=function,
            args=args,
            retry=retry,
            on_complete=on_complete,
            run_at=run_at,
            run_after=run_after,
            idempotency_key=idempotency_key,
            concurrency_key=concurrency_key,
            priority=priority,
            attempt_timeout=attempt_timeout,
        )
        response = self._unary(
            self._workpool.Enqueue, enqueue_request(pool, item), trace_metadata()
        )
        return response.work_id

    def enqueue_batch(self, pool: str, items: Iterable[WorkItem]) -> list[str]:
        """Enqueue several items in one pool, all or none; return ids in order."""
        request = enqueue_batch_request(pool, items)
        response = self._unary(self._workpool.EnqueueBatch, request, trace_metadata())
        return list(response.work_ids)

    def status(self, work_id: str, *, include_attempts: bool = False) -> WorkStatus:
        """Return the status of a work item, with its attempt history in
        ``attempts`` when ``include_attempts`` is true.

        Raises:
            NotFoundError: the id was never issued or its status expired.
        """
        request = workpool_service_pb2.StatusRequest(
            work_id=work_id, include_attempts=include_attempts
        )
        response = self._unary(self._workpool.Status, request)
        return status_from_proto(response.status)

    def explain(self, work_id: str) -> Explanation:
        """Return why a work item is not running now.

        Raises:
            NotFoundError: the id was never issued or its status expired.
        """
        request = workpool_service_pb2.ExplainRequest(work_id=work_id)
        response = self._unary(self._workpool.Explain, request)
        return explanation_from_proto(response)

    def status_batch(self, work_ids: Sequence[str]) -> list[WorkStatus]:
        """Return the status of several items in order; unknown ids get NOT_FOUND."""
        request = workpool_service_pb2.StatusBatchRequest(work_ids=list(work_ids))
        response = self._unary(self._workpool.StatusBatch, request)
        return [status_from_proto(status) for status in response.statuses]

    def cancel(self, work_id: str) -> CancelOutcome:
        """Cancel a work item and return what the cancel did."""
        request = workpool_service_pb2.CancelRequest(work_id=work_id)
        response = self._unary(self._workpool.Cancel, request)
        return cancel_outcome_from_proto(response.outcome)

    def cancel_all(self, pool: str) -> CancelAllResult:
        """Cancel every item of ``pool`` enqueued before this call."""
        request = workpool_service_pb2.CancelAllRequest(pool=pool)
        response = self._unary(self._workpool.CancelAll, request)
        return cancel_all_from_proto(response)

    def watch_completions(
        self,
        pools: Sequence[str] = (),
        work_ids: Sequence[str] = (),
        after_sequence: int | None = None,
    ) -> Iterator[Completion]:
        """Iterate over completions, following the log live without end.

        Empty ``pools`` and ``work_ids`` mean every pool and every item. With
        ``after_sequence`` the log is replayed from the next entry on; without
        it the watch starts at the current end of the log. When the server
        restarts or the connection breaks, the iterator reconnects with
        backoff and resumes after the last completion it yielded, so none is
        lost or repeated. Close the iterator (or leave the loop) to stop.

        Raises:
            OutOfRangeError: retention already removed entries after
                ``after_sequence``.
        """
        cursor = WatchCursor(pools, work_ids, after_sequence)
        return self._watch(cursor)

    def _watch(self, cursor: WatchCursor) -> Iterator[Completion]:
        backoff = Backoff()
        while True:
            call = self._workpool.WatchCompletions(cursor.request())
            connected = False
            try:
                for response in call:
                    connected = True
                    backoff.reset()
                    yield from cursor.accept(response)
                log_watch_interrupted(cursor, None, connected=connected)
            except grpc.RpcError as error:
                if error.code() not in RESUMABLE_CODES:
                    raise from_rpc_error(error) from error
                log_watch_interrupted(cursor, error, connected=connected)
            finally:
                call.cancel()

            time.sleep(backoff.next_delay())

    # Pools.

    def create_pool(
        self,
        name: str,
        *,
        max_parallelism: int | None = None,
        retry_by_default: bool | None = None,
        default_retry: RetryPolicy | None = None,
        status_ttl: timedelta | None = None,
        keep_status_forever: bool | None = None,
        max_per_key: int | None = None,
        priority_aging: timedelta | None = None,
        rate_limit: RateLimit | None = None,
        default_attempt_timeout: timedelta | None = None,
        circuit_breaker: CircuitBreaker | None = None,
        parent: str | None = None,
    ) -> Pool:
        """Create a pool; settings left as None take the server's defaults.

        Raises:
            AlreadyExistsError: a pool of that name exists.
        """
        settings = given_settings(
            max_parallelism=max_parallelism,
            retry_by_default=retry_by_default,
            default_retry=default_retry,
            status_ttl=status_ttl,
            keep_status_forever=keep_status_forever,
            max_per_key=max_per_key,
            priority_aging=priority_aging,
            rate_limit=rate_limit,
            default_attempt_timeout=default_attempt_timeout,
            circuit_breaker=circuit_breaker,
            parent=parent,
        )
        pool, _ = pool_settings_to_proto(name, settings)
        request = pool_service_pb2.CreatePoolRequest(pool=pool)
        return pool_from_proto(self._unary(self._pools.CreatePool, request).pool)

    def get_pool(self, name: str) -> Pool:
        """Return a pool with its counts of pending and running items.

        Raises:
            NotFoundError: no pool has that name.
        """
        request = pool_service_pb2.GetPoolRequest(name=name)
        response = self._unary(self._pools.GetPool, request)
        return pool_from_proto(response.pool, response.stats)

    def list_pools(self, *, page_size: int = 0) -> list[Pool]:
        """Return every pool in name order, reading all pages."""
        pools: list[Pool] = []
        page_token = ""
        while True:
            request = pool_service_pb2.ListPoolsRequest(
                page_size=page_size, page_token=page_token
            )
            response = self._unary(self._pools.ListPools, request)
            pools.extend(pool_from_proto(pool) for pool in response.pools)

            page_token = response.next_page_token
            if not page_token:
                return pools

    def update_pool(
        self,
        name: str,
        *,
        max_parallelism: int | Unset = UNSET,
        retry_by_default: bool | Unset = UNSET,
        default_retry: RetryPolicy | None | Unset = UNSET,
        status_ttl: timedelta | None | Unset = UNSET,
        keep_status_forever: bool | Unset = UNSET,
        max_per_key: int | Unset = UNSET,
        priority_aging: timedelta | None | Unset = UNSET,
        rate_limit: RateLimit | None | Unset = UNSET,
        default_attempt_timeout: timedelta | None | Unset = UNSET,
        circuit_breaker: CircuitBreaker | None | Unset = UNSET,
        parent: str | None | Unset = UNSET,
    ) -> Pool:
        """Change the given settings of a pool and leave the others alone.

        The update mask lists exactly the settings passed. None for
        ``default_retry``, ``status_ttl`` or a scheduling setting restores the
        server's default: no rate limit, attempt timeout, breaker or parent,
        and an aging of 1 second.

        Raises:
            NotFoundError: no pool has that name.
        """
        settings = passed_settings(
            max_parallelism=max_parallelism,
            retry_by_default=retry_by_default,
            default_retry=default_retry,
            status_ttl=status_ttl,
            keep_status_forever=keep_status_forever,
            max_per_key=max_per_key,
            priority_aging=priority_aging,
            rate_limit=rate_limit,
            default_attempt_timeout=default_attempt_timeout,
            circuit_breaker=circuit_breaker,
            parent=parent,
        )
        request = update_pool_request(name, settings)
        return pool_from_proto(self._unary(self._pools.UpdatePool, request).pool)

    def delete_pool(self, name: str) -> None:
        """Delete a pool.

        Raises:
            NotFoundError: no pool has that name.
            FailedPreconditionError: the pool has pending or running items.
        """
        request = pool_service_pb2.DeletePoolRequest(name=name)
        self._unary(self._pools.DeletePool, request)

    def ensure_pool(
        self,
        name: str,
        *,
        max_parallelism: int | None = None,
        retry_by_default: bool | None = None,
        default_retry: RetryPolicy | None = None,
        status_ttl: timedelta | None = None,
        keep_status_forever: bool | None = None,
        max_per_key: int | None = None,
        priority_aging: timedelta | None = None,
        rate_limit: RateLimit | None = None,
        default_attempt_timeout: timedelta | None = None,
        circuit_breaker: CircuitBreaker | None = None,
        parent: str | None = None,
    ) -> Pool:
        """Create the pool if it is missing, or update the settings that differ.

        Settings left as None are not compared, so an existing pool keeps its
        value and a new one gets the server's default.
        """
        settings = given_settings(
            max_parallelism=max_parallelism,
            retry_by_default=retry_by_default,
            default_retry=default_retry,
            status_ttl=status_ttl,
            keep_status_forever=keep_status_forever,
            max_per_key=max_per_key,
            priority_aging=priority_aging,
            rate_limit=rate_limit,
            default_attempt_timeout=default_attempt_timeout,
            circuit_breaker=circuit_breaker,
            parent=parent,
        )
        pool_settings_to_proto(name, settings)

        try:
            current = self.get_pool(name)
        except NotFoundError:
            try:
                return self.create_pool(name, **settings)
            except AlreadyExistsError:
                # Another process created it between the two calls.
                current = self.get_pool(name)

        changed = pool_settings_differ(current, settings)
        if not changed:
            return current
        return self.update_pool(name, **changed)

    def _unary(self, method: Any, request: Any, metadata: Any = None) -> Any:
        try:
            return method(request, timeout=self._timeout, metadata=metadata)
        except grpc.RpcError as error:
            raise from_rpc_error(error) from error
