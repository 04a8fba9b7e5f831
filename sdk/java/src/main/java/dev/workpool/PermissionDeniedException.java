package dev.workpool;

import io.grpc.Status;
import java.util.List;

/** The caller may not make this call (PERMISSION_DENIED). */
public class PermissionDeniedException extends WorkpoolException {
  private static final long serialVersionUID = 1L;

  public PermissionDeniedException(
      Status.Code code, String details, List<FieldViolation> fieldViolations, Throwable cause) {
    super(code, details, fieldViolations, cause);
  }
}
