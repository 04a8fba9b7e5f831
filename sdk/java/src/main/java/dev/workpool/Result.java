package dev.workpool;

/**
 * Final result of a work item.
 *
 * @param kind how the item ended
 * @param returnValue the function's return value for {@link Kind#SUCCESS}, else {@code null}
 * @param error the error message for {@link Kind#FAILURE}, else {@code null}
 * @param nonRetryable whether the worker marked the failure as not worth retrying
 */
public record Result(Kind kind, Object returnValue, String error, boolean nonRetryable) {
  /** Final result of a work item. */
  public enum Kind {
    SUCCESS,
    FAILURE,
    CANCELED
  }

  public static Result success(Object returnValue) {
    return new Result(Kind.SUCCESS, returnValue, null, false);
  }

  public static Result failure(String error, boolean nonRetryable) {
    return new Result(Kind.FAILURE, null, error, nonRetryable);
  }

  public static Result canceled() {
    return new Result(Kind.CANCELED, null, null, false);
  }
}
