package dev.workpool;

import io.grpc.Status;
import java.util.List;

/** The server rejected a request field (INVALID_ARGUMENT); see {@link #fieldViolations()}. */
public class InvalidArgumentException extends WorkpoolException {
  private static final long serialVersionUID = 1L;

  public InvalidArgumentException(
      Status.Code code, String details, List<FieldViolation> fieldViolations, Throwable cause) {
    super(code, details, fieldViolations, cause);
  }
}
