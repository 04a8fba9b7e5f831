package dev.workpool;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Client and worker against a real server that this class starts on a free loopback port with a
 * temporary SQLite file. The server command is the repository's .venv/bin/workpool, or the path
 * in WORKPOOL_SERVER_BIN; without it the tests are skipped.
 */
class ServerTest {
  private static Process server;
  private static Path folder;
  private static String target;
  private static WorkpoolClient client;

  @BeforeAll
  static void startServer() throws Exception {
    String configured = System.getenv("WORKPOOL_SERVER_BIN");
    Path binary =
        configured != null ? Path.of(configured) : Path.of("../../.venv/bin/workpool").toAbsolutePath();
    assumeTrue(Files.isExecutable(binary), "no Workpool server at " + binary);

    folder = Files.createTempDirectory("workpool-java-test");
    int port;
    try (ServerSocket socket = new ServerSocket(0, 0, java.net.InetAddress.getLoopbackAddress())) {
      port = socket.getLocalPort();
    }
    target = "127.0.0.1:" + port;
    server =
        new ProcessBuilder(
                binary.toString(), "serve",
                "--database-url", "sqlite:///" + folder.resolve("test.db"),
                "--listen", target,
                "--http-listen", "",
                "--lease-duration", "2s",
                "--heartbeat-interval", "500ms")
            .redirectErrorStream(true)
            .redirectOutput(folder.resolve("server.log").toFile())
            .start();
    waitFor(() -> accepts(port), Duration.ofSeconds(30), "server to listen on " + target);
    client = new WorkpoolClient(target);
  }

  @AfterAll
  static void stopServer() throws Exception {
    if (client != null) {
      client.close();
    }
    if (server != null) {
      server.destroy();
      if (!server.waitFor(10, TimeUnit.SECONDS)) {
        server.destroyForcibly();
      }
    }
  }

  @Test
  void workerRunsEnqueuedItemAndWatchSeesIt() throws Exception {
    String pool = newPool(PoolSettings.builder().maxParallelism(2).build());
    Worker worker =
        Worker.builder(target).pools(pool).capacity(2).handler("echo", (context, args) -> args).build();
    worker.start();
    try {
      var response =
          client.enqueueWithSequence(pool, "echo", Map.of("n", 1), EnqueueOptions.none());
      String workId = response.getWorkId();
      try (CompletionStream watch =
          client.watchCompletions(
              WatchOptions.builder()
                  .workIds(List.of(workId))
                  .afterSequence(response.getCompletionSequence())
                  .build())) {
        Completion completion = watch.next();
        assertEquals(workId, completion.workId());
        assertEquals(Result.success(Map.of("n", 1.0)), completion.result());
        assertEquals(1, completion.attempts());
      }
      WorkStatus status = client.status(workId);
      assertEquals(WorkState.FINISHED, status.state());
      assertEquals(1, status.previousAttempts());
      assertEquals(List.of(status), client.statusBatch(List.of(workId)));
    } finally {
      worker.shutdown(Duration.ofSeconds(5));
    }
    assertNull(worker.failure());
  }

  @Test
  void errorsMapToExceptions() {
    String pool = newPool(PoolSettings.none());

    assertThrows(NotFoundException.class, () -> client.enqueue("missing-" + pool, "f", null));
    assertThrows(AlreadyExistsException.class, () -> client.createPool(pool, PoolSettings.none()));
    InvalidArgumentException malformed =
        assertThrows(InvalidArgumentException.class, () -> client.status("not-an-id"));
    assertFalse(malformed.fieldViolations().isEmpty(), malformed.getMessage());
    assertEquals("work_id", malformed.fieldViolations().get(0).field());
    assertEquals(WorkState.NOT_FOUND, client.statusBatch(List.of("wk_01JD9V6GQ8M3T6Y4D3W0Y5B7ZC")).get(0).state());
  }

  @Test
  void poolCallsCreateUpdateEnsureDelete() {
    String pool = newPool(PoolSettings.builder().maxParallelism(3).build());

    assertEquals(3, client.getPool(pool).maxParallelism());
    assertEquals(0, client.getPool(pool).stats().pendingCount());
    assertEquals(5, client.updatePool(pool, PoolSettings.builder().maxParallelism(5).build()).maxParallelism());
    Pool ensured =
        client.ensurePool(pool, PoolSettings.builder().maxParallelism(5).retryByDefault(true).build());
    assertTrue(ensured.retryByDefault());
    assertTrue(client.listPools().stream().anyMatch(listed -> listed.name().equals(pool)));
    client.deletePool(pool);
    assertThrows(NotFoundException.class, () -> client.getPool(pool));
  }

