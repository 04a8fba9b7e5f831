package dev.workpool;

import dev.workpool.v1.CancelAllRequest;
import dev.workpool.v1.CancelAllResponse;
import dev.workpool.v1.CancelRequest;
import dev.workpool.v1.CreatePoolRequest;
import dev.workpool.v1.DeletePoolRequest;
import dev.workpool.v1.EnqueueBatchResponse;
import dev.workpool.v1.EnqueueResponse;
import dev.workpool.v1.GetPoolRequest;
import dev.workpool.v1.GetPoolResponse;
import dev.workpool.v1.ListPoolsRequest;
import dev.workpool.v1.ListPoolsResponse;
import dev.workpool.v1.PoolServiceGrpc;
import dev.workpool.v1.StatusBatchRequest;
import dev.workpool.v1.StatusRequest;
import dev.workpool.v1.WorkpoolServiceGrpc;
import io.grpc.Channel;
import io.grpc.ManagedChannel;
import io.grpc.StatusRuntimeException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import java.util.function.Supplier;

/**
 * Blocking client of Workpool: enqueues work, reads its status, cancels it, watches completions
 * and manages pools. Threads may share one client.
 *
 * <pre>{@code
 * try (WorkpoolClient client = new WorkpoolClient("127.0.0.1:50051")) {
 *   String workId = client.enqueue("emails", "email.send", Map.of("to", "ada@example.com"));
 *   WorkStatus status = client.status(workId);
 * }
 * }</pre>
 *
 * <p>Every failed call throws a {@link WorkpoolException} subclass chosen by the gRPC status
 * code. Unary calls have a deadline of {@link #DEFAULT_TIMEOUT} unless the constructor gets
 * another one.
 */
public final class WorkpoolClient implements AutoCloseable {
  /** Deadline of each unary call unless the constructor gets another one. */
  public static final Duration DEFAULT_TIMEOUT = Duration.ofSeconds(30);

  private final Channel channel;
  private final ManagedChannel ownedChannel;
  private final Duration timeout;
  private final WorkpoolServiceGrpc.WorkpoolServiceBlockingStub workpool;
  private final PoolServiceGrpc.PoolServiceBlockingStub pools;

  /** Opens a channel to {@code target}, such as {@code 127.0.0.1:50051}, that close() closes. */
  public WorkpoolClient(String target) {
    this(target, DEFAULT_TIMEOUT);
  }

  /** Opens a channel to {@code target}; {@code timeout} is the deadline of every unary call. */
  public WorkpoolClient(String target, Duration timeout) {
    this(Channels.open(target), true, timeout);
  }

  /** Opens a channel to {@code target} with TLS or a token, that close() closes. */
  public WorkpoolClient(String target, ChannelSecurity security) {
    this(target, security, DEFAULT_TIMEOUT);
  }

  /** Opens a channel with TLS or a token; {@code timeout} is the deadline of unary calls. */
  public WorkpoolClient(String target, ChannelSecurity security, Duration timeout) {
    this(Channels.open(target, Objects.requireNonNull(security, "security")), true, timeout);
  }

  /** Uses a channel that the caller keeps and closes, such as one with TLS credentials. */
  public WorkpoolClient(Channel channel, Duration timeout) {
    this(channel, false, timeout);
  }

  private WorkpoolClient(Channel channel, boolean owned, Duration timeout) {
    this.channel = Objects.requireNonNull(channel, "channel");
    this.ownedChannel = owned ? (ManagedChannel) channel : null;
    this.timeout = Objects.requireNonNull(timeout, "timeout");
    if (timeout.isNegative() || timeout.isZero()) {
      throw new IllegalArgumentException("timeout is " + timeout + "; use a positive duration");
    }
    this.workpool = WorkpoolServiceGrpc.newBlockingStub(channel);
    this.pools = PoolServiceGrpc.newBlockingStub(channel);
  }

