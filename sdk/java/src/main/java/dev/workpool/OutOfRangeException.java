package dev.workpool;

import io.grpc.Status;
import java.util.List;

/** The completion log no longer contains the requested entries (OUT_OF_RANGE). */
public class OutOfRangeException extends WorkpoolException {
  private static final long serialVersionUID = 1L;

  public OutOfRangeException(
      Status.Code code, String details, List<FieldViolation> fieldViolations, Throwable cause) {
    super(code, details, fieldViolations, cause);
  }
}
