package dev.workpool;

import io.grpc.Status;
import java.util.List;

/** The request does not fit the current state, such as deleting a busy pool (FAILED_PRECONDITION). */
public class FailedPreconditionException extends WorkpoolException {
  private static final long serialVersionUID = 1L;

  public FailedPreconditionException(
      Status.Code code, String details, List<FieldViolation> fieldViolations, Throwable cause) {
    super(code, details, fieldViolations, cause);
  }
}
