package dev.workpool;

import java.time.Instant;

/**
 * Snapshot of one work item.
 *
 * @param workId work item id
 * @param state lifecycle state
 * @param previousAttempts attempts that have ended, not counting a running one
 * @param result final result, {@code null} unless finished
 * @param pool pool that holds the item
 * @param function function the item calls
 * @param enqueuedAt time the server accepted the item
 * @param readyAt earliest start of the next attempt, set while pending
 * @param finishedAt time the item finished, set only when finished
 * @param lastError error of the most recent failed attempt, or {@code null}
 * @param concurrencyKey concurrency key given at enqueue, or {@code null} when none
 * @param priority priority given at enqueue, without aging
 * @param continuations attempts that ended with a {@link Continue}, counted in {@code
 *     previousAttempts} too
 */
public record WorkStatus(
    String workId,
    WorkState state,
    int previousAttempts,
    Result result,
    String pool,
    String function,
    Instant enqueuedAt,
    Instant readyAt,
    Instant finishedAt,
    String lastError,
    String concurrencyKey,
    int priority,
    int continuations) {}
