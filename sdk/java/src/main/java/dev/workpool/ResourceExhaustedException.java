package dev.workpool;

import io.grpc.Status;
import java.util.List;

/** A request exceeded a size or count limit (RESOURCE_EXHAUSTED). */
public class ResourceExhaustedException extends WorkpoolException {
  private static final long serialVersionUID = 1L;

  public ResourceExhaustedException(
      Status.Code code, String details, List<FieldViolation> fieldViolations, Throwable cause) {
    super(code, details, fieldViolations, cause);
  }
}
