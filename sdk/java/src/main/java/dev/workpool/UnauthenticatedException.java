package dev.workpool;

import io.grpc.Status;
import java.util.List;

/** The call carried no valid credentials (UNAUTHENTICATED). */
public class UnauthenticatedException extends WorkpoolException {
  private static final long serialVersionUID = 1L;

  public UnauthenticatedException(
      Status.Code code, String details, List<FieldViolation> fieldViolations, Throwable cause) {
    super(code, details, fieldViolations, cause);
  }
}
