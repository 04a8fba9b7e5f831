from collections.abc import Sequence

import grpc
import pytest
from google.protobuf import any_pb2
from google.rpc import code_pb2, error_details_pb2, status_pb2

import workpool
from workpool import (
    FieldViolation,
    InternalError,
    InvalidArgumentError,
    NotFoundError,
    WorkpoolError,
)
from workpool._errors import error_class_for, from_rpc_error

_DETAILS_KEY = "grpc-status-details-bin"


class FakeRpcError(grpc.RpcError, grpc.Call):
    """A finished call's error, as the sync and asyncio stubs raise it."""

    def __init__(
        self,
        code: grpc.StatusCode,
        details: str,
        trailing_metadata: Sequence[tuple[str, bytes | str]] = (),
    ) -> None:
        self._code = code
        self._details = details
        self._trailing_metadata = tuple(trailing_metadata)

    def code(self) -> grpc.StatusCode:
        return self._code

    def details(self) -> str:
        return self._details

    def trailing_metadata(self) -> tuple[tuple[str, bytes | str], ...]:
        return self._trailing_metadata

    def initial_metadata(self) -> tuple[()]:
        return ()

    def is_active(self) -> bool:
        return False

    def time_remaining(self) -> None:
        return None

    def cancel(self) -> bool:
        return False

    def add_callback(self, callback: object) -> bool:
        return False


def bad_request_error(details: str, violations: dict[str, str]) -> FakeRpcError:
    bad_request = error_details_pb2.BadRequest(
        field_violations=[
            error_details_pb2.BadRequest.FieldViolation(field=f, description=d)
            for f, d in violations.items()
        ]
    )
    detail = any_pb2.Any()
    detail.Pack(bad_request)
    status = status_pb2.Status(
        code=code_pb2.INVALID_ARGUMENT, message=details, details=[detail]
    )
    return FakeRpcError(
        grpc.StatusCode.INVALID_ARGUMENT,
        details,
        [(_DETAILS_KEY, status.SerializeToString())],
    )


@pytest.mark.parametrize(
    "code",
    [code for code in grpc.StatusCode if code is not grpc.StatusCode.OK],
    ids=lambda code: code.name,
)
def test_every_status_code_maps_to_workpool_error(code: grpc.StatusCode) -> None:
    error = from_rpc_error(FakeRpcError(code, "boom"))

    assert isinstance(error, WorkpoolError)
    assert error.code is code
    assert error.details == "boom"
    assert isinstance(error, error_class_for(code))


def test_error_classes_are_exported() -> None:
    for code in grpc.StatusCode:
        error_class = error_class_for(code)
        assert getattr(workpool, error_class.__name__) is error_class


def test_not_found_maps_to_not_found_error() -> None:
    error = from_rpc_error(
        FakeRpcError(grpc.StatusCode.NOT_FOUND, "pool 'x' not found")
    )

    assert type(error) is NotFoundError
    assert str(error) == "pool 'x' not found"


def test_unknown_maps_to_internal_error() -> None:
    error = from_rpc_error(FakeRpcError(grpc.StatusCode.UNKNOWN, "exception"))

    assert type(error) is InternalError
    assert error.code is grpc.StatusCode.UNKNOWN


def test_invalid_argument_parses_field_violations() -> None:
    rpc_error = bad_request_error(
        "invalid work spec", {"work[2].function": "must not be empty"}
    )

    error = from_rpc_error(rpc_error)

    assert isinstance(error, InvalidArgumentError)
    assert error.field_violations == (
        FieldViolation("work[2].function", "must not be empty"),
    )
    assert error.status is not None
    assert str(error) == "invalid work spec (work[2].function: must not be empty)"


def test_invalid_argument_message_not_repeated() -> None:
    rpc_error = bad_request_error(
        "work_id: malformed id 'x'", {"work_id": "malformed id 'x'"}
    )

    assert str(from_rpc_error(rpc_error)) == "work_id: malformed id 'x'"


def test_invalid_argument_without_details_has_no_violations() -> None:
    error = from_rpc_error(FakeRpcError(grpc.StatusCode.INVALID_ARGUMENT, "bad"))

    assert isinstance(error, InvalidArgumentError)
    assert error.field_violations == ()
    assert error.status is None


def test_inconsistent_status_details_ignored() -> None:
    status = status_pb2.Status(code=code_pb2.NOT_FOUND, message="other message")
    rpc_error = FakeRpcError(
        grpc.StatusCode.INVALID_ARGUMENT,
        "bad",
        [(_DETAILS_KEY, status.SerializeToString())],
    )

    error = from_rpc_error(rpc_error)

    assert isinstance(error, InvalidArgumentError)
    assert error.status is None


def test_empty_details_fall_back_to_code_name() -> None:
    error = from_rpc_error(FakeRpcError(grpc.StatusCode.UNAVAILABLE, ""))

    assert error.details == "UNAVAILABLE"
