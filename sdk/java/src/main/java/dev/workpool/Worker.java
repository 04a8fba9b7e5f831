package dev.workpool;

import dev.workpool.v1.Assignment;
import dev.workpool.v1.AttemptResult;
import dev.workpool.v1.CancelAttempt;
import dev.workpool.v1.CancelReason;
import dev.workpool.v1.Credit;
import dev.workpool.v1.Heartbeat;
import dev.workpool.v1.Hello;
import dev.workpool.v1.ResultAck;
import dev.workpool.v1.WorkRequest;
import dev.workpool.v1.WorkResponse;
import dev.workpool.v1.WorkerServiceGrpc;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.stub.ClientCallStreamObserver;
import io.grpc.stub.ClientResponseObserver;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Consumer;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * Runs handlers for the work items of one or more pools over a {@code WorkerService.Work}
 * stream.
 *
 * <pre>{@code
 * Worker worker = Worker.builder("127.0.0.1:50051")
 *     .pools("emails")
 *     .capacity(10)
 *     .handler("email.send", (context, args) -> send((Map<?, ?>) args))
 *     .build();
 * worker.start();
 * ...
 * worker.shutdown(Duration.ofSeconds(30));
 * }</pre>
 *
 * <p>At most {@code capacity} handlers run at once, on a pool of that many threads shared by all
 * the worker's pools. The hello grants the server {@code capacity} credits; each assignment uses
 * one, and the worker grants one back in the same message as each result. Heartbeats renew the
 * leases of all running attempts at the interval of the server's welcome. When the stream fails,
 * the server has already ended every attempt leased to it as "worker lost": the worker signals
 * those handlers to cancel, drops their results and reconnects with capped exponential backoff.
 */
public final class Worker implements AutoCloseable {
  /** Largest capacity that the server accepts. */
  public static final int MAX_CAPACITY = 10_000;

  private static final Logger logger = Logger.getLogger(Worker.class.getName());
  private static final Duration INITIAL_RECONNECT_DELAY = Duration.ofMillis(500);
  // Heartbeat interval used when the welcome carries none.
  private static final Duration FALLBACK_HEARTBEAT = Duration.ofSeconds(10);
  // How long a stopping worker waits for the server to end the stream after the half-close.
  private static final Duration CLOSE_TIMEOUT = Duration.ofSeconds(5);
  // Codes after which a reconnect would fail the same way. NOT_FOUND is not among them, because
  // a worker may start before a client creates its pool.
  private static final Set<Status.Code> FATAL_CODES =
      Set.of(
          Status.Code.INVALID_ARGUMENT,
          Status.Code.UNAUTHENTICATED,
          Status.Code.PERMISSION_DENIED,
          Status.Code.UNIMPLEMENTED);

  private final List<String> pools;
  private final int capacity;
  private final String name;
  private final Map<String, Handler> handlers;
  private final Consumer<WorkContext> assignmentListener;
  private final ManagedChannel channel;
  private final WorkerServiceGrpc.WorkerServiceStub stub;
  private final Backoff backoff;
  private final ExecutorService handlerThreads;
  private final ScheduledExecutorService scheduler;
  private final CountDownLatch terminated = new CountDownLatch(1);

  // State below is guarded by `this`.
  private Session session;
  private final Set<Attempt> attempts = new HashSet<>();
  private boolean started;
  private boolean stopping;
  private boolean finished;
  private WorkpoolException failure;

  private Worker(Builder builder) {
    this.pools = List.copyOf(builder.pools);
    this.capacity = builder.capacity;
    this.name = builder.name != null ? builder.name : defaultName();
    this.handlers = Map.copyOf(builder.handlers);
    this.assignmentListener = builder.assignmentListener;
    this.channel = Channels.open(builder.target, builder.security);
    this.stub = WorkerServiceGrpc.newStub(channel);
    this.backoff = new Backoff(INITIAL_RECONNECT_DELAY, builder.maxReconnectDelay);
    this.handlerThreads = Executors.newFixedThreadPool(capacity, daemonThreads("workpool-handler"));
    this.scheduler = Executors.newSingleThreadScheduledExecutor(daemonThreads("workpool-worker"));
  }

