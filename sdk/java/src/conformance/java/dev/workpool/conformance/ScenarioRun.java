package dev.workpool.conformance;

import dev.workpool.Completion;
import dev.workpool.CompletionSubscription;
import dev.workpool.Continue;
import dev.workpool.EnqueueOptions;
import dev.workpool.FieldViolation;
import dev.workpool.PoolSettings;
import dev.workpool.Result;
import dev.workpool.RetryPolicy;
import dev.workpool.WatchOptions;
import dev.workpool.WorkContext;
import dev.workpool.WorkItem;
import dev.workpool.WorkStatus;
import dev.workpool.Worker;
import dev.workpool.WorkpoolClient;
import dev.workpool.WorkpoolException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;

/** One scenario: its pool, workers, watches, remembered ids and what the handlers recorded. */
final class ScenarioRun implements AutoCloseable {
  private static final Duration EXPECT_TIMEOUT = Duration.ofSeconds(10);
  private static final Duration STOP_GRACE = Duration.ofSeconds(10);

  private final String server;
  private final WorkpoolClient client;
  private final Map<String, Object> scenario;
  private final String pool;
  private final Map<String, Map<String, Object>> functions;

  private final Map<String, String> ids = new ConcurrentHashMap<>();
  private final Map<String, Worker> workers = new HashMap<>();
  private final Map<String, Watch> watches = new HashMap<>();

  // Recorded by the handlers, by work id: runs, first starts and concurrency.
  private final Map<String, AtomicInteger> runs = new ConcurrentHashMap<>();
  private final List<String> startOrder = Collections.synchronizedList(new ArrayList<>());
  // Release tokens: a work id releases every run of the item, "id#attempt" only that run.
  private final Set<String> releases = new HashSet<>();
  // Functions named by on_complete: their runs are follow-ups, which the counts leave out.
  private final Set<String> followUpFunctions = new HashSet<>();
  private final List<Object> recordedArgs = Collections.synchronizedList(new ArrayList<>());
  private final AtomicInteger running = new AtomicInteger();
  private final AtomicInteger maxRunning = new AtomicInteger();

  @SuppressWarnings("unchecked")
  ScenarioRun(String server, WorkpoolClient client, Map<String, Object> scenario) {
    this.server = server;
    this.client = client;
    this.scenario = scenario;
    String suffix = UUID.randomUUID().toString().substring(0, 8);
    this.pool = scenario.get("name") + "-" + suffix;
    this.functions =
        (Map<String, Map<String, Object>>) scenario.getOrDefault("functions", Map.of());
  }

  @SuppressWarnings("unchecked")
  void run() throws Exception {
    client.createPool(pool, poolSettings((Map<String, Object>) scenario.get("pool")));
    List<Map<String, Object>> steps = (List<Map<String, Object>>) scenario.get("steps");
    for (Map<String, Object> step : steps) {
      Map<String, Object> onComplete = (Map<String, Object>) step.get("on_complete");
      if (onComplete != null) {
        followUpFunctions.add((String) onComplete.get("function"));
      }
    }
    for (int index = 0; index < steps.size(); index++) {
      Map<String, Object> step = steps.get(index);
      try {
        runStep(step);
      } catch (Exception | AssertionError error) {
        throw new AssertionError(
            "step " + (index + 1) + " (" + step.get("op") + "): " + error.getMessage(), error);
      }
    }
  }

  @Override
  public void close() {
    for (Watch watch : watches.values()) {
      watch.stop();
    }
    for (Worker worker : workers.values()) {
      worker.shutdownNow();
    }
  }

  // Steps.

