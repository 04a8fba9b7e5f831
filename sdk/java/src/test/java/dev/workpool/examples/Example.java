package dev.workpool.examples;

import dev.workpool.CompletionStream;
import dev.workpool.EnqueueOptions;
import dev.workpool.NonRetryableException;
import dev.workpool.PoolSettings;
import dev.workpool.RetryPolicy;
import dev.workpool.WatchOptions;
import dev.workpool.WorkItem;
import dev.workpool.Worker;
import dev.workpool.WorkpoolClient;
import java.time.Duration;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/** The README's example: a pool, a worker, three enqueued items and a watch of their results. */
public final class Example {
  public static void main(String[] args) throws Exception {
    String target = args.length > 0 ? args[0] : "127.0.0.1:50051";

    Worker worker =
        Worker.builder(target)
            .pools("emails")
            .capacity(10)
            .handler(
                "email.send",
                (context, input) -> {
                  String to = (String) ((Map<?, ?>) input).get("to");
                  if (!to.contains("@")) {
                    // Retrying cannot fix a bad address.
                    throw new NonRetryableException("invalid address " + to);
                  }
                  Thread.sleep(100); // Stands for the call to the mail provider.
                  return Map.of("sent_to", to, "attempt", context.attempt());
                })
            .onComplete(
                "email.done",
                (context, event) -> {
                  System.out.println(
                      "follow-up: " + event.workId() + " " + event.result().kind()
                          + " context=" + event.context());
                  return null;
                })
            .build();
    worker.start();

    try (WorkpoolClient client = new WorkpoolClient(target)) {
      client.ensurePool(
          "emails",
          PoolSettings.builder()
              .maxParallelism(5)
              .retryByDefault(true)
              .defaultRetry(
                  RetryPolicy.builder().maxAttempts(3).initialBackoff(Duration.ofSeconds(1)).build())
              .build());

      EnqueueOptions options =
          EnqueueOptions.builder().onComplete("email.done", Map.of("campaign", "welcome")).build();
      List<String> workIds =
          client.enqueueBatch(
              "emails",
              List.of(
                  new WorkItem("email.send", Map.of("to", "ada@example.com"), options),
                  new WorkItem("email.send", Map.of("to", "grace@example.com"), options),
                  new WorkItem("email.send", Map.of("to", "nobody"), options)));

      // afterSequence(0) replays the log from its start, so the watch cannot miss an item that
      // finished before it connected. The workIds filter keeps only these items.
      Set<String> pending = new HashSet<>(workIds);
      try (CompletionStream completions =
          client.watchCompletions(WatchOptions.builder().workIds(workIds).afterSequence(0).build())) {
        while (!pending.isEmpty() && completions.hasNext()) {
          var completion = completions.next();
          System.out.println(completion.workId() + " " + completion.result());
          pending.remove(completion.workId());
        }
      }
    }

    worker.shutdown(Duration.ofSeconds(10));
  }
}
