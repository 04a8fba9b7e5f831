package dev.workpool;

/**
 * Handler result that ends the attempt and runs the item again at once with new args.
 * The item keeps its id, and the next attempt starts with a fresh retry budget.
 *
 * <p>{@code return new Continue(Map.of("page", page + 1));}
 *
 * @param args JSON-like args of the next run, see {@link Values}
 */
public record Continue(Object args) {}