  @SuppressWarnings("unchecked")
  private void runStep(Map<String, Object> step) throws Exception {
    String op = (String) step.get("op");
    switch (op) {
      case "enqueue":
        enqueue(step);
        break;
      case "enqueue_batch":
        enqueueBatch(step);
        break;
      case "start_worker":
        startWorker((String) step.get("name"), integer(step.get("capacity")));
        break;
      case "stop_worker":
        stopWorker((String) step.get("name"), Boolean.TRUE.equals(step.get("abrupt")));
        break;
      case "release":
        release(id(step), step.get("attempt"));
        break;
      case "update_pool":
        client.updatePool(
            pool,
            PoolSettings.builder().maxParallelism(integer(step.get("max_parallelism"))).build());
        break;
      case "cancel":
        expectEqual(
            "cancel outcome",
            ((String) step.get("expect")).toUpperCase(Locale.ROOT),
            client.cancel(id(step)).name());
        break;
      case "expect_status":
        eventually(() -> checkStatus(step));
        break;
      case "expect_running":
        eventually(() -> expectEqual("running handlers", integer(step.get("count")), running.get()));
        break;
      case "expect_max_concurrent":
        eventually(() -> checkMaxConcurrent(integer(step.get("max"))));
        break;
      case "expect_started_order":
        eventually(() -> checkStartedOrder((List<Object>) step.get("keys")));
        break;
      case "expect_attempts":
        eventually(() -> expectEqual("handler runs of " + step.get("key"),
            integer(step.get("count")), runsOf(id(step))));
        break;
      case "expect_follow_up":
        eventually(() -> checkFollowUp(step));
        break;
      case "expect_error":
        checkError(step);
        break;
      case "watch_start":
        watchStart((String) step.get("name"));
        break;
      case "watch_stop":
        watch((String) step.get("name")).stop();
        break;
      case "watch_resume":
        watchResume((String) step.get("name"));
        break;
      case "expect_watch":
        eventually(() -> checkWatch((String) step.get("name"), (List<Object>) step.get("keys")));
        break;
      case "sleep_ms":
        Thread.sleep(integer(step.get("ms")));
        break;
      default:
        throw new AssertionError("unknown op " + op);
    }
  }

  @SuppressWarnings("unchecked")
  private void enqueue(Map<String, Object> step) {
    EnqueueOptions.Builder options = EnqueueOptions.builder();
    applyRetry(options, step.get("retry"));
    Map<String, Object> onComplete = (Map<String, Object>) step.get("on_complete");
    if (onComplete != null) {
      options.onComplete((String) onComplete.get("function"), onComplete.get("context"));
    }
    if (step.get("run_after_ms") != null) {
      options.runAfter(Duration.ofMillis(integer(step.get("run_after_ms"))));
    }
    applyScheduling(options, step);
    String workId =
        client.enqueue(pool, (String) step.get("function"), step.get("args"), options.build());
    ids.put((String) step.get("key"), workId);
  }

  @SuppressWarnings("unchecked")
  private void enqueueBatch(Map<String, Object> step) {
    List<Object> keys = (List<Object>) step.get("keys");
    EnqueueOptions.Builder options = EnqueueOptions.builder();
    applyScheduling(options, step);
    EnqueueOptions built = options.build();
    List<WorkItem> items = new ArrayList<>();
    for (int index = 0; index < keys.size(); index++) {
      items.add(new WorkItem((String) step.get("function"), step.get("args"), built));
    }
    List<String> workIds = client.enqueueBatch(pool, items);
    for (int index = 0; index < keys.size(); index++) {
      ids.put((String) keys.get(index), workIds.get(index));
    }
  }

  private void startWorker(String name, int capacity) {
    // Handler threads start concurrently, so the start order is taken from the assignment order.
    Worker.Builder builder =
        Worker.builder(server)
            .security(Security.fromEnvironment())
            .pools(pool)
            .capacity(capacity)
            .name(name)
            .assignmentListener(this::recordStart);
    for (Map.Entry<String, Map<String, Object>> function : functions.entrySet()) {
      Map<String, Object> behaviour = function.getValue();
      builder.handler(function.getKey(), (context, args) -> handle(behaviour, context, args));
    }
    Worker worker = builder.build();
    workers.put(name, worker);
    worker.start();
  }