  /** Starts a builder for a worker connected to {@code target}, such as 127.0.0.1:50051. */
  public static Builder builder(String target) {
    return new Builder(target);
  }

  /** Registered function names, sorted as the hello lists them. */
  public List<String> functions() {
    return List.copyOf(new TreeSet<>(handlers.keySet()));
  }

  /** Connects and starts taking work; returns at once. A worker starts only once. */
  public synchronized void start() {
    if (started) {
      throw new IllegalStateException("the worker was already started; build a new one");
    }
    started = true;
    logger.info(
        "Worker starting: name=" + name + " pools=" + pools + " functions=" + functions()
            + " capacity=" + capacity);
    scheduler.execute(this::connect);
  }

  /**
   * Stops taking work, lets running handlers report, then closes.
   *
   * <p>The worker grants no more credit, waits up to {@code grace} for running handlers to finish
   * and for the server to acknowledge their results, then closes the stream. Attempts still
   * running then get the {@link WorkContext.CancelCause#SHUTDOWN} signal and an interrupt, and
   * the server ends them as "worker lost", retried per their policy. Blocks until the worker has
   * stopped.
   */
  public void shutdown(Duration grace) {
    Objects.requireNonNull(grace, "grace");
    long deadline = System.nanoTime() + grace.toNanos();
    Session closing;
    synchronized (this) {
      if (!started || finished) {
        closing = null;
      } else {
        closing = drain(grace, deadline);
      }
    }
    if (closing != null) {
      awaitSessionEnd(closing, CLOSE_TIMEOUT);
    }
    finish();
  }

