"""A bare grpc.aio server that replies with canned Workpool messages.

It is the benchmark's gRPC floor: the same messages and the same grpcio
version as the Workpool server, with no validation and no database, so the
difference between the two is the server's own work. Run it as
``python bench/echo_server.py PORT``; it stops on SIGTERM.
"""

from __future__ import annotations

import asyncio
import signal
import sys

import grpc

from workpool.v1 import types_pb2, workpool_service_pb2

SERVICE = "bench.Echo"


async def enqueue(
    request: workpool_service_pb2.EnqueueRequest, context: grpc.aio.ServicerContext
) -> workpool_service_pb2.EnqueueResponse:
    return workpool_service_pb2.EnqueueResponse(work_id="wk_01JD9V6GQ8M3T6Y4D3W0Y5B7ZC")


async def enqueue_batch(
    request: workpool_service_pb2.EnqueueBatchRequest,
    context: grpc.aio.ServicerContext,
) -> workpool_service_pb2.EnqueueBatchResponse:
    ids = ["wk_01JD9V6GQ8M3T6Y4D3W0Y5B7ZC"] * len(request.work)
    return workpool_service_pb2.EnqueueBatchResponse(work_ids=ids)


async def stream(
    request: workpool_service_pb2.WatchCompletionsRequest,
    context: grpc.aio.ServicerContext,
):
    # after_sequence carries the message count, so one message type serves
    # both the request and the length of the stream.
    completion = types_pb2.Completion(
        sequence=1, work_id="wk_01JD9V6GQ8M3T6Y4D3W0Y5B7ZC", pool="echo"
    )
    message = workpool_service_pb2.WatchCompletionsResponse(completions=[completion])
    for _ in range(request.after_sequence):
        yield message


def handlers() -> grpc.GenericRpcHandler:
    pb = workpool_service_pb2
    return grpc.method_handlers_generic_handler(
        SERVICE,
        {
            "Enqueue": grpc.unary_unary_rpc_method_handler(
                enqueue,
                request_deserializer=pb.EnqueueRequest.FromString,
                response_serializer=pb.EnqueueResponse.SerializeToString,
            ),
            "EnqueueBatch": grpc.unary_unary_rpc_method_handler(
                enqueue_batch,
                request_deserializer=pb.EnqueueBatchRequest.FromString,
                response_serializer=pb.EnqueueBatchResponse.SerializeToString,
            ),
            "Stream": grpc.unary_stream_rpc_method_handler(
                stream,
                request_deserializer=pb.WatchCompletionsRequest.FromString,
                response_serializer=pb.WatchCompletionsResponse.SerializeToString,
            ),
        },
    )


async def serve(port: int) -> None:
    server = grpc.aio.server(
        options=[
            ("grpc.max_receive_message_length", 64 * 1024 * 1024),
            ("grpc.max_send_message_length", 64 * 1024 * 1024),
        ]
    )
    server.add_generic_rpc_handlers((handlers(),))
    server.add_insecure_port(f"127.0.0.1:{port}")
    await server.start()

    stopped = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stopped.set)
    await stopped.wait()
    await server.stop(grace=1)


if __name__ == "__main__":
    asyncio.run(serve(int(sys.argv[1])))
