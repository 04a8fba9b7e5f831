package dev.workpool;

import io.grpc.Status;
import java.util.List;

/** A pool of that name already exists (ALREADY_EXISTS). */
public class AlreadyExistsException extends WorkpoolException {
  private static final long serialVersionUID = 1L;

  public AlreadyExistsException(
      Status.Code code, String details, List<FieldViolation> fieldViolations, Throwable cause) {
    super(code, details, fieldViolations, cause);
  }
}
