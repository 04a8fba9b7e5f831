package dev.workpool;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.Any;
import com.google.rpc.BadRequest;
import com.google.rpc.Code;
import io.grpc.Status;
import io.grpc.protobuf.StatusProto;
import java.util.List;
import org.junit.jupiter.api.Test;

class ErrorsTest {
  @Test
  void invalidArgumentCarriesFieldViolations() {
    BadRequest badRequest =
        BadRequest.newBuilder()
            .addFieldViolations(
                BadRequest.FieldViolation.newBuilder()
                    .setField("work.retry_policy.max_attempts")
                    .setDescription("must be at least 1"))
            .build();
    com.google.rpc.Status status =
        com.google.rpc.Status.newBuilder()
            .setCode(Code.INVALID_ARGUMENT_VALUE)
            .setMessage("invalid work spec")
            .addDetails(Any.pack(badRequest))
            .build();

    WorkpoolException error = Errors.fromThrowable(StatusProto.toStatusRuntimeException(status));

    assertInstanceOf(InvalidArgumentException.class, error);
    assertEquals(Status.Code.INVALID_ARGUMENT, error.code());
    assertEquals("invalid work spec", error.details());
    assertEquals(
        List.of(new FieldViolation("work.retry_policy.max_attempts", "must be at least 1")),
        error.fieldViolations());
    assertTrue(error.getMessage().contains("must be at least 1"), error.getMessage());
  }

  @Test
  void codesMapToSubclasses() {
    assertInstanceOf(NotFoundException.class, map(Status.NOT_FOUND));
    assertInstanceOf(AlreadyExistsException.class, map(Status.ALREADY_EXISTS));
    assertInstanceOf(FailedPreconditionException.class, map(Status.FAILED_PRECONDITION));
    assertInstanceOf(ResourceExhaustedException.class, map(Status.RESOURCE_EXHAUSTED));
    assertInstanceOf(OutOfRangeException.class, map(Status.OUT_OF_RANGE));
    assertInstanceOf(UnavailableException.class, map(Status.UNAVAILABLE));
    assertInstanceOf(DeadlineExceededException.class, map(Status.DEADLINE_EXCEEDED));
    assertInstanceOf(InternalException.class, map(Status.UNKNOWN));
    assertInstanceOf(InternalException.class, map(Status.DATA_LOSS));
    assertEquals(WorkpoolException.class, map(Status.ABORTED).getClass());
  }

  @Test
  void plainStatusHasNoViolations() {
    WorkpoolException error = map(Status.NOT_FOUND.withDescription("pool x not found"));
    assertEquals("pool x not found", error.details());
    assertTrue(error.fieldViolations().isEmpty());
  }

  private static WorkpoolException map(Status status) {
    return Errors.fromThrowable(status.asRuntimeException());
  }
}
