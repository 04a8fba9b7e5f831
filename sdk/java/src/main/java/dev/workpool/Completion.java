package dev.workpool;

import java.time.Instant;

/**
 * One entry of the completion log: a work item's final result.
 *
 * @param sequence position in the log, gap-free and increasing by one per completion
 * @param workId work item that finished
 * @param pool pool that held the item
 * @param function function the item called
 * @param result final result
 * @param context context of the item's on-complete follow-up, or {@code null}
 * @param attempts attempts the item made, 0 when it was canceled before it started
 * @param finishedAt time the item finished
 * @param continuations attempts that ended with a {@link Continue}, counted in {@code
 *     attempts} too
 */
public record Completion(
    long sequence,
    String workId,
    String pool,
    String function,
    Result result,
    Object context,
    int attempts,
    Instant finishedAt,
    int continuations) {}
