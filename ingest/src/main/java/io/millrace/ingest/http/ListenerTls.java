package io.millrace.ingest.http;

import io.helidon.common.configurable.Resource;
import io.helidon.common.pki.Keys;
import io.helidon.common.tls.Tls;
import io.helidon.common.tls.TlsClientAuth;
import io.helidon.common.tls.TlsConfig;
import io.helidon.webserver.WebServer;
import io.millrace.ingest.config.Config;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.PrivateKey;
import java.security.PublicKey;
import java.security.SecureRandom;
import java.security.Signature;
import java.security.cert.X509Certificate;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The listener's TLS from PEM files ({@code MILLRACE_TLS_CERT}, {@code MILLRACE_TLS_KEY}, optional
 * {@code MILLRACE_TLS_CLIENT_CA}), and its reloading when they change.
 *
 * <p>{@link #load} reads and checks the files: a missing or unreadable file, a file with no
 * certificate or key, or a key that does not belong to the certificate is an {@link IOException}
 * whose message names the variable and the file; the service does not start. With a client CA,
 * clients must present a certificate it signed (TLS {@code need_client_auth}); without one, none is
 * asked for.
 *
 * <p>{@link #watch} checks the files every {@code MILLRACE_TLS_RELOAD_MS} on a daemon thread of its
 * own; when their bytes changed and they pass the same checks, the server's TLS is reloaded ({@link
 * WebServer#reloadTls}): new handshakes use the new certificate, open connections keep theirs.
 * Files that fail the checks (a rotation half done: the new certificate, the old key) are logged
 * once and the old material kept; the next check tries again. The thread ends when the server stops
 * or {@link #close} is called.
 */
final class ListenerTls implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(ListenerTls.class);

  /** The files' bytes as last loaded, and the TLS made of them. */
  private record Material(byte[] cert, byte[] key, byte[] ca, Tls tls, X509Certificate leaf) {
    boolean sameFiles(Material m) {
      return Arrays.equals(cert, m.cert) && Arrays.equals(key, m.key) && Arrays.equals(ca, m.ca);
    }
  }

  private final Config config;
  private final CountDownLatch closed = new CountDownLatch(1);
  private volatile Material current;

  private ListenerTls(Config config, Material material) {
    this.config = config;
    this.current = material;
  }

  /**
   * Reads and checks the TLS files.
   *
   * @param config with {@link Config#tls()} true
   * @return the listener's TLS
   * @throws IOException a file is missing, unreadable, or not what it should be (the message names
   *     the variable and the file), or the key is not the certificate's
   */
  static ListenerTls load(Config config) throws IOException {
    return new ListenerTls(config, read(config));
  }

  /** {@return the TLS to start the listener with (or that it runs with now)} */
  Tls tls() {
    return current.tls();
  }

  /** {@return the certificate served now (the first of the chain)} */
  X509Certificate certificate() {
    return current.leaf();
  }

  /**
   * Starts checking the files for changes, and reloads the server's TLS when they change.
   *
   * @param server the running server whose default listener serves {@link #tls()}
   */
  void watch(WebServer server) {
    Thread.ofPlatform()
        .daemon()
        .name("millrace-tls-watch")
        .start(
            () -> {
              try {
                while (!closed.await(config.tlsReloadMs(), TimeUnit.MILLISECONDS)
                    && server.isRunning()) {
                  check(server);
                }
              } catch (InterruptedException e) {
                Thread.currentThread().interrupt(); // ends the watch
              }
            });
  }

  private byte[] lastRejected; // the cert bytes of the last files rejected: logged once

  private void check(WebServer server) {
    Material now;
    try {
      now = read(config);
    } catch (IOException e) {
      byte[] cert = bytesOrEmpty(config.tlsCert());
      if (!Arrays.equals(cert, lastRejected)) {
        LOG.warn("TLS files not reloaded, the ones loaded before stay in use: {}", e.getMessage());
        lastRejected = cert;
      }
      return;
    }
    lastRejected = null;
    if (now.sameFiles(current)) {
      return;
    }
    try {
      server.reloadTls(now.tls());
    } catch (RuntimeException e) {
      LOG.warn("TLS reload failed, the material loaded before stays in use: {}", e.toString());
      return;
    }
    current = now;
    LOG.info(
        "TLS files reloaded: serving {} (valid until {})",
        now.leaf().getSubjectX500Principal().getName(),
        now.leaf().getNotAfter().toInstant());
  }

  /** Ends the watch (within the check in progress). Idempotent. */
  @Override
  public void close() {
    closed.countDown();
  }

  private static byte[] bytesOrEmpty(Path p) {
    try {
      return Files.readAllBytes(p);
    } catch (IOException e) {
      return new byte[0];
    }
  }

  private static Material read(Config config) throws IOException {
    byte[] certBytes = readFile("MILLRACE_TLS_CERT", config.tlsCert());
    byte[] keyBytes = readFile("MILLRACE_TLS_KEY", config.tlsKey());
    byte[] caBytes =
        config.tlsClientCa() == null
            ? null
            : readFile("MILLRACE_TLS_CLIENT_CA", config.tlsClientCa());

    List<X509Certificate> chain = certificates("MILLRACE_TLS_CERT", config.tlsCert(), certBytes);
    PrivateKey key;
    try {
      key =
          Keys.builder()
              .pem(p -> p.key(Resource.create("MILLRACE_TLS_KEY", keyBytes)))
              .build()
              .privateKey()
              .orElseThrow(() -> new IllegalArgumentException("no private key"));
    } catch (RuntimeException e) {
      throw new IOException(
          "MILLRACE_TLS_KEY="
              + config.tlsKey()
              + " holds no private key this service reads (an unencrypted PEM key: PKCS#8"
              + " 'BEGIN PRIVATE KEY' or PKCS#1 'BEGIN RSA PRIVATE KEY'): "
              + message(e),
          e);
    }
    if (!belongTogether(key, chain.get(0).getPublicKey())) {
      throw new IOException(
          "MILLRACE_TLS_KEY="
              + config.tlsKey()
              + " is not the private key of the certificate in MILLRACE_TLS_CERT="
              + config.tlsCert()
              + " ("
              + chain.get(0).getSubjectX500Principal().getName()
              + ")");
    }
    TlsConfig.Builder tls =
        Tls.builder()
            .enabled(true)
            .privateKey(key)
            .privateKeyCertChain(chain)
            .endpointIdentificationAlgorithm(Tls.ENDPOINT_IDENTIFICATION_NONE);
    if (caBytes != null) {
      tls.trust(certificates("MILLRACE_TLS_CLIENT_CA", config.tlsClientCa(), caBytes))
          .clientAuth(TlsClientAuth.REQUIRED);
    } else {
      tls.clientAuth(TlsClientAuth.NONE);
    }
    Tls built;
    try {
      built = tls.build();
    } catch (RuntimeException e) {
      throw new IOException(
          "TLS from MILLRACE_TLS_CERT="
              + config.tlsCert()
              + " and MILLRACE_TLS_KEY="
              + config.tlsKey()
              + " cannot be set up: "
              + message(e),
          e);
    }
    return new Material(certBytes, keyBytes, caBytes, built, chain.get(0));
  }

  private static byte[] readFile(String variable, Path file) throws IOException {
    try {
      return Files.readAllBytes(file);
    } catch (NoSuchFileException e) {
      throw new IOException(variable + "=" + file + ": no such file", e);
    } catch (IOException e) {
      throw new IOException(variable + "=" + file + " cannot be read: " + e, e);
    }
  }

  private static List<X509Certificate> certificates(String variable, Path file, byte[] pem)
      throws IOException {
    try {
      List<X509Certificate> certs =
          Keys.builder().pem(p -> p.certificates(Resource.create(variable, pem))).build().certs();
      if (certs.isEmpty()) {
        throw new IllegalArgumentException("no certificate");
      }
      return certs;
    } catch (RuntimeException e) {
      throw new IOException(
          variable + "=" + file + " holds no PEM certificate ('BEGIN CERTIFICATE'): " + message(e),
          e);
    }
  }

  /** {@return whether {@code key} signs what {@code pub} verifies} */
  private static boolean belongTogether(PrivateKey key, PublicKey pub) {
    String algorithm =
        switch (key.getAlgorithm()) {
          case "RSA" -> "SHA256withRSA";
          case "EC" -> "SHA256withECDSA";
          case "EdDSA", "Ed25519", "Ed448" -> "EdDSA";
          default -> null;
        };
    if (algorithm == null) {
      return true; // an algorithm not checked here: the handshake will tell
    }
    try {
      byte[] probe = new byte[32];
      new SecureRandom().nextBytes(probe);
      Signature s = Signature.getInstance(algorithm);
      s.initSign(key);
      s.update(probe);
      byte[] signed = s.sign();
      Signature v = Signature.getInstance(algorithm);
      v.initVerify(pub);
      v.update(probe);
      return v.verify(signed);
    } catch (GeneralSecurityException e) {
      return false;
    }
  }

  private static String message(Throwable e) {
    StringBuilder sb = new StringBuilder(String.valueOf(e.getMessage()));
    for (Throwable c = e.getCause(); c != null; c = c.getCause()) {
      sb.append("; ").append(c.getMessage());
    }
    return sb.toString();
  }
}