  @Test
  void cancelReachesRunningHandler() throws Exception {
    String pool = newPool(PoolSettings.none());
    CountDownLatch started = new CountDownLatch(1);
    Worker worker =
        Worker.builder(target)
            .pools(pool)
            .capacity(1)
            .handler(
                "wait",
                (context, args) -> {
                  started.countDown();
                  assertTrue(context.awaitCancel(Duration.ofSeconds(10)));
                  return context.cancelCause().name();
                })
            .build();
    worker.start();
    try {
      String workId = client.enqueue(pool, "wait", null);
      assertTrue(started.await(10, TimeUnit.SECONDS));
      assertEquals(CancelOutcome.CANCEL_REQUESTED, client.cancel(workId));
      // A handler that still returns after the request reports success.
      waitFor(() -> client.status(workId).state() == WorkState.FINISHED, Duration.ofSeconds(10), "finish");
      assertEquals(Result.success("REQUESTED"), client.status(workId).result());
      assertEquals(CancelOutcome.ALREADY_FINISHED, client.cancel(workId));
    } finally {
      worker.shutdown(Duration.ofSeconds(5));
    }
  }

  @Test
  void nonRetryableFailureEndsItem() throws Exception {
    String pool = newPool(PoolSettings.none());
    AtomicInteger runs = new AtomicInteger();
    Worker worker =
        Worker.builder(target)
            .pools(pool)
            .handler(
                "charge",
                (context, args) -> {
                  runs.incrementAndGet();
                  throw new NonRetryableException("card declined");
                })
            .build();
    worker.start();
    try {
      EnqueueOptions options =
          EnqueueOptions.builder()
              .retry(RetryPolicy.builder().maxAttempts(5).initialBackoff(Duration.ofMillis(10)).build())
              .build();
      String workId = client.enqueue(pool, "charge", null, options);
      waitFor(() -> client.status(workId).state() == WorkState.FINISHED, Duration.ofSeconds(10), "finish");
      Result result = client.status(workId).result();
      assertEquals(Result.Kind.FAILURE, result.kind());
      assertTrue(result.error().contains("card declined"), result.error());
      assertEquals(1, runs.get());
    } finally {
      worker.shutdown(Duration.ofSeconds(5));
    }
  }

  @Test
  void capacityBoundsRunningHandlers() throws Exception {
    String pool = newPool(PoolSettings.builder().maxParallelism(10).build());
    AtomicInteger running = new AtomicInteger();
    AtomicInteger maxRunning = new AtomicInteger();
    Worker worker =
        Worker.builder(target)
            .pools(pool)
            .capacity(2)
            .handler(
                "slow",
                (context, args) -> {
                  maxRunning.accumulateAndGet(running.incrementAndGet(), Math::max);
                  Thread.sleep(100);
                  running.decrementAndGet();
                  return null;
                })
            .build();
    worker.start();
    try {
      List<String> ids =
          client.enqueueBatch(pool, List.of(WorkItem.of("slow", 1), WorkItem.of("slow", 2),
              WorkItem.of("slow", 3), WorkItem.of("slow", 4), WorkItem.of("slow", 5)));
      waitFor(
          () -> client.statusBatch(ids).stream().allMatch(s -> s.state() == WorkState.FINISHED),
          Duration.ofSeconds(15),
          "all items to finish");
      assertEquals(2, maxRunning.get());
    } finally {
      worker.shutdown(Duration.ofSeconds(5));
    }
  }

  @Test
  void attemptTimeoutCancelsHandler() throws Exception {
    String pool = newPool(PoolSettings.none());
    AtomicReference<WorkContext.CancelCause> cause = new AtomicReference<>();
    AtomicReference<Instant> deadline = new AtomicReference<>();
    Worker worker =
        Worker.builder(target)
            .pools(pool)
            .capacity(1)
            .handler(
                "wait",
                (context, args) -> {
                  deadline.set(context.deadline());
                  assertTrue(context.awaitCancel(Duration.ofSeconds(10)));
                  cause.set(context.cancelCause());
                  throw new IllegalStateException("stopped after timeout");
                })
            .build();
    worker.start();
    try {
      EnqueueOptions options =
          EnqueueOptions.builder().attemptTimeout(Duration.ofMillis(200)).retry(false).build();
      String workId = client.enqueue(pool, "wait", null, options);

      waitFor(() -> client.status(workId).state() == WorkState.FINISHED, Duration.ofSeconds(10), "finish");
      waitFor(() -> cause.get() != null, Duration.ofSeconds(10), "the handler to see the cancel");
      assertEquals(WorkContext.CancelCause.TIMEOUT, cause.get());
      assertTrue(deadline.get() != null, "the assignment carried no deadline");
      assertEquals(Result.Kind.FAILURE, client.status(workId).result().kind());
    } finally {
      worker.shutdown(Duration.ofSeconds(5));
    }
  }

