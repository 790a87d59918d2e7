package io.millrace.ingest.workers;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.URI;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Properties;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.IntPredicate;
import org.gaul.s3proxy.BlobStores;
import org.gaul.s3proxy.S3Proxy;
import org.gaul.s3proxy.auth.AuthenticationType;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import software.amazon.awssdk.auth.credentials.AwsBasicCredentials;
import software.amazon.awssdk.auth.credentials.StaticCredentialsProvider;
import software.amazon.awssdk.core.checksums.RequestChecksumCalculation;
import software.amazon.awssdk.core.checksums.ResponseChecksumValidation;
import software.amazon.awssdk.core.sync.RequestBody;
import software.amazon.awssdk.http.urlconnection.UrlConnectionHttpClient;
import software.amazon.awssdk.regions.Region;
import software.amazon.awssdk.services.s3.S3Client;

/**
 * The limit against a real S3 endpoint (S3Proxy, filesystem backend) behind a proxy that adds
 * latency, on the real clock: uploads run flat out while the store's latency goes 50 ms, 500 ms, 50
 * ms.
 */
@Timeout(90)
class AdaptiveConcurrencyStoreTest {
  private static final int CEILING = 16;

  @Test
  void theLimitFallsWhenTheStoreSlowsAndClimbsBackWhenItRecovers(@TempDir Path dir)
      throws Exception {
    Properties props = new Properties();
    props.setProperty("jclouds.filesystem.basedir", dir.toString());
    S3Proxy store =
        S3Proxy.builder()
            .blobStore(BlobStores.create("filesystem", props))
            .endpoint(URI.create("http://127.0.0.1:0"))
            .awsAuthentication(AuthenticationType.AWS_V2_OR_V4, "test", "test-secret")
            .build();
    store.start();
    AtomicInteger maxLimit = new AtomicInteger();
    AtomicInteger overCeiling = new AtomicInteger();
    AdaptiveConcurrency ac =
        AdaptiveConcurrency.builder(CEILING)
            .listener(
                (from, to, reason) -> {
                  maxLimit.accumulateAndGet(to, Math::max);
                  if (to > CEILING) {
                    overCeiling.incrementAndGet();
                  }
                })
            .build();
    AtomicBoolean stop = new AtomicBoolean();
    AtomicLong stored = new AtomicLong();
    AtomicInteger failed = new AtomicInteger();
    List<Thread> workers = new ArrayList<>();
    try (LatencyProxy proxy = new LatencyProxy(waitForPort(store));
        S3Client s3 = client(proxy.endpoint())) {
      s3.createBucket(b -> b.bucket("limits"));
      proxy.delayMillis(50);
      byte[] body = new byte[1024];
      for (int w = 0; w < CEILING + 8; w++) {
        int worker = w;
        workers.add(
            Thread.ofVirtual()
                .start(
                    () -> {
                      for (long i = 0; !stop.get(); i++) {
                        try {
                          ac.acquire();
                        } catch (InterruptedException e) {
                          return;
                        }
                        long t0 = System.nanoTime();
                        Throwable failure = null;
                        String key = "w" + worker + "/" + (i % 50);
                        try {
                          s3.putObject(
                              p -> p.bucket("limits").key(key), RequestBody.fromBytes(body));
                          stored.incrementAndGet();
                        } catch (RuntimeException e) {
                          failure = e;
                          failed.incrementAndGet();
                        }
                        ac.release(System.nanoTime() - t0, UploadOutcome.of(failure));
                      }
                    }));
      }
      Duration toCeiling = await(ac, l -> l == CEILING, Duration.ofSeconds(20));
      proxy.delayMillis(500);
      Duration toLow = await(ac, l -> l <= 4, Duration.ofSeconds(10));
      proxy.delayMillis(50);
      Duration back = await(ac, l -> l == CEILING, Duration.ofSeconds(20));
      System.out.printf(
          "limit: ceiling %d reached in %d ms at 50 ms; <= 4 in %d ms at 500 ms;"
              + " back at the ceiling in %d ms at 50 ms; %d stored, %d failed%n",
          CEILING,
          toCeiling.toMillis(),
          toLow.toMillis(),
          back.toMillis(),
          stored.get(),
          failed.get());
      assertThat(toLow).isLessThan(Duration.ofSeconds(5));
      assertThat(back).isLessThan(Duration.ofSeconds(10));
      stopAll(stop, workers); // before the client and the proxy close under them
    } finally {
      stopAll(stop, workers);
      store.stop();
    }
    assertThat(workers).noneMatch(Thread::isAlive);
    assertThat(overCeiling.get()).isZero();
    assertThat(maxLimit.get()).isEqualTo(CEILING);
    assertThat(ac.inFlight()).isZero();
    assertThat(failed.get()).isZero();
  }

  private static void stopAll(AtomicBoolean stop, List<Thread> workers)
      throws InterruptedException {
    stop.set(true);
    for (Thread t : workers) {
      t.join(10_000);
    }
  }

  /** {@return how long until the limit satisfied {@code condition}; fails after {@code max}} */
  private static Duration await(AdaptiveConcurrency ac, IntPredicate condition, Duration max)
      throws InterruptedException {
    long t0 = System.nanoTime();
    while (!condition.test(ac.limit())) {
      if (System.nanoTime() - t0 > max.toNanos()) {
        throw new AssertionError("the limit stayed at " + ac.limit() + " for " + max);
      }
      Thread.sleep(10);
    }
    return Duration.ofNanos(System.nanoTime() - t0);
  }

  private static int waitForPort(S3Proxy store) throws InterruptedException {
    long deadline = System.nanoTime() + 10_000_000_000L;
    while (!"STARTED".equals(store.getState())) {
      if (System.nanoTime() > deadline) {
        throw new AssertionError("S3Proxy did not start: " + store.getState());
      }
      Thread.sleep(5);
    }
    return store.getPort();
  }

  private static S3Client client(URI endpoint) {
    return S3Client.builder()
        .region(Region.US_EAST_1)
        .endpointOverride(endpoint)
        .forcePathStyle(true)
        .credentialsProvider(
            StaticCredentialsProvider.create(AwsBasicCredentials.create("test", "test-secret")))
        .requestChecksumCalculation(RequestChecksumCalculation.WHEN_REQUIRED)
        .responseChecksumValidation(ResponseChecksumValidation.WHEN_REQUIRED)
        .httpClientBuilder(UrlConnectionHttpClient.builder().socketTimeout(Duration.ofSeconds(5)))
        .build();
  }
}