  private void stopWorker(String name, boolean abrupt) {
    Worker worker = workers.remove(name);
    if (worker == null) {
      throw new AssertionError("no running worker named " + name);
    }
    if (abrupt) {
      worker.shutdownNow();
    } else {
      worker.shutdown(STOP_GRACE);
    }
  }

  private void release(String workId, Object attempt) {
    synchronized (releases) {
      releases.add(attempt == null ? workId : workId + "#" + integer(attempt));
      releases.notifyAll();
    }
  }

  private void awaitRelease(WorkContext context) throws InterruptedException {
    String attemptToken = context.workId() + "#" + context.attempt();
    synchronized (releases) {
      while (!releases.contains(context.workId()) && !releases.contains(attemptToken)) {
        releases.wait();
      }
    }
  }

  private void watchStart(String name) throws InterruptedException {
    Watch watch = watches.computeIfAbsent(name, key -> new Watch());
    watch.start(WatchOptions.builder().pools(pool).build());
    // Wait for the head of the log, so that later completions cannot slip past the watch.
    long deadline = System.nanoTime() + EXPECT_TIMEOUT.toNanos();
    while (watch.subscription.lastSequence() == null) {
      if (System.nanoTime() > deadline) {
        throw new AssertionError("watch " + name + " did not connect within 10 s");
      }
      Thread.sleep(20);
    }
  }

  private void watchResume(String name) {
    Watch watch = watch(name);
    if (watch.lastSequence == null) {
      throw new AssertionError("watch " + name + " never connected, so it cannot resume");
    }
    watch.start(WatchOptions.builder().pools(pool).afterSequence(watch.lastSequence).build());
  }

  private Watch watch(String name) {
    Watch watch = watches.get(name);
    if (watch == null) {
      throw new AssertionError("no watch named " + name);
    }
    return watch;
  }

  // Handlers.

  private Object handle(Map<String, Object> behaviour, WorkContext context, Object args)
      throws Exception {
    if (followUpFunctions.contains(context.function())) {
      return behave(behaviour, context, args);
    }
    runs.computeIfAbsent(context.workId(), id -> new AtomicInteger()).incrementAndGet();
    int now = running.incrementAndGet();
    maxRunning.accumulateAndGet(now, Math::max);
    try {
      return behave(behaviour, context, args);
    } finally {
      running.decrementAndGet();
    }
  }

  private void recordStart(WorkContext context) {
    if (followUpFunctions.contains(context.function())) {
      return;
    }
    synchronized (startOrder) {
      if (!startOrder.contains(context.workId())) {
        startOrder.add(context.workId());
      }
    }
  }

  private Object behave(Map<String, Object> behaviour, WorkContext context, Object args)
      throws Exception {
    String type = (String) behaviour.get("type");
    String error = behaviour.get("error") == null ? "boom" : (String) behaviour.get("error");
    switch (type) {
      case "echo":
        return args;
      case "fail":
        throw new RuntimeException(error);
      case "fail_then_succeed":
        if (context.attempt() <= integer(behaviour.get("failures"))) {
          throw new RuntimeException(error);
        }
        return args;
      case "non_retryable":
        throw new dev.workpool.NonRetryableException(error);
      case "block":
        awaitRelease(context);
        if (behaviour.get("failures") != null
            && context.attempt() <= integer(behaviour.get("failures"))) {
          throw new RuntimeException(error);
        }
        return args;
      case "wait_for_cancel":
        context.awaitCancel();
        if ("fail".equals(behaviour.get("then"))) {
          throw new RuntimeException("stopped after cancel");
        }
        return Map.of("finished", "after cancel");
      case "record":
        recordedArgs.add(args);
        return args;
      case "continue":
        // Continues with {round: n + 1} until round reaches times.
        int round = args instanceof Map<?, ?> map && map.get("round") != null
            ? integer(map.get("round"))
            : 0;
        if (round < integer(behaviour.get("times"))) {
          return new Continue(Map.of("round", round + 1));
        }
        return args;
      default:
        throw new IllegalStateException("unknown function type " + type);
    }
  }

  // Checks.

