package dev.workpool;

import java.time.Duration;
import java.time.Instant;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

/**
 * Details of the attempt that a handler runs, and its cooperative cancel signal.
 *
 * <p>The cancel signal is set when a client cancels the item, when the attempt runs past its
 * attempt timeout, when the server reports the lease lost, when the stream that assigned the attempt closes, and when a stopping worker's grace
 * period ends. The handler decides when to stop: after a client's cancel, a handler that still
 * returns reports success; in the other cases its result is dropped.
 */
public final class WorkContext {
  /** Reason for the cancel signal. */
  public enum CancelCause {
    /** A client canceled the item. */
    REQUESTED,
    /** The server no longer holds this attempt's lease for this worker. */
    LEASE_LOST,
    /** The worker's stream closed, so the server already ended the attempt as "worker lost". */
    STREAM_CLOSED,
    /** The worker is shutting down and its grace period ended. */
    SHUTDOWN,
    /**
     * The attempt ran past its attempt timeout. The server already ended it as a failure, retried
     * per the item's policy, and ignores its result.
     */
    TIMEOUT
  }

  private final String workId;
  private final int attempt;
  private final String pool;
  private final String function;
  private final Instant leaseExpiresAt;
  private final Instant deadline;
  private final CountDownLatch canceled = new CountDownLatch(1);
  private volatile CancelCause cancelCause;

  WorkContext(
      String workId,
      int attempt,
      String pool,
      String function,
      Instant leaseExpiresAt,
      Instant deadline) {
    this.workId = workId;
    this.attempt = attempt;
    this.pool = pool;
    this.function = function;
    this.leaseExpiresAt = leaseExpiresAt;
    this.deadline = deadline;
  }

  public String workId() {
    return workId;
  }

  /** Attempt number, from 1. */
  public int attempt() {
    return attempt;
  }

  public String pool() {
    return pool;
  }

  public String function() {
    return function;
  }

  /** End of the lease at assignment time; heartbeats renew it while the handler runs. */
  public Instant leaseExpiresAt() {
    return leaseExpiresAt;
  }

  /** Time the server ends the attempt as timed out, or {@code null} without a timeout. */
  public Instant deadline() {
    return deadline;
  }

  /** Returns whether the handler was asked to stop. */
  public boolean isCancelRequested() {
    return cancelCause != null;
  }

  /** Returns the reason for the cancel signal, or {@code null} while there is none. */
  public CancelCause cancelCause() {
    return cancelCause;
  }

  /** Blocks until a cancel is requested. */
  public void awaitCancel() throws InterruptedException {
    canceled.await();
  }

  /** Blocks up to {@code timeout} for a cancel request and returns whether one came. */
  public boolean awaitCancel(Duration timeout) throws InterruptedException {
    return canceled.await(timeout.toNanos(), TimeUnit.NANOSECONDS);
  }

  void requestCancel(CancelCause cause) {
    if (cancelCause == null) {
      cancelCause = cause;
    }
    canceled.countDown();
  }
}
