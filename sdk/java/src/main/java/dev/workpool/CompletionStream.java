package dev.workpool;

import dev.workpool.v1.WatchCompletionsResponse;
import dev.workpool.v1.WorkpoolServiceGrpc;
import io.grpc.Context;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.Iterator;
import java.util.NoSuchElementException;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * A subscription to the completion log, read as a blocking iterator.
 *
 * <p>{@link #hasNext()} blocks until the next completion arrives and returns {@code false} only
 * after {@link #close()}. A call that ends with UNAVAILABLE, or that the server ends without an
 * error, is reconnected with capped exponential backoff and resumes after the last sequence
 * received, so no sequence is returned twice. Other errors are thrown from {@code hasNext()} as
 * {@link WorkpoolException}s. One thread reads the iterator; {@code close()} may come from any
 * thread.
 */
public final class CompletionStream implements Iterator<Completion>, AutoCloseable {
  private static final Logger logger = Logger.getLogger(CompletionStream.class.getName());
  private static final Duration INITIAL_RECONNECT_DELAY = Duration.ofMillis(200);
  private static final Duration MAX_RECONNECT_DELAY = Duration.ofSeconds(10);

  private final WorkpoolServiceGrpc.WorkpoolServiceBlockingStub stub;
  private final WatchOptions options;
  private final Backoff backoff = new Backoff(INITIAL_RECONNECT_DELAY, MAX_RECONNECT_DELAY);
  private final ArrayDeque<Completion> buffer = new ArrayDeque<>();
  private final CountDownLatch closedLatch = new CountDownLatch(1);

  private final Object lock = new Object();
  private Context.CancellableContext callContext;
  private Iterator<WatchCompletionsResponse> responses;
  // Sequence to resume after: the last one received, or the head of the first response.
  private Long receivedSequence;
  private volatile Long lastSequence;
  private volatile boolean closed;

  CompletionStream(WorkpoolServiceGrpc.WorkpoolServiceBlockingStub stub, WatchOptions options) {
    this.stub = stub;
    this.options = options;
    this.receivedSequence = options.afterSequence();
    this.lastSequence = options.afterSequence();
  }

  /**
   * Returns the sequence of the last completion returned by {@link #next()}, or the log's head at
   * the first connection when none was returned yet. It is {@code null} until that first
   * response when the watch started without {@code afterSequence}. Pass it as {@code
   * afterSequence} to resume in a new watch.
   */
  public Long lastSequence() {
    return lastSequence;
  }

  @Override
  public boolean hasNext() {
    while (buffer.isEmpty()) {
      if (closed) {
        return false;
      }
      Iterator<WatchCompletionsResponse> current = connect();
      if (current == null) {
        return false;
      }
      boolean connected = false;
      try {
        while (current.hasNext()) {
          accept(current.next());
          if (!connected) {
            connected = true;
            backoff.reset();
          }
          if (!buffer.isEmpty()) {
            return true;
          }
        }
        logger.info("Server ended the completion watch; reconnecting");
      } catch (StatusRuntimeException error) {
        if (closed) {
          return false;
        }
        if (error.getStatus().getCode() != Status.Code.UNAVAILABLE) {
          disconnect();
          throw Errors.fromThrowable(error);
        }
        logger.log(
            connected ? Level.INFO : Level.FINE,
            "Completion watch disconnected after sequence " + receivedSequence + ": "
                + error.getStatus() + "; reconnecting");
      }
      disconnect();
      sleep(backoff.nextDelay());
    }
    return true;
  }

  @Override
  public Completion next() {
    if (!hasNext()) {
      throw new NoSuchElementException("the completion stream is closed");
    }
    Completion completion = buffer.poll();
    lastSequence = completion.sequence();
    return completion;
  }

  /** Cancels the call; a blocked {@link #hasNext()} returns {@code false}. */
  @Override
  public void close() {
    closed = true;
    closedLatch.countDown();
    disconnect();
  }

  private Iterator<WatchCompletionsResponse> connect() {
    synchronized (lock) {
      if (closed) {
        return null;
      }
      if (responses == null) {
        callContext = Context.current().withCancellation();
        Context previous = callContext.attach();
        try {
          responses = stub.watchCompletions(Convert.watchRequest(options, receivedSequence));
        } finally {
          callContext.detach(previous);
        }
      }
      return responses;
    }
  }

  private void disconnect() {
    synchronized (lock) {
      responses = null;
      if (callContext != null) {
        callContext.cancel(null);
        callContext = null;
      }
    }
  }

  private void accept(WatchCompletionsResponse response) {
    for (var message : response.getCompletionsList()) {
      // A replay after a reconnect may repeat entries already received.
      if (receivedSequence != null && message.getSequence() <= receivedSequence) {
        continue;
      }
      buffer.add(Convert.completion(message));
      receivedSequence = message.getSequence();
    }
    if (receivedSequence == null) {
      receivedSequence = response.getHeadSequence();
      lastSequence = receivedSequence;
    }
  }

  private void sleep(Duration delay) {
    try {
      closedLatch.await(delay.toMillis(), TimeUnit.MILLISECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      close();
    }
  }
}
