package dev.workpool;

import java.util.Objects;

/**
 * A follow-up function that runs once when a work item finishes.
 *
 * <p>The follow-up item runs in the same pool and receives the args {@code {work_id, context,
 * result}}; {@link Worker.Builder#onComplete} decodes them into a {@link CompletionEvent}.
 *
 * @param function function of the follow-up item
 * @param context JSON-like value passed through unchanged, or {@code null}
 */
public record OnComplete(String function, Object context) {
  public OnComplete {
    Objects.requireNonNull(function, "OnComplete.function");
    if (function.isEmpty()) {
      throw new IllegalArgumentException("OnComplete.function must name a registered handler");
    }
  }
}