  // Waits for running handlers to report, then half-closes the stream and returns it.
  private Session drain(Duration grace, long deadline) {
    if (!stopping) {
      stopping = true;
      logger.info("Worker stopping: name=" + name + " grace=" + grace);
    }
    try {
      while (!isDrained()) {
        long remaining = deadline - System.nanoTime();
        if (remaining <= 0) {
          logger.warning(
              "Worker stop grace period elapsed with attempts running: " + runningIds());
          break;
        }
        TimeUnit.NANOSECONDS.timedWait(this, remaining);
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    Session closing = session;
    if (closing == null || closing.closed) {
      return null;
    }
    // Half-close: the server ends the stream once it has read everything.
    closing.halfClosed = true;
    closing.requests.onCompleted();
    return closing;
  }

  /**
   * Closes the connection at once without reporting, as a crash would. The server ends the
   * attempts leased to the stream as "worker lost"; their handlers get the {@link
   * WorkContext.CancelCause#STREAM_CLOSED} signal and an interrupt.
   */
  public void shutdownNow() {
    Session closing;
    synchronized (this) {
      stopping = true;
      closing = session;
      if (closing != null) {
        closing.closed = true;
      }
    }
    if (closing != null && closing.requests != null) {
      closing.requests.cancel("worker shut down without a grace period", null);
    }
    finish();
  }

  /** Same as {@code shutdown(Duration.ofSeconds(30))}. */
  @Override
  public void close() {
    shutdown(Duration.ofSeconds(30));
  }

  /** Blocks up to {@code timeout} until the worker has stopped; returns whether it has. */
  public boolean awaitTermination(Duration timeout) throws InterruptedException {
    return terminated.await(timeout.toNanos(), TimeUnit.NANOSECONDS);
  }

  /**
   * Returns the error that stopped the worker on its own, such as INVALID_ARGUMENT for a hello the
   * server rejected, or {@code null}.
   */
  public synchronized WorkpoolException failure() {
    return failure;
  }

  // Connection.

  private void connect() {
    Session next;
    synchronized (this) {
      if (stopping) {
        return;
      }
      next = new Session();
      session = next;
    }
    stub.work(new ResponseObserver(next));
    Hello hello =
        Hello.newBuilder()
            .addAllPools(pools)
            .addAllFunctions(functions())
            .setCapacity(capacity)
            .setWorkerName(name)
            .build();
    synchronized (this) {
      send(next, WorkRequest.newBuilder().setHello(hello).build());
    }
  }

  private final class ResponseObserver
      implements ClientResponseObserver<WorkRequest, WorkResponse> {
    private final Session session;

    ResponseObserver(Session session) {
      this.session = session;
    }

    @Override
    public void beforeStart(ClientCallStreamObserver<WorkRequest> requests) {
      session.requests = requests;
    }

    @Override
    public void onNext(WorkResponse response) {
      handleResponse(session, response);
    }

    @Override
    public void onError(Throwable error) {
      endSession(session, Status.fromThrowable(error), error);
    }

    @Override
    public void onCompleted() {
      endSession(session, Status.OK, null);
    }
  }

  private synchronized void handleResponse(Session current, WorkResponse response) {
    if (current.closed) {
      return;
    }
    if (!current.welcomed) {
      if (!response.hasWelcome()) {
        logger.severe("Server's first worker stream message has no welcome; reconnecting");
        current.requests.cancel("the first message had no welcome", null);
        return;
      }
      welcome(current, response);
    }
    for (Assignment assignment : response.getAssignmentsList()) {
      startAttempt(current, assignment);
    }
    for (CancelAttempt cancel : response.getCancelsList()) {
      cancelAttempt(current, cancel);
    }
    for (ResultAck ack : response.getAcksList()) {
      current.unacked.remove(new AttemptKey(ack.getWorkId(), ack.getAttempt()));
      if (!ack.getAccepted()) {
        logger.info(
            "Server ignored a stale result: work_id=" + ack.getWorkId() + " attempt="
                + ack.getAttempt());
      }
    }
    notifyAll();
  }

  private void welcome(Session current, WorkResponse response) {
    current.welcomed = true;
    current.workerId = response.getWelcome().getWorkerId();
    Duration interval = Convert.duration(response.getWelcome().getHeartbeatInterval());
    if (interval.isZero() || interval.isNegative()) {
      interval = FALLBACK_HEARTBEAT;
    }
    backoff.reset();
    logger.info("Worker connected: worker_id=" + current.workerId + " heartbeat=" + interval);
    current.heartbeats =
        scheduler.scheduleAtFixedRate(
            () -> heartbeat(current),
            interval.toMillis(),
            interval.toMillis(),
            TimeUnit.MILLISECONDS);
  }

  private synchronized void endSession(Session ended, Status status, Throwable error) {
    boolean wasClosed = ended.closed;
    ended.closed = true;
    ended.ended.countDown();
    if (ended.heartbeats != null) {
      ended.heartbeats.cancel(false);
    }
    if (session == ended) {
      session = null;
    }
    List<Attempt> orphans = new ArrayList<>(ended.running.values());
    for (Attempt attempt : orphans) {
      attempt.context.requestCancel(WorkContext.CancelCause.STREAM_CLOSED);
    }
    if (!orphans.isEmpty()) {
      logger.warning(
          "Worker stream closed with attempts running; their results will be dropped: "
              + ended.running.keySet());
    }
    notifyAll();

    if (stopping || wasClosed) {
      return;
    }
    if (FATAL_CODES.contains(status.getCode())) {
      failure = Errors.fromThrowable(error);
      logger.log(Level.SEVERE, "Worker stream rejected; the worker stops", failure);
      stopping = true;
      scheduler.execute(this::finish);
      return;
    }
    if (!ended.welcomed) {
      // A failed connection attempt logs at FINE, so a long outage does not flood the logs.
      logger.fine("Worker failed to connect; retrying: " + status);
    } else if (status.isOk()) {
      logger.info("Server ended the worker stream; reconnecting");
    } else {
      logger.warning("Worker stream failed; reconnecting: " + status);
    }
    Duration delay = backoff.nextDelay();
    try {
      scheduler.schedule(this::connect, delay.toMillis(), TimeUnit.MILLISECONDS);
    } catch (RejectedExecutionException shuttingDown) {
      // finish() already stopped the scheduler.
    }
  }

  private void heartbeat(Session current) {
    synchronized (this) {
      if (current.closed) {
        return;
      }
      List<String> ids = new ArrayList<>();
      for (Attempt attempt : current.running.values()) {
        if (!attempt.leaseLost) {
          ids.add(attempt.context.workId());
        }
      }
      if (ids.isEmpty()) {
        return;
      }
      send(current, WorkRequest.newBuilder().setHeartbeat(Heartbeat.newBuilder().addAllWorkIds(ids)).build());
    }
  }

  // Attempts.

  private void startAttempt(Session current, Assignment assignment) {
    WorkContext context =
        new WorkContext(
            assignment.getWorkId(),
            assignment.getAttempt(),
            assignment.getPool(),
            assignment.getFunction(),
            assignment.hasLeaseExpiresAt() ? Convert.instant(assignment.getLeaseExpiresAt()) : null,
            assignment.hasDeadline() ? Convert.instant(assignment.getDeadline()) : null);
    Attempt attempt = new Attempt(current, context);
    if (current.running.containsKey(attempt.key)) {
      logger.severe("Duplicate assignment ignored: " + attempt.key);
      return;
    }
    // An assignment that arrives while the worker stops still runs: the protocol has no way to
    // hand it back without ending the attempt.
    current.running.put(attempt.key, attempt);
    attempts.add(attempt);
    if (assignmentListener != null) {
      try {
        assignmentListener.accept(context);
      } catch (RuntimeException error) {
        logger.log(Level.WARNING, "Assignment listener failed: " + describe(context), error);
      }
    }
    Object args = assignment.hasArgs() ? Values.fromValue(assignment.getArgs()) : null;
    try {
      handlerThreads.execute(() -> execute(attempt, args));
    } catch (RejectedExecutionException shuttingDown) {
      current.running.remove(attempt.key);
      attempts.remove(attempt);
    }
  }

  private void cancelAttempt(Session current, CancelAttempt cancel) {
    Attempt attempt = current.running.get(new AttemptKey(cancel.getWorkId(), cancel.getAttempt()));
    if (attempt == null) {
      return;
    }
    if (cancel.getReason() == CancelReason.CANCEL_REASON_LEASE_LOST) {
      attempt.leaseLost = true;
      logger.warning("Lease lost; the attempt's result will be dropped: " + attempt.key);
      attempt.context.requestCancel(WorkContext.CancelCause.LEASE_LOST);
    } else if (cancel.getReason() == CancelReason.CANCEL_REASON_TIMEOUT) {
      logger.info("Attempt timed out; canceling its handler: " + attempt.key);
      attempt.context.requestCancel(WorkContext.CancelCause.TIMEOUT);
    } else {
      logger.info("Cancel requested: " + attempt.key);
      attempt.context.requestCancel(WorkContext.CancelCause.REQUESTED);
    }
  }

  private void execute(Attempt attempt, Object args) {
    WorkContext context = attempt.context;
    AttemptResult result = null;
    try {
      if (!attempt.session.closed && !attempt.leaseLost) {
        result = run(context, args);
      }
    } finally {
      finishAttempt(attempt, result);
    }
  }

  private AttemptResult run(WorkContext context, Object args) {
    Handler handler = handlers.get(context.function());
    if (handler == null) {
      // The hello listed only registered functions, so this is a server bug.
      logger.severe("Assignment for an unregistered function " + context.function());
      return Convert.failure(
          context.workId(),
          context.attempt(),
          "no handler is registered for " + context.function() + " on this worker",
          true);
    }
    Object value;
    try {
      value = handler.handle(context, args);
    } catch (NonRetryableException error) {
      logger.log(Level.WARNING, "Handler failed; not retrying: " + describe(context), error);
      return Convert.failure(context.workId(), context.attempt(), errorMessage(error), true);
    } catch (Exception error) {
      logger.log(Level.WARNING, "Handler failed: " + describe(context), error);
      return Convert.failure(context.workId(), context.attempt(), errorMessage(error), false);
    }
    try {
      if (value instanceof Continue continuation) {
        return Convert.continuation(context.workId(), context.attempt(), continuation.args());
      }
      return Convert.success(context.workId(), context.attempt(), value);
    } catch (IllegalArgumentException error) {
      // The same code returns the same kind of value on every retry.
      logger.warning(
          "Handler returned a value or continuation args with no JSON form: " + describe(context));
      return Convert.failure(context.workId(), context.attempt(), errorMessage(error), true);
    }
  }

  private synchronized void finishAttempt(Attempt attempt, AttemptResult result) {
    Session current = attempt.session;
    current.running.remove(attempt.key);
    attempts.remove(attempt);
    if (current.closed) {
      if (result != null) {
        logger.warning("Result dropped because its worker stream closed: " + attempt.key);
      }
    } else {
      WorkRequest.Builder request = WorkRequest.newBuilder();
      if (attempt.leaseLost || result == null) {
        logger.info("Result dropped because the lease was lost: " + attempt.key);
      } else {
        request.addResults(result);
        current.unacked.add(attempt.key);
      }
      // A stopping worker grants no credit, so the server assigns it nothing more.
      if (!stopping) {
        request.setCredit(Credit.newBuilder().setCount(1));
      }
      if (request.getResultsCount() > 0 || request.hasCredit()) {
        send(current, request.build());
      }
    }
    notifyAll();
  }

  // Sending and stopping; callers hold the lock.

  private void send(Session current, WorkRequest request) {
    if (current.closed || current.halfClosed || current.requests == null) {
      return;
    }
    try {
      current.requests.onNext(request);
    } catch (RuntimeException error) {
      // The call already failed; the response observer receives its status.
      logger.log(Level.FINE, "Send on a failed worker stream", error);
    }
  }

  private boolean isDrained() {
    Session current = session;
    return current == null
        || current.closed
        || (current.running.isEmpty() && current.unacked.isEmpty());
  }

  private String runningIds() {
    List<String> ids = new ArrayList<>();
    for (Attempt attempt : attempts) {
      ids.add(attempt.key.toString());
    }
    return ids.toString();
  }

  private void awaitSessionEnd(Session closing, Duration timeout) {
    try {
      if (!closing.ended.await(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
        // The server did not end the stream after the half-close.
        closing.requests.cancel("worker stopped", null);
      }
    } catch (InterruptedException e) {
      closing.requests.cancel("worker stopped", null);
      Thread.currentThread().interrupt();
    }
  }

  private void finish() {
    synchronized (this) {
      stopping = true;
      if (finished) {
        return;
      }
      finished = true;
      session = null;
      if (!attempts.isEmpty()) {
        logger.warning("Worker closing with attempts running; canceling them: " + runningIds());
      }
      for (Attempt attempt : attempts) {
        attempt.context.requestCancel(WorkContext.CancelCause.SHUTDOWN);
      }
    }
    // Handlers that ignore the cancel signal get an interrupt; one that ignores both keeps its
    // daemon thread until it returns, and its result is dropped.
    handlerThreads.shutdownNow();
    scheduler.shutdownNow();
    channel.shutdownNow();
    try {
      channel.awaitTermination(5, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    logger.info("Worker stopped: name=" + name);
    terminated.countDown();
  }

  private static String describe(WorkContext context) {
    return "work_id=" + context.workId() + " attempt=" + context.attempt() + " function="
        + context.function() + " pool=" + context.pool();
  }

  private static String errorMessage(Throwable error) {
    String message = error.getMessage();
    return error.getClass().getSimpleName() + ": " + (message == null ? "" : message);
  }

  private static String defaultName() {
    String host;
    try {
      host = InetAddress.getLocalHost().getHostName();
    } catch (UnknownHostException e) {
      host = "unknown-host";
    }
    return host + ":" + ProcessHandle.current().pid();
  }

  private static ThreadFactory daemonThreads(String prefix) {
    AtomicInteger count = new AtomicInteger();
    return runnable -> {
      Thread thread = new Thread(runnable, prefix + "-" + count.incrementAndGet());
      thread.setDaemon(true);
      return thread;
    };
  }

  private record AttemptKey(String workId, int attempt) {
    @Override
    public String toString() {
      return workId + "#" + attempt;
    }
  }

  /** One assignment from its arrival until its result is sent or dropped. */
  private static final class Attempt {
    final Session session;
    final WorkContext context;
    final AttemptKey key;
    volatile boolean leaseLost;

    Attempt(Session session, WorkContext context) {
      this.session = session;
      this.context = context;
      this.key = new AttemptKey(context.workId(), context.attempt());
    }
  }

  /** State of one Work stream, from its start until it ends. */
  private static final class Session {
    volatile ClientCallStreamObserver<WorkRequest> requests;
    final Map<AttemptKey, Attempt> running = new LinkedHashMap<>();
    final Set<AttemptKey> unacked = new HashSet<>();
    final CountDownLatch ended = new CountDownLatch(1);
    String workerId;
    ScheduledFuture<?> heartbeats;
    boolean welcomed;
    volatile boolean closed;
    boolean halfClosed;
  }

  /** Builder of a {@link Worker}. */
  public static final class Builder {
    private final String target;
    private final List<String> pools = new ArrayList<>();
    private int capacity = 10;
    private String name;
    private final Map<String, Handler> handlers = new HashMap<>();
    private Duration maxReconnectDelay = Duration.ofSeconds(30);
    private Consumer<WorkContext> assignmentListener;
    private ChannelSecurity security = ChannelSecurity.plaintext();

    private Builder(String target) {
      Convert.requireName(target, "target (a server address such as 127.0.0.1:50051)");
      this.target = target;
    }

    /** Pools to take work from; at least one. */
    public Builder pools(String... pools) {
      return pools(List.of(pools));
    }

    public Builder pools(List<String> pools) {
      for (String pool : pools) {
        Convert.requireName(pool, "pool");
        this.pools.add(pool);
      }
      return this;
    }

    /** Handlers run at once, across all pools: 1 to {@value Worker#MAX_CAPACITY}; default 10. */
    public Builder capacity(int capacity) {
      if (capacity < 1 || capacity > MAX_CAPACITY) {
        throw new IllegalArgumentException(
            "capacity is " + capacity + "; use 1 to " + MAX_CAPACITY + " handlers at once");
      }
      this.capacity = capacity;
      return this;
    }

    /** Name for server logs; default host name and process id. */
    public Builder name(String name) {
      this.name = name;
      return this;
    }

    /** Upper bound of the delay between reconnect attempts; default 30 s. */
    public Builder maxReconnectDelay(Duration maxReconnectDelay) {
      this.maxReconnectDelay = Objects.requireNonNull(maxReconnectDelay, "maxReconnectDelay");
      return this;
    }

    /**
     * Sets a listener called with each assignment's context in the order the server sent them,
     * before its handler is scheduled. Handlers start concurrently on their threads, so this is
     * the one place where that order is kept. It runs on a gRPC thread and must not block.
     */
    public Builder assignmentListener(Consumer<WorkContext> listener) {
      this.assignmentListener = listener;
      return this;
    }

    /** TLS and bearer token of the worker's channel; the token needs the worker role. */
    public Builder security(ChannelSecurity security) {
      this.security = Objects.requireNonNull(security, "security");
      return this;
    }

    /** Registers the handler for work items that call {@code function}. */
    public Builder handler(String function, Handler handler) {
      Convert.requireName(function, "function");
      Objects.requireNonNull(handler, "handler");
      if (handlers.putIfAbsent(function, handler) != null) {
        throw new IllegalArgumentException("a handler for " + function + " is already registered");
      }
      return this;
    }

    /**
     * Registers an on-complete follow-up handler. Follow-up args that cannot be decoded fail the
     * follow-up without a retry.
     */
    public Builder onComplete(String function, CompletionHandler handler) {
      Objects.requireNonNull(handler, "handler");
      return handler(
          function,
          (context, args) -> {
            CompletionEvent event;
            try {
              event = CompletionEvent.fromArgs(args);
            } catch (IllegalArgumentException malformed) {
              // Malformed follow-up args stay malformed on every retry.
              throw new NonRetryableException(malformed.getMessage(), malformed);
            }
            return handler.handle(context, event);
          });
    }

    public Worker build() {
      if (pools.isEmpty()) {
        throw new IllegalStateException("no pool is set; call pools(...) with at least one pool");
      }
      if (handlers.isEmpty()) {
        throw new IllegalStateException(
            "no handler is registered; call handler(function, handler) before build()");
      }
      return new Worker(this);
    }
  }
}
