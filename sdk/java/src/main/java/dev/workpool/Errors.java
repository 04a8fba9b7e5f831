package dev.workpool;

import com.google.protobuf.Any;
import com.google.protobuf.InvalidProtocolBufferException;
import com.google.rpc.BadRequest;
import io.grpc.Status;
import io.grpc.protobuf.StatusProto;
import java.util.ArrayList;
import java.util.List;

/** The one place where gRPC errors become {@link WorkpoolException}s. */
final class Errors {
  private Errors() {}

  /** Converts a failed call's exception; other throwables become an INTERNAL error. */
  static WorkpoolException fromThrowable(Throwable error) {
    if (error instanceof WorkpoolException) {
      return (WorkpoolException) error;
    }
    Status status = Status.fromThrowable(error);
    Status.Code code = status.getCode();
    String details = status.getDescription() != null ? status.getDescription() : code.name();
    List<FieldViolation> violations = fieldViolations(error);
    return create(code, details, violations, error);
  }

  static WorkpoolException create(
      Status.Code code, String details, List<FieldViolation> violations, Throwable cause) {
    switch (code) {
      case INVALID_ARGUMENT:
        return new InvalidArgumentException(code, details, violations, cause);
      case NOT_FOUND:
        return new NotFoundException(code, details, violations, cause);
      case ALREADY_EXISTS:
        return new AlreadyExistsException(code, details, violations, cause);
      case FAILED_PRECONDITION:
        return new FailedPreconditionException(code, details, violations, cause);
      case RESOURCE_EXHAUSTED:
        return new ResourceExhaustedException(code, details, violations, cause);
      case OUT_OF_RANGE:
        return new OutOfRangeException(code, details, violations, cause);
      case UNAVAILABLE:
        return new UnavailableException(code, details, violations, cause);
      case DEADLINE_EXCEEDED:
        return new DeadlineExceededException(code, details, violations, cause);
      case UNAUTHENTICATED:
        return new UnauthenticatedException(code, details, violations, cause);
      case PERMISSION_DENIED:
        return new PermissionDeniedException(code, details, violations, cause);
      case UNIMPLEMENTED:
        return new UnimplementedException(code, details, violations, cause);
      case INTERNAL:
      case UNKNOWN:
      case DATA_LOSS:
        return new InternalException(code, details, violations, cause);
      default:
        return new WorkpoolException(code, details, violations, cause);
    }
  }

  /**
   * Reads the BadRequest field violations from the {@code grpc-status-details-bin} trailer. A
   * detail that cannot be parsed is skipped, so the caller still gets the code and message.
   */
  static List<FieldViolation> fieldViolations(Throwable error) {
    com.google.rpc.Status rich = StatusProto.fromThrowable(error);
    List<FieldViolation> violations = new ArrayList<>();
    if (rich == null) {
      return violations;
    }
    for (Any detail : rich.getDetailsList()) {
      if (!detail.is(BadRequest.class)) {
        continue;
      }
      try {
        for (BadRequest.FieldViolation violation :
            detail.unpack(BadRequest.class).getFieldViolationsList()) {
          violations.add(new FieldViolation(violation.getField(), violation.getDescription()));
        }
      } catch (InvalidProtocolBufferException e) {
        // A malformed detail is a server bug; keep the plain code and message.
      }
    }
    return violations;
  }
}
