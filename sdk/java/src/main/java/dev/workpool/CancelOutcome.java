package dev.workpool;

/** Outcome of {@link WorkpoolClient#cancel}. */
public enum CancelOutcome {
  /** The item was pending and is now finished as canceled. */
  CANCELED,
  /** The item is running and its worker got a cancel request. */
  CANCEL_REQUESTED,
  /** The item had already finished; nothing changed. */
  ALREADY_FINISHED,
  /** No such item, or its status expired; nothing changed. */
  NOT_FOUND
}
