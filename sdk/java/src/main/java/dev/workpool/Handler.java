package dev.workpool;

/**
 * Runs one attempt of a work item for a {@link Worker}.
 *
 * <p>{@code args} are plain Java data (see {@link Values#fromValue}); the returned value must be
 * JSON-like and becomes the item's return value, unless it is a {@link Continue}, which runs
 * the item again at once with new args. Throw {@link NonRetryableException} to fail the
 * item without a retry; any other exception fails the attempt, and the item's retry policy
 * decides what follows.
 */
@FunctionalInterface
public interface Handler {
  Object handle(WorkContext context, Object args) throws Exception;
}
