package dev.workpool;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.workpool.v1.Completion;
import dev.workpool.v1.Success;
import dev.workpool.v1.WatchCompletionsRequest;
import dev.workpool.v1.WatchCompletionsResponse;
import dev.workpool.v1.WorkpoolServiceGrpc;
import io.grpc.ManagedChannel;
import io.grpc.Server;
import io.grpc.Status;
import io.grpc.inprocess.InProcessChannelBuilder;
import io.grpc.inprocess.InProcessServerBuilder;
import io.grpc.stub.StreamObserver;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.BiConsumer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** The watch's resume bookkeeping, against an in-process fake of the WorkpoolService. */
class CompletionStreamTest {
  private final List<WatchCompletionsRequest> requests = new CopyOnWriteArrayList<>();
  private Server server;
  private ManagedChannel channel;

  @AfterEach
  void stop() {
    channel.shutdownNow();
    server.shutdownNow();
  }

  @Test
  void reconnectsAfterUnavailableWithoutRepeats() throws Exception {
    start(
        (call, responses) -> {
          if (call == 0) {
            responses.onNext(head(5));
            responses.onNext(batch(6, 7));
            responses.onError(Status.UNAVAILABLE.withDescription("shutting down").asException());
          } else {
            // The replay repeats 7, which the stream already returned.
            responses.onNext(head(8));
            responses.onNext(batch(7, 8));
          }
        });
    CompletionStream stream = stream(WatchOptions.builder().pools("p").build());

    List<Long> sequences = new ArrayList<>();
    for (int index = 0; index < 3; index++) {
      sequences.add(stream.next().sequence());
    }
    stream.close();

    assertEquals(List.of(6L, 7L, 8L), sequences);
    assertEquals(8L, stream.lastSequence());
    assertFalse(requests.get(0).hasAfterSequence());
    assertEquals(7L, requests.get(1).getAfterSequence());
    assertEquals(List.of("p"), requests.get(1).getPoolsList());
  }

  @Test
  void resumesFromHeadWhenNothingArrived() throws Exception {
    start(
        (call, responses) -> {
          if (call == 0) {
            responses.onNext(head(41));
            responses.onError(Status.UNAVAILABLE.asException());
          } else {
            responses.onNext(head(42));
            responses.onNext(batch(42));
          }
        });
    CompletionStream stream = stream(WatchOptions.builder().build());

    assertEquals(42L, stream.next().sequence());
    stream.close();

    assertEquals(41L, requests.get(1).getAfterSequence());
  }

  @Test
  void outOfRangeIsThrown() throws Exception {
    start((call, responses) -> responses.onError(Status.OUT_OF_RANGE.asException()));
    CompletionStream stream = stream(WatchOptions.builder().afterSequence(3).build());

    assertThrows(OutOfRangeException.class, stream::hasNext);
    assertEquals(3L, requests.get(0).getAfterSequence());
  }

  @Test
  void closeEndsBlockedHasNext() throws Exception {
    start((call, responses) -> responses.onNext(head(1)));
    CompletionStream stream = stream(WatchOptions.builder().build());

    Thread closer =
        new Thread(
            () -> {
              try {
                Thread.sleep(200);
              } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
              }
              stream.close();
            });
    closer.start();

    assertFalse(stream.hasNext());
    closer.join();
  }

  private CompletionStream stream(WatchOptions options) {
    return new CompletionStream(WorkpoolServiceGrpc.newBlockingStub(channel), options);
  }

  private void start(BiConsumer<Integer, StreamObserver<WatchCompletionsResponse>> behaviour)
      throws Exception {
    String name = InProcessServerBuilder.generateName();
    server =
        InProcessServerBuilder.forName(name)
            .directExecutor()
            .addService(
                new WorkpoolServiceGrpc.WorkpoolServiceImplBase() {
                  @Override
                  public void watchCompletions(
                      WatchCompletionsRequest request,
                      StreamObserver<WatchCompletionsResponse> responses) {
                    int call = requests.size();
                    requests.add(request);
                    behaviour.accept(call, responses);
                  }
                })
            .build()
            .start();
    channel = InProcessChannelBuilder.forName(name).directExecutor().build();
  }

  private static WatchCompletionsResponse head(long sequence) {
    return WatchCompletionsResponse.newBuilder().setHeadSequence(sequence).build();
  }

  private static WatchCompletionsResponse batch(long... sequences) {
    WatchCompletionsResponse.Builder response = WatchCompletionsResponse.newBuilder();
    for (long sequence : sequences) {
      response.addCompletions(
          Completion.newBuilder()
              .setSequence(sequence)
              .setWorkId("wk_" + sequence)
              .setResult(
                  dev.workpool.v1.Result.newBuilder().setSuccess(Success.getDefaultInstance())));
      response.setHeadSequence(sequence);
    }
    return response.build();
  }
}