  private void checkStatus(Map<String, Object> step) {
    WorkStatus status = client.status(id(step));
    expectEqual("state", ((String) step.get("state")).toUpperCase(Locale.ROOT),
        status.state().name());
    if (step.get("previous_attempts") != null) {
      expectEqual("previous_attempts", integer(step.get("previous_attempts")),
          status.previousAttempts());
    }
    if (step.containsKey("concurrency_key")) {
      expectEqual("concurrency_key", step.get("concurrency_key"),
          status.concurrencyKey() == null ? "" : status.concurrencyKey());
    }
    if (step.get("priority") != null) {
      expectEqual("priority", integer(step.get("priority")), status.priority());
    }
    if (step.get("continuations") != null) {
      expectEqual("continuations", integer(step.get("continuations")), status.continuations());
    }
    Result result = status.result();
    if (step.get("result") != null) {
      expectEqual("result", ((String) step.get("result")).toUpperCase(Locale.ROOT),
          result == null ? null : result.kind().name());
    }
    if (step.containsKey("return_value")) {
      expectEqual("return_value", step.get("return_value"),
          result == null ? null : result.returnValue());
    }
    if (step.get("error_contains") != null) {
      String expected = (String) step.get("error_contains");
      String error = result != null && result.error() != null ? result.error() : status.lastError();
      if (error == null || !error.contains(expected)) {
        throw new AssertionError("error " + error + " does not contain " + expected);
      }
    }
  }

  private void checkMaxConcurrent(int max) {
    if (maxRunning.get() > max) {
      throw new AssertionError(maxRunning.get() + " handlers ran at once, more than " + max);
    }
  }

  private void checkStartedOrder(List<Object> keys) {
    List<String> started;
    synchronized (startOrder) {
      started = new ArrayList<>(startOrder);
    }
    List<String> startedKeys = new ArrayList<>();
    for (String workId : started) {
      startedKeys.add(keyOf(workId));
    }
    if (startedKeys.size() < keys.size() || !startedKeys.subList(0, keys.size()).equals(keys)) {
      throw new AssertionError("first starts were " + startedKeys + ", expected " + keys);
    }
  }

  @SuppressWarnings("unchecked")
  private void checkFollowUp(Map<String, Object> step) {
    String workId = id(step);
    List<Map<String, Object>> matches = new ArrayList<>();
    synchronized (recordedArgs) {
      for (Object args : recordedArgs) {
        if (args instanceof Map && workId.equals(((Map<String, Object>) args).get("work_id"))) {
          matches.add((Map<String, Object>) args);
        }
      }
    }
    expectEqual("follow-ups recorded for " + step.get("key"), 1, matches.size());
    Map<String, Object> args = matches.get(0);
    Map<String, Object> result = (Map<String, Object>) args.get("result");
    expectEqual("follow-up result kind", step.get("result"), result == null ? null : result.get("kind"));
    if (step.containsKey("context")) {
      expectEqual("follow-up context", step.get("context"), args.get("context"));
    }
    if (step.containsKey("return_value")) {
      expectEqual("follow-up return_value", step.get("return_value"), result.get("return_value"));
    }
  }

  @SuppressWarnings("unchecked")
  private void checkError(Map<String, Object> step) {
    Map<String, Object> request = (Map<String, Object>) step.get("request");
    String call = (String) step.get("call");
    try {
      if ("enqueue".equals(call)) {
        EnqueueOptions.Builder options = EnqueueOptions.builder();
        applyRetry(options, request.get("retry"));
        client.enqueue(pool, (String) request.get("function"), request.get("args"), options.build());
      } else if ("status".equals(call)) {
        client.status((String) request.get("work_id"));
      } else {
        throw new AssertionError("unknown call " + call);
      }
    } catch (WorkpoolException error) {
      expectEqual("status code", step.get("code"), error.code().name());
      String field = (String) step.get("field");
      if (field != null) {
        boolean named = false;
        for (FieldViolation violation : error.fieldViolations()) {
          named |= violation.field().contains(field);
        }
        if (!named) {
          throw new AssertionError(
              "field violations " + error.fieldViolations() + " do not name " + field);
        }
      }
      return;
    } catch (IllegalArgumentException rejectedBySdk) {
      // The SDK checks some input before any call, such as max_attempts below 1. Its message
      // names the field in Java's spelling, so accept the camelCase form of the last part.
      expectEqual("status code", step.get("code"), "INVALID_ARGUMENT");
      String field = (String) step.get("field");
      if (field != null) {
        String last = field.substring(field.lastIndexOf('.') + 1);
        String message = String.valueOf(rejectedBySdk.getMessage());
        if (!message.contains(last) && !message.contains(camelCase(last))) {
          throw new AssertionError("error message " + message + " does not name " + last);
        }
      }
      return;
    }
    throw new AssertionError("the call succeeded, expected " + step.get("code"));
  }

