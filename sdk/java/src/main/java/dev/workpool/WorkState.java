package dev.workpool;

/** Lifecycle state of a work item. */
public enum WorkState {
  /** Waiting to start: queued, scheduled for later or backing off. */
  PENDING,
  /** Leased to a worker that runs an attempt. */
  RUNNING,
  /** Ended with its final result. */
  FINISHED,
  /** Never issued or expired; only {@link WorkpoolClient#statusBatch} returns it. */
  NOT_FOUND
}
