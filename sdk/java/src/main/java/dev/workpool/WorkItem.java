package dev.workpool;

import java.util.Objects;

/**
 * One work item of {@link WorkpoolClient#enqueueBatch}.
 *
 * @param function function name that workers register, such as {@code email.send}
 * @param args JSON-like arguments, see {@link Values}
 * @param options retry, follow-up, schedule and idempotency key
 */
public record WorkItem(String function, Object args, EnqueueOptions options) {
  public WorkItem {
    Objects.requireNonNull(function, "function");
    if (function.isEmpty()) {
      throw new IllegalArgumentException("function must name a registered handler");
    }
    if (options == null) {
      options = EnqueueOptions.none();
    }
  }

  public static WorkItem of(String function, Object args) {
    return new WorkItem(function, args, EnqueueOptions.none());
  }
}