  private void checkWatch(String name, List<Object> keys) {
    List<Completion> seen = watch(name).snapshot();
    List<String> seenKeys = new ArrayList<>();
    long previous = Long.MIN_VALUE;
    for (Completion completion : seen) {
      if (completion.sequence() <= previous) {
        throw new AssertionError("sequence " + completion.sequence() + " after " + previous);
      }
      previous = completion.sequence();
      seenKeys.add(keyOf(completion.workId()));
    }
    List<String> sortedSeen = new ArrayList<>(seenKeys);
    List<String> sortedExpected = new ArrayList<>();
    for (Object key : keys) {
      sortedExpected.add((String) key);
    }
    Collections.sort(sortedSeen);
    Collections.sort(sortedExpected);
    if (!sortedSeen.equals(sortedExpected)) {
      throw new AssertionError("watch " + name + " saw " + seenKeys + ", expected " + keys);
    }
  }

  // Helpers.

  @SuppressWarnings("unchecked")
  private static void applyRetry(EnqueueOptions.Builder options, Object retry) {
    if (retry instanceof Boolean) {
      options.retry((Boolean) retry);
    } else if (retry instanceof Map) {
      options.retry(retryPolicy((Map<String, Object>) retry));
    }
  }

  private static RetryPolicy retryPolicy(Map<String, Object> policy) {
    RetryPolicy.Builder builder = RetryPolicy.builder();
    if (policy.get("max_attempts") != null) {
      builder.maxAttempts(integer(policy.get("max_attempts")));
    }
    if (policy.get("initial_backoff_ms") != null) {
      builder.initialBackoff(Duration.ofMillis(integer(policy.get("initial_backoff_ms"))));
    }
    if (policy.get("base") != null) {
      builder.base(((Number) policy.get("base")).doubleValue());
    }
    if (policy.get("max_backoff_ms") != null) {
      builder.maxBackoff(Duration.ofMillis(integer(policy.get("max_backoff_ms"))));
    }
    return builder.build();
  }

  /** Applies the concurrency_key, priority and attempt_timeout_ms fields of a step. */
  private static void applyScheduling(EnqueueOptions.Builder options, Map<String, Object> step) {
    if (step.get("concurrency_key") != null) {
      options.concurrencyKey((String) step.get("concurrency_key"));
    }
    if (step.get("priority") != null) {
      options.priority(integer(step.get("priority")));
    }
    if (step.get("attempt_timeout_ms") != null) {
      options.attemptTimeout(Duration.ofMillis(integer(step.get("attempt_timeout_ms"))));
    }
  }

  private static final Set<String> POOL_FIELDS =
      Set.of(
          "max_parallelism",
          "retry_by_default",
          "default_retry",
          "max_per_key",
          "priority_aging_ms",
          "default_attempt_timeout_ms");

