package dev.workpool;

import io.grpc.ChannelCredentials;
import io.grpc.InsecureChannelCredentials;
import io.grpc.Metadata;
import io.grpc.TlsChannelCredentials;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.Objects;
import java.util.Optional;

/**
 * Transport security and bearer token of the channels that the client and the worker open.
 *
 * <pre>{@code
 * ChannelSecurity security =
 *     ChannelSecurity.tls(Path.of("ca.pem")).withToken(System.getenv("WORKPOOL_TOKEN"));
 * WorkpoolClient client = new WorkpoolClient("workpool.internal:50051", security);
 * }</pre>
 *
 * <p>The token travels as {@code authorization: Bearer TOKEN} metadata on every call, over
 * plaintext too, which a server on loopback may use; beyond loopback, combine it with TLS.
 */
public final class ChannelSecurity {
  static final Metadata.Key<String> AUTHORIZATION =
      Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER);

  private final Path caFile;
  private final Path certFile;
  private final Path keyFile;
  private final boolean tls;
  private final String token;

  private ChannelSecurity(boolean tls, Path caFile, Path certFile, Path keyFile, String token) {
    this.tls = tls;
    this.caFile = caFile;
    this.certFile = certFile;
    this.keyFile = keyFile;
    this.token = token;
  }

  /** No TLS and no token: the default. */
  public static ChannelSecurity plaintext() {
    return new ChannelSecurity(false, null, null, null, null);
  }

  /** TLS that trusts the CA in the PEM file {@code caFile}. */
  public static ChannelSecurity tls(Path caFile) {
    return new ChannelSecurity(true, Objects.requireNonNull(caFile, "caFile"), null, null, null);
  }

  /** TLS that trusts the system's root certificates. */
  public static ChannelSecurity tlsWithSystemRoots() {
    return new ChannelSecurity(true, null, null, null, null);
  }

  /** Adds the client certificate and key (PEM files) for a server that requires mutual TLS. */
  public ChannelSecurity withClientCertificate(Path certFile, Path keyFile) {
    if (!tls) {
      throw new IllegalStateException(
          "a client certificate needs TLS; start from ChannelSecurity.tls(caFile)");
    }
    return new ChannelSecurity(
        true,
        caFile,
        Objects.requireNonNull(certFile, "certFile"),
        Objects.requireNonNull(keyFile, "keyFile"),
        token);
  }

  /** Adds a bearer token, as made by {@code workpool token create}. */
  public ChannelSecurity withToken(String token) {
    if (token == null || token.isEmpty() || !token.chars().allMatch(c -> c > 0x20 && c < 0x7f)) {
      throw new IllegalArgumentException(
          "token must be a non-empty string of printable ASCII without spaces");
    }
    return new ChannelSecurity(tls, caFile, certFile, keyFile, token);
  }

  Optional<String> token() {
    return Optional.ofNullable(token);
  }

  ChannelCredentials credentials() {
    if (!tls) {
      return InsecureChannelCredentials.create();
    }
    try {
      TlsChannelCredentials.Builder builder = TlsChannelCredentials.newBuilder();
      if (caFile != null) {
        builder.trustManager(caFile.toFile());
      }
      if (certFile != null) {
        builder.keyManager(certFile.toFile(), keyFile.toFile());
      }
      return builder.build();
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read the TLS files: " + e.getMessage(), e);
    }
  }
}
