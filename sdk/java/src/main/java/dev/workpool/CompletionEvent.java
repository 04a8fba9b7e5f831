package dev.workpool;

import java.util.Map;

/**
 * The decoded args of an on-complete follow-up item.
 *
 * @param workId id of the item that finished
 * @param context the context given in the item's {@link OnComplete}, or {@code null}
 * @param result the item's final result
 */
public record CompletionEvent(String workId, Object context, Result result) {
  /**
   * Decodes follow-up args {@code {work_id, context, result: {kind, ...}}}.
   *
   * @throws IllegalArgumentException the args do not have that shape
   */
  public static CompletionEvent fromArgs(Object args) {
    if (!(args instanceof Map)) {
      throw new IllegalArgumentException("follow-up args must be a map, got " + args);
    }
    Map<?, ?> map = (Map<?, ?>) args;
    if (!(map.get("work_id") instanceof String) || !(map.get("result") instanceof Map)) {
      throw new IllegalArgumentException(
          "follow-up args need a string work_id and a result map, got " + args);
    }
    Map<?, ?> result = (Map<?, ?>) map.get("result");
    Object kind = result.get("kind");
    Result decoded;
    if ("success".equals(kind)) {
      decoded = Result.success(result.get("return_value"));
    } else if ("failure".equals(kind)) {
      Object error = result.get("error");
      decoded = Result.failure(error == null ? "" : error.toString(), false);
    } else if ("canceled".equals(kind)) {
      decoded = Result.canceled();
    } else {
      throw new IllegalArgumentException("follow-up result has the unknown kind " + kind);
    }
    return new CompletionEvent((String) map.get("work_id"), map.get("context"), decoded);
  }
}