  @SuppressWarnings("unchecked")
  private static PoolSettings poolSettings(Map<String, Object> settings) {
    PoolSettings.Builder builder = PoolSettings.builder();
    if (settings == null) {
      return builder.build();
    }
    for (String field : settings.keySet()) {
      if (!POOL_FIELDS.contains(field)) {
        throw new AssertionError("unknown pool field " + field);
      }
    }
    if (settings.get("max_parallelism") != null) {
      builder.maxParallelism(integer(settings.get("max_parallelism")));
    }
    if (settings.get("retry_by_default") != null) {
      builder.retryByDefault((Boolean) settings.get("retry_by_default"));
    }
    if (settings.get("default_retry") != null) {
      builder.defaultRetry(retryPolicy((Map<String, Object>) settings.get("default_retry")));
    }
    if (settings.get("max_per_key") != null) {
      builder.maxPerKey(integer(settings.get("max_per_key")));
    }
    if (settings.get("priority_aging_ms") != null) {
      builder.priorityAging(Duration.ofMillis(integer(settings.get("priority_aging_ms"))));
    }
    if (settings.get("default_attempt_timeout_ms") != null) {
      builder.defaultAttemptTimeout(
          Duration.ofMillis(integer(settings.get("default_attempt_timeout_ms"))));
    }
    return builder.build();
  }

  private static String camelCase(String snake) {
    StringBuilder camel = new StringBuilder();
    boolean upper = false;
    for (char letter : snake.toCharArray()) {
      if (letter == '_') {
        upper = true;
      } else {
        camel.append(upper ? Character.toUpperCase(letter) : letter);
        upper = false;
      }
    }
    return camel.toString();
  }

  private String id(Map<String, Object> step) {
    String key = (String) step.get("key");
    String workId = ids.get(key);
    if (workId == null) {
      throw new AssertionError("no item was enqueued under the key " + key);
    }
    return workId;
  }

  private String keyOf(String workId) {
    for (Map.Entry<String, String> entry : ids.entrySet()) {
      if (entry.getValue().equals(workId)) {
        return entry.getKey();
      }
    }
    return "(unknown " + workId + ")";
  }

  private int runsOf(String workId) {
    AtomicInteger count = runs.get(workId);
    return count == null ? 0 : count.get();
  }

  private static int integer(Object number) {
    return ((Number) Objects.requireNonNull(number, "missing number")).intValue();
  }

  private static void expectEqual(String label, Object expected, Object actual) {
    if (!Objects.equals(normalize(expected), normalize(actual))) {
      throw new AssertionError(label + " is " + actual + ", expected " + expected);
    }
  }

  // Gson and the SDK both return numbers as Double, but the runner's own counts are Integers.
  private static Object normalize(Object value) {
    if (value instanceof Number) {
      return ((Number) value).doubleValue();
    }
    if (value instanceof Map) {
      Map<Object, Object> copy = new LinkedHashMap<>();
      ((Map<?, ?>) value).forEach((key, item) -> copy.put(key, normalize(item)));
      return copy;
    }
    if (value instanceof List) {
      List<Object> copy = new ArrayList<>();
      for (Object item : (List<?>) value) {
        copy.add(normalize(item));
      }
      return copy;
    }
    return value;
  }

  private interface Check {
    void run() throws Exception;
  }

  /** Runs {@code check} until it passes, for up to 10 s; then rethrows its last failure. */
  private static void eventually(Check check) throws Exception {
    long deadline = System.nanoTime() + EXPECT_TIMEOUT.toNanos();
    while (true) {
      try {
        check.run();
        return;
      } catch (AssertionError | WorkpoolException failure) {
        if (System.nanoTime() > deadline) {
          throw failure;
        }
      }
      Thread.sleep(20);
    }
  }

  /** A named watch whose completions survive a stop and a resume. */
  private final class Watch {
    private final List<Completion> completions = Collections.synchronizedList(new ArrayList<>());
    private CompletionSubscription subscription;
    private Long lastSequence;

    void start(WatchOptions options) {
      stop();
      subscription = client.watchCompletions(options, completions::add);
    }

    void stop() {
      if (subscription != null) {
        subscription.close();
        if (subscription.lastSequence() != null) {
          lastSequence = subscription.lastSequence();
        }
        subscription = null;
      }
    }

    List<Completion> snapshot() {
      synchronized (completions) {
        return new ArrayList<>(completions);
      }
    }
  }
}
