package dev.workpool.conformance;

import dev.workpool.ChannelSecurity;
import java.nio.file.Path;

/**
 * Connection settings of the runners: TLS when WORKPOOL_CA_FILE names the CA's PEM file, and a bearer token
 * when WORKPOOL_TOKEN is set. The orchestrator sets both for the scenarios and neither for the
 * cross-language flows.
 */
final class Security {
  private Security() {}

  static ChannelSecurity fromEnvironment() {
    String caFile = System.getenv("WORKPOOL_CA_FILE");
    ChannelSecurity security =
        caFile == null || caFile.isEmpty()
            ? ChannelSecurity.plaintext()
            : ChannelSecurity.tls(Path.of(caFile));
    String token = System.getenv("WORKPOOL_TOKEN");
    if (token != null && !token.isEmpty()) {
      security = security.withToken(token);
    }
    return security;
  }
}