  /** Closes the channel if the client opened it, waiting up to 5 s for calls to end. */
  @Override
  public void close() {
    if (ownedChannel == null) {
      return;
    }
    ownedChannel.shutdown();
    try {
      if (!ownedChannel.awaitTermination(5, TimeUnit.SECONDS)) {
        ownedChannel.shutdownNow();
      }
    } catch (InterruptedException e) {
      ownedChannel.shutdownNow();
      Thread.currentThread().interrupt();
    }
  }

  // Work items.

  /** Enqueues one call of {@code function} with the pool's defaults and returns its work id. */
  public String enqueue(String pool, String function, Object args) {
    return enqueue(pool, function, args, EnqueueOptions.none());
  }

  /**
   * Enqueues one call of {@code function} in {@code pool} and returns its work id. A repeated
   * idempotency key returns the id of the first item and creates nothing.
   *
   * @param args JSON-like arguments, see {@link Values}
   * @throws NotFoundException the pool does not exist
   * @throws InvalidArgumentException a field breaks a rule; see its field violations
   */
  public String enqueue(String pool, String function, Object args, EnqueueOptions options) {
    return enqueueWithSequence(pool, function, args, options).getWorkId();
  }

  /**
   * Enqueues like {@link #enqueue(String, String, Object, EnqueueOptions)} and returns the whole
   * response, whose {@code completion_sequence} is where a watch that cannot miss the item starts.
   */
  public EnqueueResponse enqueueWithSequence(
      String pool, String function, Object args, EnqueueOptions options) {
    var request = Convert.enqueueRequest(pool, function, args, options);
    return call(() -> workpool().enqueue(request));
  }

  /** Enqueues several items in one pool, all or none, and returns their ids in order. */
  public List<String> enqueueBatch(String pool, List<WorkItem> items) {
    var request = Convert.enqueueBatchRequest(pool, items);
    EnqueueBatchResponse response = call(() -> workpool().enqueueBatch(request));
    return List.copyOf(response.getWorkIdsList());
  }

  /**
   * Returns the status of one item.
   *
   * @throws NotFoundException the id was never issued or its status expired
   */
  public WorkStatus status(String workId) {
    Convert.requireName(workId, "workId");
    var request = StatusRequest.newBuilder().setWorkId(workId).build();
    return Convert.workStatus(call(() -> workpool().status(request)).getStatus());
  }

  /** Returns the status of several items in request order; unknown ids get NOT_FOUND. */
  public List<WorkStatus> statusBatch(List<String> workIds) {
    var request = StatusBatchRequest.newBuilder().addAllWorkIds(workIds).build();
    List<WorkStatus> statuses = new ArrayList<>();
    for (var status : call(() -> workpool().statusBatch(request)).getStatusesList()) {
      statuses.add(Convert.workStatus(status));
    }
    return statuses;
  }

  /** Cancels one item: a pending one at once, a running one by asking its worker to stop. */
  public CancelOutcome cancel(String workId) {
    Convert.requireName(workId, "workId");
    var request = CancelRequest.newBuilder().setWorkId(workId).build();
    return Convert.cancelOutcome(call(() -> workpool().cancel(request)).getOutcome());
  }

  /** Cancels every item of {@code pool} enqueued before the call, follow-ups excepted. */
  public CancelAllResult cancelAll(String pool) {
    Convert.requireName(pool, "pool");
    var request = CancelAllRequest.newBuilder().setPool(pool).build();
    CancelAllResponse response = call(() -> workpool().cancelAll(request));
    return new CancelAllResult(response.getCanceledCount(), response.getCancelRequestedCount());
  }

