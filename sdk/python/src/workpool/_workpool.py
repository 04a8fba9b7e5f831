"""``Workpool``: one pool declared in code, with its settings applied on first use."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from workpool._async_client import AsyncClient
from workpool._client import Client
from workpool._models import (
    CancelAllResult,
    CancelOutcome,
    OnComplete,
    Pool,
    RetryOption,
    RetryPolicy,
    WorkItem,
    WorkStatus,
)
from workpool._proto import given_settings, pool_settings_to_proto


class _PoolOptions:
    """Pool settings of a Workpool, validated when the Workpool is created."""

    def __init__(
        self,
        pool: str,
        *,
        max_parallelism: int | None,
        retry_actions_by_default: bool | None,
        default_retry_behavior: RetryPolicy | None,
        status_ttl: timedelta | None,
    ) -> None:
        self.pool = pool
        self.settings = given_settings(
            max_parallelism=max_parallelism,
            retry_by_default=retry_actions_by_default,
            default_retry=default_retry_behavior,
            status_ttl=status_ttl,
        )
        pool_settings_to_proto(pool, self.settings)


def _action_item(
    function: str,
    args: Any,
    *,
    retry: RetryOption,
    on_complete: str | None,
    context: Any,
    run_at: datetime | None,
    run_after: timedelta | None,
    idempotency_key: str | None = None,
) -> WorkItem:
    if on_complete is None and context is not None:
        raise ValueError(
            "context is set but on_complete is not; context is passed to the "
            "on_complete function, so name that function too"
        )

    follow_up = OnComplete(on_complete, context) if on_complete is not None else None
    return WorkItem(
        function=function,
        args=args,
        retry=retry,
        on_complete=follow_up,
        run_at=run_at,
        run_after=run_after,
        idempotency_key=idempotency_key,
    )


class Workpool:
    """One pool, declared in code, over a blocking ``Client``.

    The options are applied to the pool on first use: the pool is created if
    it is missing, and settings that differ are updated. Options left as None
    keep the pool's current value (the server's default for a new pool).
    ``retry_actions_by_default`` makes items that pass no ``retry`` use
    ``default_retry_behavior``.
    """

    def __init__(
        self,
        client: Client,
        *,
        pool: str,
        max_parallelism: int | None = None,
        retry_actions_by_default: bool | None = None,
        default_retry_behavior: RetryPolicy | None = None,
        status_ttl: timedelta | None = None,
    ) -> None:
        self._client = client
        self._options = _PoolOptions(
            pool,
            max_parallelism=max_parallelism,
            retry_actions_by_default=retry_actions_by_default,
            default_retry_behavior=default_retry_behavior,
            status_ttl=status_ttl,
        )
        self._ensured = False
        self._lock = threading.Lock()

    @property
    def pool(self) -> str:
        return self._options.pool

    def ensure_pool(self) -> Pool:
        """Apply the options to the pool now and return it."""
        with self._lock:
            pool = self._client.ensure_pool(self.pool, **self._options.settings)
            self._ensured = True
            return pool

    def enqueue_action(
        self,
        function: str,
        args: Any = None,
        *,
        retry: RetryOption = None,
        on_complete: str | None = None,
        context: Any = None,
        run_at: datetime | None = None,
        run_after: timedelta | None = None,
        idempotency_key: str | None = None,
    ) -> str:
        """Enqueue one call of ``function`` and return its work id.

        ``on_complete`` names a follow-up function that receives ``context``
        and the result once the item finishes; register it with
        ``Worker.on_complete``.
        """
        item = _action_item(
            function,
            args,
            retry=retry,
            on_complete=on_complete,
            context=context,
            run_at=run_at,
            run_after=run_after,
            idempotency_key=idempotency_key,
        )
        self._ensure_once()
        return self._client.enqueue(
            self.pool,
            item.function,
            item.args,
            retry=item.retry,
            on_complete=item.on_complete,
            run_at=item.run_at,
            run_after=item.run_after,
            idempotency_key=item.idempotency_key,
        )

    def enqueue_action_batch(
        self,
        function: str,
        args_list: Iterable[Any],
        *,
        retry: RetryOption = None,
        on_complete: str | None = None,
        context: Any = None,
        run_at: datetime | None = None,
        run_after: timedelta | None = None,
    ) -> list[str]:
        """Enqueue one call of ``function`` per args, all or none; return the ids."""
        items = [
            _action_item(
                function,
                args,
                retry=retry,
                on_complete=on_complete,
                context=context,
                run_at=run_at,
                run_after=run_after,
            )
            for args in args_list
        ]
        self._ensure_once()
        return self._client.enqueue_batch(self.pool, items)

    def status(self, work_id: str, *, include_attempts: bool = False) -> WorkStatus:
        """Return the status of a work item, with its attempt history when
        ``include_attempts`` is true."""
        return self._client.status(work_id, include_attempts=include_attempts)

    def cancel(self, work_id: str) -> CancelOutcome:
        """Cancel a work item and return what the cancel did."""
        return self._client.cancel(work_id)

    def cancel_all(self) -> CancelAllResult:
        """Cancel every item of this pool enqueued before the call."""
        self._ensure_once()
        return self._client.cancel_all(self.pool)

    def _ensure_once(self) -> None:
        if self._ensured:
            return
        with self._lock:
            if self._ensured:
                return
            self._client.ensure_pool(self.pool, **self._options.settings)
            self._ensured = True


class AsyncWorkpool:
    """One pool, declared in code, over an ``AsyncClient``.

    It behaves like ``Workpool`` with coroutine methods.
    """

    def __init__(
        self,
        client: AsyncClient,
        *,
        pool: str,
        max_parallelism: int | None = None,
        retry_actions_by_default: bool | None = None,
        default_retry_behavior: RetryPolicy | None = None,
        status_ttl: timedelta | None = None,
    ) -> None:
        self._client = client
        self._options = _PoolOptions(
            pool,
            max_parallelism=max_parallelism,
            retry_actions_by_default=retry_actions_by_default,
            default_retry_behavior=default_retry_behavior,
            status_ttl=status_ttl,
        )
        self._ensured = False
        # Created on first use, so the Workpool may be built outside a loop.
        self._lock: asyncio.Lock | None = None

    @property
    def pool(self) -> str:
        return self._options.pool

    async def ensure_pool(self) -> Pool:
        """Apply the options to the pool now and return it."""
        pool = await self._client.ensure_pool(self.pool, **self._options.settings)
        self._ensured = True
        return pool

    async def enqueue_action(
        self,
        function: str,
        args: Any = None,
        *,
        retry: RetryOption = None,
        on_complete: str | None = None,
        context: Any = None,
        run_at: datetime | None = None,
        run_after: timedelta | None = None,
        idempotency_key: str | None = None,
    ) -> str:
        """Enqueue one call of ``function`` and return its work id.

        ``on_complete`` names a follow-up function that receives ``context``
        and the result once the item finishes; register it with
        ``Worker.on_complete``.
        """
        item = _action_item(
            function,
            args,
            retry=retry,
            on_complete=on_complete,
            context=context,
            run_at=run_at,
            run_after=run_after,
            idempotency_key=idempotency_key,
        )
        await self._ensure_once()
        return await self._client.enqueue(
            self.pool,
            item.function,
            item.args,
            retry=item.retry,
            on_complete=item.on_complete,
            run_at=item.run_at,
            run_after=item.run_after,
            idempotency_key=item.idempotency_key,
        )

    async def enqueue_action_batch(
        self,
        function: str,
        args_list: Iterable[Any],
        *,
        retry: RetryOption = None,
        on_complete: str | None = None,
        context: Any = None,
        run_at: datetime | None = None,
        run_after: timedelta | None = None,
    ) -> list[str]:
        """Enqueue one call of ``function`` per args, all or none; return the ids."""
        items = [
            _action_item(
                function,
                args,
                retry=retry,
                on_complete=on_complete,
                context=context,
                run_at=run_at,
                run_after=run_after,
            )
            for args in args_list
        ]
        await self._ensure_once()
        return await self._client.enqueue_batch(self.pool, items)

    async def status(
        self, work_id: str, *, include_attempts: bool = False
    ) -> WorkStatus:
        """Return the status of a work item, with its attempt history when
        ``include_attempts`` is true."""
        return await self._client.status(work_id, include_attempts=include_attempts)

    async def cancel(self, work_id: str) -> CancelOutcome:
        """Cancel a work item and return what the cancel did."""
        return await self._client.cancel(work_id)

    async def cancel_all(self) -> CancelAllResult:
        """Cancel every item of this pool enqueued before the call."""
        await self._ensure_once()
        return await self._client.cancel_all(self.pool)

    async def _ensure_once(self) -> None:
        if self._ensured:
            return
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            if not self._ensured:
                await self.ensure_pool()
