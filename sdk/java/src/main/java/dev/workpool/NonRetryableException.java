package dev.workpool;

/**
 * Thrown by a worker handler to fail the work item at once, without a retry.
 *
 * <p>The attempt is reported as a failure marked non-retryable, so the item ends as failed even
 * when its retry policy has attempts left. Any other exception fails only the attempt.
 */
public class NonRetryableException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  public NonRetryableException(String message) {
    super(message);
  }

  public NonRetryableException(String message, Throwable cause) {
    super(message, cause);
  }
}
