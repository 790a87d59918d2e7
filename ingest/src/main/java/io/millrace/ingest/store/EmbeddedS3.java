package io.millrace.ingest.store;

import java.io.IOException;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Properties;
import org.gaul.s3proxy.BlobStores;
import org.gaul.s3proxy.S3Proxy;
import org.gaul.s3proxy.auth.AuthenticationType;

/**
 * S3Proxy in this process, filesystem backend: objects land as plain files under {@code
 * <dataDir>/s3/<bucket>/<key>}. Listens on 127.0.0.1 only, on a free port unless one is given;
 * requests must be signed (AWS v2 or v4) with a key pair made up at start.
 */
public final class EmbeddedS3 implements AutoCloseable {
  /** The access key the embedded store accepts. */
  public static final String ACCESS_KEY = "millrace-local";

  private final S3Proxy proxy;
  private final String secret;
  private final Path baseDir;

  private EmbeddedS3(S3Proxy proxy, String secret, Path baseDir) {
    this.proxy = proxy;
    this.secret = secret;
    this.baseDir = baseDir;
  }

  /** {@return a new random secret key} */
  public static String newSecret() {
    byte[] rnd = new byte[18];
    new java.security.SecureRandom().nextBytes(rnd);
    return java.util.HexFormat.of().formatHex(rnd);
  }

  /**
   * Starts the store.
   *
   * @param dataDir the service's data folder; the store uses {@code dataDir/s3}
   * @param port 0 for a free port
   * @return the running store
   * @throws Exception if it cannot start
   */
  public static EmbeddedS3 start(Path dataDir, int port) throws Exception {
    return start(dataDir, port, newSecret());
  }

  /**
   * Starts the store with a given secret key.
   *
   * @param dataDir the service's data folder; the store uses {@code dataDir/s3}
   * @param port 0 for a free port
   * @param secret the secret key that goes with {@link #ACCESS_KEY}
   * @return the running store
   * @throws Exception if it cannot start
   */
  public static EmbeddedS3 start(Path dataDir, int port, String secret) throws Exception {
    Path base = baseDir(dataDir);
    Files.createDirectories(base);
    Properties props = new Properties();
    props.setProperty("jclouds.filesystem.basedir", base.toString());
    var blobStore = BlobStores.create("filesystem", props);
    S3Proxy proxy =
        S3Proxy.builder()
            .blobStore(blobStore)
            .endpoint(URI.create("http://127.0.0.1:" + port))
            .awsAuthentication(AuthenticationType.AWS_V2_OR_V4, ACCESS_KEY, secret)
            .stopTimeout(200)
            .build();
    proxy.start();
    long deadline = System.nanoTime() + 10_000_000_000L;
    while (!"STARTED".equals(proxy.getState())) {
      if (System.nanoTime() > deadline) {
        proxy.stop();
        throw new IOException(
            "the embedded S3 store did not start within 10 s: " + proxy.getState());
      }
      Thread.sleep(5);
    }
    return new EmbeddedS3(proxy, secret, base);
  }

  /** {@return the folder under {@code dataDir} that holds the buckets} */
  public static Path baseDir(Path dataDir) {
    return dataDir.resolve("s3");
  }

  /** {@return the endpoint, http://127.0.0.1:port} */
  public URI endpoint() {
    return URI.create("http://127.0.0.1:" + proxy.getPort());
  }

  /** {@return the secret key that goes with {@link #ACCESS_KEY}} */
  public String secretKey() {
    return secret;
  }

  /** {@return the folder the objects live in, one subfolder per bucket} */
  public Path baseDir() {
    return baseDir;
  }

  @Override
  public void close() {
    try {
      proxy.stop();
    } catch (Exception e) {
      // stopping: nothing to do about it
    }
  }
}
