package dev.workpool;

import io.grpc.Status;
import java.util.List;

/** The server does not implement this call (UNIMPLEMENTED). */
public class UnimplementedException extends WorkpoolException {
  private static final long serialVersionUID = 1L;

  public UnimplementedException(
      Status.Code code, String details, List<FieldViolation> fieldViolations, Throwable cause) {
    super(code, details, fieldViolations, cause);
  }
}
