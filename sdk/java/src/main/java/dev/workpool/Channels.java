package dev.workpool;

import io.grpc.Grpc;
import io.grpc.InsecureChannelCredentials;
import io.grpc.ManagedChannel;
import java.util.concurrent.TimeUnit;

/** Channel settings shared by the client and the worker. */
final class Channels {
  /** Message size limit in both directions, 64 MiB like the server's. */
  static final int MAX_MESSAGE_BYTES = 64 * 1024 * 1024;

  private Channels() {}

  /**
   * Opens a plaintext channel with keepalive pings every 30 s, idle connections included.
   *
   * <p>The server accepts a ping every 20 s or more, so 30 s never triggers its GOAWAY
   * "too_many_pings". The pings let an idle watch or worker stream notice a dead connection
   * within about 40 s (interval plus the 10 s timeout) instead of waiting for TCP.
   */
  static ManagedChannel open(String target) {
    Convert.requireName(target, "target (a server address such as 127.0.0.1:50051)");
    return Grpc.newChannelBuilder(target, InsecureChannelCredentials.create())
        .keepAliveTime(30, TimeUnit.SECONDS)
        .keepAliveTimeout(10, TimeUnit.SECONDS)
        .keepAliveWithoutCalls(true)
        .maxInboundMessageSize(MAX_MESSAGE_BYTES)
        .build();
  }
}
