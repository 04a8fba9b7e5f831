package dev.workpool;

import io.grpc.Grpc;
import io.grpc.ManagedChannel;
import io.grpc.ManagedChannelBuilder;
import io.grpc.Metadata;
import io.grpc.stub.MetadataUtils;
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
    return open(target, ChannelSecurity.plaintext());
  }

  /** Opens a channel with the given TLS setup and token, and the keepalive settings above. */
  static ManagedChannel open(String target, ChannelSecurity security) {
    Convert.requireName(target, "target (a server address such as 127.0.0.1:50051)");
    ManagedChannelBuilder<?> builder =
        Grpc.newChannelBuilder(target, security.credentials())
            .keepAliveTime(30, TimeUnit.SECONDS)
            .keepAliveTimeout(10, TimeUnit.SECONDS)
            .keepAliveWithoutCalls(true)
            .maxInboundMessageSize(MAX_MESSAGE_BYTES);
    security
        .token()
        .ifPresent(
            token -> {
              Metadata headers = new Metadata();
              headers.put(ChannelSecurity.AUTHORIZATION, "Bearer " + token);
              builder.intercept(MetadataUtils.newAttachHeadersInterceptor(headers));
            });
    return builder.build();
  }
}
