"""A TCP proxy on 127.0.0.1 that can stall, drop and reset its connections.

Tests put it between a client or worker and the server to break the network
path without touching either end:

- `stall()` stops forwarding in both directions and leaves the sockets open,
  as a dead route or a frozen peer would. Bytes already in flight stay in
  kernel buffers. `resume()` forwards again.
- `drop()` closes every open connection cleanly (FIN on both sides).
- `reset()` closes every open connection with SO_LINGER 0, so both sides get
  a TCP RST, as after a peer's crash or a middlebox timeout.

New connections are accepted in every mode; while stalled they carry nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import socket
import struct

CHUNK_BYTES = 64 * 1024


@dataclasses.dataclass(eq=False)
class _Connection:
    client: asyncio.StreamWriter
    upstream: asyncio.StreamWriter
    pumps: list[asyncio.Task] = dataclasses.field(default_factory=list)

    def writers(self) -> tuple[asyncio.StreamWriter, asyncio.StreamWriter]:
        return self.client, self.upstream


class FaultProxy:
    """Forward 127.0.0.1:`port` to `upstream_port`, with faults on request."""

    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self.port = 0
        self.accepted = 0
        self._server: asyncio.Server | None = None
        self._connections: set[_Connection] = set()
        self._flowing = asyncio.Event()
        self._flowing.set()

    @property
    def target(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def open_connections(self) -> int:
        return len(self._connections)

    async def start(self) -> FaultProxy:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def close(self) -> None:
        await self.drop()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    def stall(self) -> None:
        self._flowing.clear()

    def resume(self) -> None:
        self._flowing.set()

    async def drop(self) -> None:
        await self._close_all(reset=False)

    async def reset(self) -> None:
        await self._close_all(reset=True)

    async def _accept(
        self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter
    ) -> None:
        self.accepted += 1
        try:
            upstream_reader, upstream_writer = await asyncio.open_connection(
                "127.0.0.1", self.upstream_port
            )
        except OSError:
            _close(client_writer, reset=True)
            return
        connection = _Connection(client_writer, upstream_writer)
        connection.pumps = [
            asyncio.create_task(self._pump(client_reader, upstream_writer)),
            asyncio.create_task(self._pump(upstream_reader, client_writer)),
        ]
        self._connections.add(connection)
        try:
            # When one direction ends, the connection ends: gRPC never
            # half-closes a TCP connection.
            await asyncio.wait(connection.pumps, return_when=asyncio.FIRST_COMPLETED)
        finally:
            self._connections.discard(connection)
            for pump in connection.pumps:
                pump.cancel()
            for writer in connection.writers():
                _close(writer, reset=False)

    async def _pump(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        with contextlib.suppress(ConnectionError, OSError):
            while True:
                # Wait before reading, so that a stall leaves the bytes in the
                # kernel's buffers and TCP flow control pushes back on the sender.
                await self._flowing.wait()
                data = await reader.read(CHUNK_BYTES)
                if not data:
                    return
                await self._flowing.wait()
                writer.write(data)
                await writer.drain()

    async def _close_all(self, reset: bool) -> None:
        connections = list(self._connections)
        self._connections.clear()
        for connection in connections:
            for pump in connection.pumps:
                pump.cancel()
            for writer in connection.writers():
                _close(writer, reset=reset)
        for connection in connections:
            await asyncio.gather(*connection.pumps, return_exceptions=True)


def _close(writer: asyncio.StreamWriter, reset: bool) -> None:
    """Close the socket with a FIN, or with `reset` at once with an RST."""
    if not reset:
        writer.close()
        return
    sock = writer.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(
                socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)
            )
    writer.transport.abort()