  /**
   * Watches the completion log. The returned stream is a blocking iterator that never ends on its
   * own: it reconnects when the call fails with UNAVAILABLE (server restart, broken connection)
   * with capped exponential backoff, resumes after the last sequence it received, and never
   * returns a sequence twice. Without {@code afterSequence} it starts at the end of the log as of
   * its first connection. Close it to stop.
   *
   * @throws OutOfRangeException from {@code hasNext()}, when retention already removed entries
   *     after {@code afterSequence}
   */
  public CompletionStream watchCompletions(WatchOptions options) {
    return new CompletionStream(WorkpoolServiceGrpc.newBlockingStub(channel), options);
  }

  /**
   * Watches the completion log like {@link #watchCompletions(WatchOptions)} on a daemon thread
   * that passes each completion to {@code consumer}. Close the returned subscription to stop.
   */
  public CompletionSubscription watchCompletions(
      WatchOptions options, Consumer<Completion> consumer) {
    return new CompletionSubscription(watchCompletions(options), consumer);
  }

  // Pools.

  /**
   * Creates a pool; unset settings take the server's defaults.
   *
   * @throws AlreadyExistsException a pool of that name exists
   */
  public Pool createPool(String name, PoolSettings settings) {
    var request = CreatePoolRequest.newBuilder().setPool(Convert.pool(name, settings)).build();
    return Convert.pool(call(() -> pools().createPool(request)).getPool(), null);
  }

  /** Returns a pool with its counts of unfinished items, or throws {@link NotFoundException}. */
  public Pool getPool(String name) {
    Convert.requireName(name, "pool name");
    var request = GetPoolRequest.newBuilder().setName(name).build();
    GetPoolResponse response = call(() -> pools().getPool(request));
    return Convert.pool(response.getPool(), response.hasStats() ? response.getStats() : null);
  }

  /** Returns every pool in name order, reading all pages. */
  public List<Pool> listPools() {
    List<Pool> result = new ArrayList<>();
    String pageToken = "";
    do {
      var request = ListPoolsRequest.newBuilder().setPageToken(pageToken).build();
      ListPoolsResponse response = call(() -> pools().listPools(request));
      for (var pool : response.getPoolsList()) {
        result.add(Convert.pool(pool, null));
      }
      pageToken = response.getNextPageToken();
    } while (!pageToken.isEmpty());
    return result;
  }

  /** Changes exactly the set settings of a pool; the update mask lists them. */
  public Pool updatePool(String name, PoolSettings settings) {
    var request = Convert.updatePoolRequest(name, settings);
    return Convert.pool(call(() -> pools().updatePool(request)).getPool(), null);
  }

  /**
   * Deletes a pool.
   *
   * @throws FailedPreconditionException the pool has pending or running items
   */
  public void deletePool(String name) {
    Convert.requireName(name, "pool name");
    var request = DeletePoolRequest.newBuilder().setName(name).build();
    call(() -> pools().deletePool(request));
  }

  /**
   * Creates the pool if it is missing, or updates the set settings that differ. Unset settings
   * are not compared, so an existing pool keeps its value and a new one gets the default.
   */
  public Pool ensurePool(String name, PoolSettings settings) {
    Pool current;
    try {
      current = getPool(name);
    } catch (NotFoundException missing) {
      try {
        return createPool(name, settings);
      } catch (AlreadyExistsException raced) {
        // Another process created it between the two calls.
        current = getPool(name);
      }
    }
    PoolSettings changed = settings.differingFrom(current);
    if (changed.setFieldPaths().isEmpty()) {
      return current;
    }
    return updatePool(name, changed);
  }

  private WorkpoolServiceGrpc.WorkpoolServiceBlockingStub workpool() {
    return workpool.withDeadlineAfter(timeout.toMillis(), TimeUnit.MILLISECONDS);
  }

  private PoolServiceGrpc.PoolServiceBlockingStub pools() {
    return pools.withDeadlineAfter(timeout.toMillis(), TimeUnit.MILLISECONDS);
  }

  private static <T> T call(Supplier<T> rpc) {
    try {
      return rpc.get();
    } catch (StatusRuntimeException error) {
      throw Errors.fromThrowable(error);
    }
  }
}
