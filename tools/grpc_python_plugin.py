"""A protoc plugin that runs the gRPC Python generator of grpcio-tools.

grpcio-tools builds that generator into its own protoc and ships no plugin
binary, so buf cannot call it directly. This plugin reads buf's
CodeGeneratorRequest, hands the same files to grpcio-tools' protoc through a
descriptor set, and returns what it wrote.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from google.protobuf import descriptor_pb2
from google.protobuf.compiler import plugin_pb2
from grpc_tools import protoc


def main() -> int:
    request = plugin_pb2.CodeGeneratorRequest.FromString(sys.stdin.buffer.read())
    response = plugin_pb2.CodeGeneratorResponse(
        supported_features=plugin_pb2.CodeGeneratorResponse.FEATURE_PROTO3_OPTIONAL
    )
    with tempfile.TemporaryDirectory() as folder:
        descriptors = Path(folder) / "descriptors.pb"
        out = Path(folder) / "out"
        out.mkdir()
        descriptor_set = descriptor_pb2.FileDescriptorSet(file=request.proto_file)
        descriptors.write_bytes(descriptor_set.SerializeToString())
        code = protoc.main(
            [
                "protoc",
                f"--descriptor_set_in={descriptors}",
                f"--grpc_python_out={out}",
                *request.file_to_generate,
            ]
        )
        if code != 0:
            response.error = f"grpc_tools.protoc exited with status {code}"
        else:
            for path in sorted(out.rglob("*.py")):
                response.file.add(
                    name=str(path.relative_to(out)), content=path.read_text()
                )
    sys.stdout.buffer.write(response.SerializeToString())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
