"""PoolService: create, read, change and delete pools."""

from __future__ import annotations

import dataclasses

from workpool.v1 import pool_service_pb2, pool_service_pb2_grpc
from workpool_server.api import convert
from workpool_server.api.errors import mapped
from workpool_server.engine.engine import Engine
from workpool_server.engine.model import PoolSettings
from workpool_server.errors import invalid

MAX_PAGE_SIZE = 1_000
DEFAULT_PAGE_SIZE = 100
_UPDATABLE = {
    "max_parallelism",
    "retry_by_default",
    "default_retry",
    "status_ttl",
    "keep_status_forever",
    # Scheduling settings. A path named with its field unset clears the
    # setting (max_per_key 0, default aging, no rate limit, timeout, breaker
    # or parent).
    "max_per_key",
    "priority_aging",
    "rate_limit",
    "default_attempt_timeout",
    "circuit_breaker",
    "parent",
}
# Update-mask paths of the scheduling settings and the PoolSettings field each
# sets.
_SCHEDULING_PATHS = {
    "max_per_key": "max_per_key",
    "priority_aging": "priority_aging_us",
    "rate_limit": "rate_limit",
    "default_attempt_timeout": "default_attempt_timeout_us",
    "circuit_breaker": "circuit_breaker",
    "parent": "parent",
}


class PoolServicer(pool_service_pb2_grpc.PoolServiceServicer):
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    @mapped
    async def CreatePool(self, request, context):  # noqa: N802
        settings = convert.pool_settings(request.pool, "pool")
        await self._engine.create_pool(settings)
        return pool_service_pb2.CreatePoolResponse(pool=convert.pool_message(settings))

    @mapped
    async def GetPool(self, request, context):  # noqa: N802
        name = convert.check_pool_name(request.name, "name")
        settings, (pending, running) = await self._engine.get_pool(name)
        scheduling = await self._engine.scheduling_stats(name)
        return pool_service_pb2.GetPoolResponse(
            pool=convert.pool_message(settings),
            stats=convert.pool_stats_message(pending, running, scheduling),
        )

    @mapped
    async def ListPools(self, request, context):  # noqa: N802
        size = request.page_size or DEFAULT_PAGE_SIZE
        if not 1 <= size <= MAX_PAGE_SIZE:
            raise invalid(
                "page_size", f"must be between 0 and {MAX_PAGE_SIZE}, got {size}"
            )
        if request.page_token:
            convert.check_pool_name(request.page_token, "page_token")
        pools = await self._engine.list_pools(request.page_token, size + 1)
        next_token = pools[size - 1].name if len(pools) > size else ""
        return pool_service_pb2.ListPoolsResponse(
            pools=[convert.pool_message(pool) for pool in pools[:size]],
            next_page_token=next_token,
        )

    @mapped
    async def UpdatePool(self, request, context):  # noqa: N802
        name = convert.check_pool_name(request.pool.name, "pool.name")
        paths = list(request.update_mask.paths)
        for index, path in enumerate(paths):
            if path not in _UPDATABLE:
                raise invalid(
                    f"update_mask.paths[{index}]",
                    # The path is cut, so that a long one cannot push the
                    # error's trailers past the client's metadata limit.
                    f"unknown or read-only field {path[:64]!r}: use one of "
                    f"{', '.join(sorted(_UPDATABLE))}",
                )
        if "max_parallelism" in paths and not request.pool.HasField("max_parallelism"):
            raise invalid(
                "pool.max_parallelism",
                "is named in update_mask but not set: set it, 0 to pause the pool",
            )
        # Validate the request before touching the stored pool.
        requested = convert.pool_settings(request.pool, "pool", PoolSettings(name=name))

        def change(current: PoolSettings) -> PoolSettings:
            if not paths:
                return convert.pool_settings(request.pool, "pool", current)
            changes = {}
            for path in paths:
                if path in ("status_ttl", "keep_status_forever"):
                    changes["status_ttl_us"] = requested.status_ttl_us
                elif path in _SCHEDULING_PATHS:
                    attribute = _SCHEDULING_PATHS[path]
                    changes[attribute] = getattr(requested, attribute)
                else:
                    changes[path] = getattr(requested, path)
            return dataclasses.replace(current, **changes)

        updated = await self._engine.update_pool(name, change)
        return pool_service_pb2.UpdatePoolResponse(pool=convert.pool_message(updated))

    @mapped
    async def DeletePool(self, request, context):  # noqa: N802
        name = convert.check_pool_name(request.name, "name")
        await self._engine.delete_pool(name)
        return pool_service_pb2.DeletePoolResponse()
