package dev.workpool;

import io.grpc.Status;
import java.util.List;

/** The server failed while handling the call (INTERNAL, UNKNOWN or DATA_LOSS). */
public class InternalException extends WorkpoolException {
  private static final long serialVersionUID = 1L;

  public InternalException(
      Status.Code code, String details, List<FieldViolation> fieldViolations, Throwable cause) {
    super(code, details, fieldViolations, cause);
  }
}
