package dev.workpool;

import io.grpc.Status;
import java.util.List;

/**
 * Root of the exceptions that the SDK throws for a failed call.
 *
 * <p>{@link #code()} is the gRPC status code and {@link #fieldViolations()} lists the invalid
 * fields that the server named in {@code google.rpc.BadRequest} details. The status code decides
 * the subclass; CANCELLED, ABORTED and codes without a subclass throw this class itself. Invalid
 * Java input, such as a value that has no JSON form, throws {@link IllegalArgumentException}
 * before any call is made.
 */
public class WorkpoolException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  private final Status.Code code;
  private final String details;
  private final transient List<FieldViolation> fieldViolations;

  public WorkpoolException(
      Status.Code code, String details, List<FieldViolation> fieldViolations, Throwable cause) {
    super(message(code, details, fieldViolations), cause);
    this.code = code;
    this.details = details;
    this.fieldViolations = List.copyOf(fieldViolations);
  }

  /** The gRPC status code of the failed call. */
  public Status.Code code() {
    return code;
  }

  /** The server's message, without the code and the field violations. */
  public String details() {
    return details;
  }

  /** Invalid fields named by the server, empty when it named none. */
  public List<FieldViolation> fieldViolations() {
    return fieldViolations;
  }

  private static String message(
      Status.Code code, String details, List<FieldViolation> fieldViolations) {
    StringBuilder message = new StringBuilder(code.name()).append(": ").append(details);
    // Servers often repeat the violations in the message; add only the ones it leaves out.
    for (FieldViolation violation : fieldViolations) {
      if (!details.contains(violation.description())) {
        message.append(" (").append(violation.field()).append(": ");
        message.append(violation.description()).append(')');
      }
    }
    return message.toString();
  }
}
