package dev.workpool;

import io.grpc.Status;
import java.util.List;

/** The call did not finish before its deadline (DEADLINE_EXCEEDED). */
public class DeadlineExceededException extends WorkpoolException {
  private static final long serialVersionUID = 1L;

  public DeadlineExceededException(
      Status.Code code, String details, List<FieldViolation> fieldViolations, Throwable cause) {
    super(code, details, fieldViolations, cause);
  }
}
