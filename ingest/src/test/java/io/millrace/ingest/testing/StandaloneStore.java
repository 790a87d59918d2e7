package io.millrace.ingest.testing;

import io.millrace.ingest.store.EmbeddedS3;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import software.amazon.awssdk.services.s3.S3Client;

/**
 * A store that outlives the service processes of a test: S3Proxy (filesystem backend) in the test
 * JVM, bucket {@value #BUCKET} created, behind a {@link FaultProxy} the test can turn off and on.
 * The service processes store through the proxy as an external S3 endpoint, so killing one leaves
 * the store and what it holds untouched. Closing it stops the proxy and the store.
 */
public final class StandaloneStore implements AutoCloseable {
  public static final String BUCKET = "millrace";

  private final EmbeddedS3 s3;
  private final FaultProxy proxy;

  private StandaloneStore(EmbeddedS3 s3, FaultProxy proxy) {
    this.s3 = s3;
    this.proxy = proxy;
  }

  /**
   * Starts the store and the proxy in front of it.
   *
   * @param dir where its objects go ({@code dir/s3/millrace/...})
   * @return the running store, the proxy relaying
   * @throws Exception if it does not start
   */
  public static StandaloneStore start(Path dir) throws Exception {
    EmbeddedS3 s3 = EmbeddedS3.start(dir, 0);
    try {
      try (S3Client c = TestSupport.client(s3)) {
        c.createBucket(b -> b.bucket(BUCKET));
      }
      return new StandaloneStore(s3, new FaultProxy(s3.endpoint().getPort()));
    } catch (Exception | Error e) {
      s3.close();
      throw e;
    }
  }

  /** {@return the proxy the services store through} */
  public FaultProxy proxy() {
    return proxy;
  }

  /**
   * {@return the environment of a service process on this store: loopback listener on a free port,
   * the given data folder and queue, 50 ms batches, S3 timeouts of 1 s}
   */
  public Map<String, String> serviceEnv(Path dataDir, String queue) {
    Map<String, String> env = new HashMap<>();
    env.put("MILLRACE_HOST", "127.0.0.1");
    env.put("MILLRACE_PORT", "0");
    env.put("MILLRACE_DATA_DIR", dataDir.toString());
    env.put("MILLRACE_QUEUE", queue);
    env.put("MILLRACE_S3_ENDPOINT", proxy.endpoint().toString());
    env.put("MILLRACE_S3_TIMEOUT_MS", "1000");
    env.put("MILLRACE_BATCH_MAX_AGE_MS", "50");
    env.put("MILLRACE_DRAIN_TIMEOUT_MS", "5000");
    env.put("AWS_ACCESS_KEY_ID", EmbeddedS3.ACCESS_KEY);
    env.put("AWS_SECRET_ACCESS_KEY", s3.secretKey());
    env.put("AWS_REGION", "us-east-1");
    return env;
  }

  /** {@return what the bucket holds, by the payloads' ids ({@link LoadClient#payload})} */
  public StoredIds readBack() throws Exception {
    try (S3Client c = TestSupport.client(s3)) {
      return StoredIds.read(c, BUCKET);
    }
  }

  /** {@return every payload line in the bucket, with how often it occurs} */
  public Map<String, Integer> payloadCounts() throws Exception {
    try (S3Client c = TestSupport.client(s3)) {
      return new HashMap<>(TestSupport.payloadCounts(TestSupport.readAll(c, BUCKET)));
    }
  }

  @Override
  public void close() throws Exception {
    try {
      proxy.close();
    } finally {
      s3.close();
    }
  }
}
