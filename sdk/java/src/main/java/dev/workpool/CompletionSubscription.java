package dev.workpool;

import java.time.Duration;
import java.util.function.Consumer;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * A completion watch that passes each completion to a consumer on a daemon thread. The watch
 * ends when {@link #close()} is called, when the consumer throws, or when the call fails with a
 * code other than UNAVAILABLE; {@link #failure()} then returns the cause.
 */
public final class CompletionSubscription implements AutoCloseable {
  private static final Logger logger = Logger.getLogger(CompletionSubscription.class.getName());

  private final CompletionStream stream;
  private final Thread thread;
  private volatile RuntimeException failure;

  CompletionSubscription(CompletionStream stream, Consumer<Completion> consumer) {
    this.stream = stream;
    this.thread = new Thread(() -> run(consumer), "workpool-watch");
    this.thread.setDaemon(true);
    this.thread.start();
  }

  /** See {@link CompletionStream#lastSequence()}. */
  public Long lastSequence() {
    return stream.lastSequence();
  }

  /** Returns the exception that ended the watch, or {@code null}. */
  public RuntimeException failure() {
    return failure;
  }

  /** Stops the watch and waits up to 5 s for the consumer thread to return. */
  @Override
  public void close() {
    stream.close();
    awaitTermination(Duration.ofSeconds(5));
  }

  /** Waits up to {@code timeout} for the watch to end and returns whether it ended. */
  public boolean awaitTermination(Duration timeout) {
    try {
      thread.join(timeout.toMillis());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    return !thread.isAlive();
  }

  private void run(Consumer<Completion> consumer) {
    try {
      while (stream.hasNext()) {
        consumer.accept(stream.next());
      }
    } catch (RuntimeException error) {
      failure = error;
      logger.log(Level.WARNING, "Completion watch ended with an error", error);
      stream.close();
    }
  }
}
