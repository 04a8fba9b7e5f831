package dev.workpool;

import io.grpc.Status;
import java.util.List;

/** The server cannot be reached or is shutting down (UNAVAILABLE). */
public class UnavailableException extends WorkpoolException {
  private static final long serialVersionUID = 1L;

  public UnavailableException(
      Status.Code code, String details, List<FieldViolation> fieldViolations, Throwable cause) {
    super(code, details, fieldViolations, cause);
  }
}
