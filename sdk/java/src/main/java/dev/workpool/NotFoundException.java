package dev.workpool;

import io.grpc.Status;
import java.util.List;

/** The pool or work item does not exist, or its status expired (NOT_FOUND). */
public class NotFoundException extends WorkpoolException {
  private static final long serialVersionUID = 1L;

  public NotFoundException(
      Status.Code code, String details, List<FieldViolation> fieldViolations, Throwable cause) {
    super(code, details, fieldViolations, cause);
  }
}
