package dev.workpool;

/** Runs an on-complete follow-up item, with its args decoded into a {@link CompletionEvent}. */
@FunctionalInterface
public interface CompletionHandler {
  Object handle(WorkContext context, CompletionEvent event) throws Exception;
}
