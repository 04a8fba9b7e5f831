package dev.workpool.conformance;

import com.google.gson.Gson;
import com.google.gson.GsonBuilder;
import com.google.gson.JsonPrimitive;
import com.google.gson.JsonSerializer;
import dev.workpool.Completion;
import dev.workpool.CompletionSubscription;
import dev.workpool.Result;
import dev.workpool.WatchOptions;
import dev.workpool.Worker;
import dev.workpool.WorkpoolClient;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.logging.Level;
import java.util.logging.Logger;
import java.util.stream.Collectors;
import java.util.stream.Stream;

/**
 * Conformance runner of the Java SDK: runs the JSON scenarios against a real server using only
 * the SDK's public client and worker, and serves the cross-language roles.
 *
 * <pre>
 * Runner --server 127.0.0.1:PORT --scenarios DIR [--only NAME]
 * Runner --server 127.0.0.1:PORT --role enqueue|worker|watch --pool P --count N [--after S]
 * </pre>
 */
public final class Runner {
  // Integral numbers print without a fraction, as the other languages print them.
  private static final Gson GSON =
      new GsonBuilder()
          .serializeNulls()
          .registerTypeAdapter(
              Double.class,
              (JsonSerializer<Double>)
                  (number, type, context) ->
                      number == Math.rint(number) && Math.abs(number) <= 9007199254740992.0
                          ? new JsonPrimitive(number.longValue())
                          : new JsonPrimitive(number))
          .create();
  // java.util.logging keeps loggers by weak reference, so the level holds only while these do.
  private static final Logger SDK_LOGGER = Logger.getLogger("dev.workpool");
  private static final Logger GRPC_LOGGER = Logger.getLogger("io.grpc");

  private Runner() {}

  public static void main(String[] argv) throws Exception {
    Map<String, String> options = parseOptions(argv);
    if (!options.containsKey("server")) {
      usage("--server is required");
    }
    // Logs go to standard error; keep only warnings and errors, so failures stay easy to find.
    SDK_LOGGER.setLevel(Level.WARNING);
    GRPC_LOGGER.setLevel(Level.WARNING);

    String role = options.get("role");
    if (role != null) {
      System.exit(Roles.run(role, options));
    }
    if (!options.containsKey("scenarios")) {
      usage("--scenarios is required without --role");
    }
    System.exit(runScenarios(options.get("server"), Path.of(options.get("scenarios")),
        options.get("only")));
  }

  private static int runScenarios(String server, Path folder, String only) throws IOException {
    List<Path> files;
    try (Stream<Path> listing = Files.list(folder)) {
      files =
          listing
              .filter(path -> path.getFileName().toString().endsWith(".json"))
              .sorted()
              .collect(Collectors.toList());
    }
    int passed = 0;
    int failed = 0;
    try (WorkpoolClient client = new WorkpoolClient(server, Security.fromEnvironment())) {
      for (Path file : files) {
        @SuppressWarnings("unchecked")
        Map<String, Object> scenario = GSON.fromJson(Files.readString(file), Map.class);
        String name = String.valueOf(scenario.get("name"));
        if (only != null && !only.equals(name)) {
          continue;
        }
        try (ScenarioRun run = new ScenarioRun(server, client, scenario)) {
          run.run();
          System.out.println("PASS " + name);
          passed++;
        } catch (Exception | AssertionError error) {
          String reason = error.getMessage() == null ? error.toString() : error.getMessage();
          System.out.println("FAIL " + name + ": " + reason.replace('\n', ' '));
          failed++;
        }
        System.out.flush();
      }
    }
    System.out.println("java: " + passed + " passed, " + failed + " failed");
    return failed == 0 ? 0 : 1;
  }

  static Map<String, String> parseOptions(String[] argv) {
    Map<String, String> options = new LinkedHashMap<>();
    for (int index = 0; index < argv.length; index++) {
      String arg = argv[index];
      if (!arg.startsWith("--") || index + 1 >= argv.length) {
        usage("invalid argument " + arg);
      }
      options.put(arg.substring(2), argv[++index]);
    }
    return options;
  }

  static void usage(String problem) {
    System.err.println(problem);
    System.err.println(
        "usage: Runner --server HOST:PORT --scenarios DIR [--only NAME]\n"
            + "       Runner --server HOST:PORT --role enqueue|worker|watch --pool P --count N"
            + " [--after S]");
    System.exit(2);
  }

  /** The cross-language roles; each prints one JSON object a line. */
  static final class Roles {
    private Roles() {}

    static int run(String role, Map<String, String> options) throws Exception {
      String server = options.get("server");
      String pool = required(options, "pool");
      int count = Integer.parseInt(required(options, "count"));
      switch (role) {
        case "enqueue":
          try (WorkpoolClient client = new WorkpoolClient(server, Security.fromEnvironment())) {
            for (int index = 0; index < count; index++) {
              String workId = client.enqueue(pool, "echo", Map.of("index", index));
              print(Map.of("work_id", workId));
            }
          }
          return 0;
        case "worker":
          return serve(server, pool, count);
        case "watch":
          return watch(server, pool, Long.parseLong(required(options, "after")), count);
        default:
          usage("unknown role " + role);
          return 2;
      }
    }

    private static int serve(String server, String pool, int count) throws InterruptedException {
      CountDownLatch done = new CountDownLatch(count);
      Worker worker =
          Worker.builder(server)
              .security(Security.fromEnvironment())
              .pools(pool)
              .capacity(4)
              .handler(
                  "echo",
                  (context, args) -> {
                    done.countDown();
                    return args;
                  })
              .build();
      worker.start();
      done.await();
      worker.shutdown(Duration.ofSeconds(10));
      return worker.failure() == null ? 0 : 1;
    }

    private static int watch(String server, String pool, long after, int count)
        throws InterruptedException {
      CountDownLatch done = new CountDownLatch(count);
      try (WorkpoolClient client = new WorkpoolClient(server, Security.fromEnvironment())) {
        WatchOptions options = WatchOptions.builder().pools(pool).afterSequence(after).build();
        try (CompletionSubscription subscription =
            client.watchCompletions(
                options,
                completion -> {
                  if (done.getCount() == 0) {
                    return;
                  }
                  print(describe(completion));
                  done.countDown();
                })) {
          while (!done.await(100, TimeUnit.MILLISECONDS)) {
            if (subscription.failure() != null) {
              throw subscription.failure();
            }
          }
        }
      }
      return 0;
    }

    private static Map<String, Object> describe(Completion completion) {
      Map<String, Object> line = new LinkedHashMap<>();
      line.put("sequence", completion.sequence());
      line.put("work_id", completion.workId());
      Result result = completion.result();
      line.put("result", result.kind().name().toLowerCase());
      if (result.kind() == Result.Kind.SUCCESS) {
        line.put("return_value", result.returnValue());
      } else if (result.kind() == Result.Kind.FAILURE) {
        line.put("error", result.error());
      }
      return line;
    }

    private static synchronized void print(Object line) {
      System.out.println(GSON.toJson(line));
      System.out.flush();
    }

    private static String required(Map<String, String> options, String name) {
      String value = options.get(name);
      if (value == null) {
        usage("--" + name + " is required with --role");
      }
      return value;
    }
  }
}