  @Test
  void continueRunsItemAgain() throws Exception {
    String pool = newPool(PoolSettings.none());
    Worker worker =
        Worker.builder(target)
            .pools(pool)
            .capacity(1)
            .handler(
                "page",
                (context, args) -> {
                  int page = ((Number) ((Map<?, ?>) args).get("page")).intValue();
                  if (page < 3) {
                    return new Continue(Map.of("page", page + 1));
                  }
                  return Map.of("last_page", page);
                })
            .build();
    worker.start();
    try {
      String workId = client.enqueue(pool, "page", Map.of("page", 1));

      waitFor(() -> client.status(workId).state() == WorkState.FINISHED, Duration.ofSeconds(10), "finish");
      WorkStatus status = client.status(workId);
      assertEquals(Result.success(Map.of("last_page", 3.0)), status.result());
      assertEquals(2, status.continuations());
    } finally {
      worker.shutdown(Duration.ofSeconds(5));
    }
  }

  @Test
  void schedulingSettingsRoundTrip() {
    PoolSettings settings =
        PoolSettings.builder()
            .maxPerKey(2)
            .priorityAging(Duration.ofMillis(250))
            .rateLimit(new RateLimit(50, 5))
            .defaultAttemptTimeout(Duration.ofSeconds(30))
            .circuitBreaker(CircuitBreaker.of(0.5))
            .build();
    String pool = newPool(settings);

    Pool created = client.getPool(pool);
    String workId =
        client.enqueue(
            pool,
            "f",
            null,
            EnqueueOptions.builder().concurrencyKey("tenant-a").priority(-7).build());
    WorkStatus status = client.status(workId);

    assertEquals(2, created.maxPerKey());
    assertEquals(Duration.ofMillis(250), created.priorityAging());
    assertEquals(new RateLimit(50, 5), created.rateLimit());
    assertEquals(Duration.ofSeconds(30), created.defaultAttemptTimeout());
    assertEquals(0.5, created.circuitBreaker().failureRate());
    assertEquals(CircuitState.CLOSED, created.stats().circuitState());
    assertEquals("tenant-a", status.concurrencyKey());
    assertEquals(-7, status.priority());
  }

  @Test
  void gracefulShutdownReportsRunningHandler() throws Exception {
    String pool = newPool(PoolSettings.none());
    CountDownLatch started = new CountDownLatch(1);
    Worker worker =
        Worker.builder(target)
            .pools(pool)
            .handler(
                "slow",
                (context, args) -> {
                  started.countDown();
                  Thread.sleep(500);
                  return "done";
                })
            .build();
    worker.start();
    String workId = client.enqueue(pool, "slow", null);
    assertTrue(started.await(10, TimeUnit.SECONDS));
    worker.shutdown(Duration.ofSeconds(5));

    assertTrue(worker.awaitTermination(Duration.ZERO));
    WorkStatus status = client.status(workId);
    assertEquals(WorkState.FINISHED, status.state());
    assertEquals(Result.success("done"), status.result());
  }

  private static String newPool(PoolSettings settings) {
    String name = "java-test-" + UUID.randomUUID().toString().substring(0, 8);
    client.createPool(name, settings);
    return name;
  }

  private static boolean accepts(int port) {
    try (Socket socket = new Socket("127.0.0.1", port)) {
      return true;
    } catch (IOException refused) {
      return false;
    }
  }

  private static void waitFor(BooleanSupplier condition, Duration timeout, String description)
      throws InterruptedException {
    long deadline = System.nanoTime() + timeout.toNanos();
    while (!condition.getAsBoolean()) {
      if (System.nanoTime() > deadline) {
        throw new AssertionError("timed out waiting for " + description);
      }
      Thread.sleep(20);
    }
  }
}
