package io.millrace.ingest.store;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.millrace.ingest.store.S3Store.PutClient;
import io.millrace.ingest.testing.FaultProxy;
import io.millrace.ingest.testing.FaultProxy.Fault;
import io.millrace.ingest.workers.UploadOutcome;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import software.amazon.awssdk.auth.credentials.AwsBasicCredentials;
import software.amazon.awssdk.auth.credentials.StaticCredentialsProvider;
import software.amazon.awssdk.core.ResponseBytes;
import software.amazon.awssdk.services.s3.model.GetObjectResponse;
import software.amazon.awssdk.services.s3.model.S3Exception;

/**
 * What {@link S3Store} promises, for both PUT clients, against a real S3Proxy (in this process,
 * filesystem backend), directly or behind a {@link FaultProxy}: objects land at their exact key
 * with their headers, conditional writes keep the first, and every failure surfaces as an exception
 * {@link UploadOutcome} classifies as it does the SDK's (throttling, 5xx, timeouts, 4xx), with
 * every HTTP status reported.
 */
@Timeout(120)
class S3StoreContractTest {
  @TempDir Path dir;
  private EmbeddedS3 s3;
  private final List<Integer> statuses = new CopyOnWriteArrayList<>();

  @BeforeEach
  void start() throws Exception {
    s3 = EmbeddedS3.start(dir, 0);
  }

  @AfterEach
  void stop() {
    s3.close();
  }

  private S3Store store(URI endpoint, String bucket, String secret, Duration timeout, PutClient c) {
    return new S3Store(
        endpoint,
        "us-east-1",
        bucket,
        StaticCredentialsProvider.create(AwsBasicCredentials.create(EmbeddedS3.ACCESS_KEY, secret)),
        timeout,
        statuses::add,
        c);
  }

  private S3Store store(PutClient c) {
    S3Store store = store(s3.endpoint(), "contract", s3.secretKey(), Duration.ofSeconds(5), c);
    store.createBucketIfMissing();
    statuses.clear(); // the bucket's requests
    return store;
  }

  @ParameterizedTest
  @EnumSource(PutClient.class)
  void objectsLandAtTheirExactKeyWithTheirHeaders(PutClient client) throws Exception {
    try (S3Store store = store(client)) {
      List<String> keys =
          List.of(
              "payloads/dt=2026-12-02/hour=14/0000000000000000001-abc.ndjson.gz",
              "p/source=a b+c&d%e/x.ndjson",
              "p/source=zürich-東京/é~_.-!*'()$,;:@/x.ndjson");
      for (String key : keys) {
        byte[] body = ("{\"k\":\"" + key + "\"}\n").getBytes(StandardCharsets.UTF_8);
        store.put(key, body, "application/x-ndjson", "gzip");
        ResponseBytes<GetObjectResponse> got =
            store.client().getObjectAsBytes(b -> b.bucket("contract").key(key));
        assertThat(got.asByteArray()).as(key).isEqualTo(body);
        assertThat(got.response().contentType()).isEqualTo("application/x-ndjson");
        assertThat(got.response().contentEncoding()).isEqualTo("gzip");
      }
      store.put("plain", new byte[0], "application/json", null);
      assertThat(
              store.client().getObjectAsBytes(b -> b.bucket("contract").key("plain")).asByteArray())
          .isEmpty();
      assertThat(
              store.client().listObjectsV2(b -> b.bucket("contract")).contents().stream()
                  .map(o -> o.key())
                  .toList())
          .containsAll(keys);
      assertThat(statuses).isNotEmpty().allMatch(s -> s == 200);
    }
  }

  @ParameterizedTest
  @EnumSource(PutClient.class)
  void aConditionalWriteKeepsTheFirstObject(PutClient client) throws Exception {
    try (S3Store store = store(client)) {
      byte[] first = "first\n".getBytes(StandardCharsets.UTF_8);
      assertThat(store.putIfAbsent("k/once.ndjson", first, "application/x-ndjson", null)).isTrue();
      assertThat(
              store.putIfAbsent(
                  "k/once.ndjson", "second\n".getBytes(), "application/x-ndjson", null))
          .isFalse();
      assertThat(
              store
                  .client()
                  .getObjectAsBytes(b -> b.bucket("contract").key("k/once.ndjson"))
                  .asByteArray())
          .isEqualTo(first);
      assertThat(statuses).contains(412);
    }
  }

  @ParameterizedTest
  @EnumSource(PutClient.class)
  void clientErrorsAreThrownWithTheStoresCodeAndNotRetried(PutClient client) throws Exception {
    try (S3Store missing =
        store(s3.endpoint(), "no-such-bucket", s3.secretKey(), Duration.ofSeconds(5), client)) {
      assertThatThrownBy(() -> missing.put("k", new byte[10], "application/json", null))
          .isInstanceOfSatisfying(
              S3Exception.class,
              e -> {
                assertThat(e.statusCode()).isEqualTo(404);
                assertThat(e.awsErrorDetails().errorCode()).isEqualTo("NoSuchBucket");
                assertThat(UploadOutcome.of(e)).isEqualTo(UploadOutcome.IGNORED);
              });
      assertThat(statuses).containsExactly(404);
    }
    statuses.clear();
    store(client).close(); // the bucket
    try (S3Store wrongKey =
        store(s3.endpoint(), "contract", "not-the-secret", Duration.ofSeconds(5), client)) {
      assertThatThrownBy(() -> wrongKey.put("k", new byte[10], "application/json", null))
          .isInstanceOfSatisfying(
              S3Exception.class,
              e -> {
                assertThat(e.statusCode()).isEqualTo(403);
                assertThat(e.awsErrorDetails().errorCode()).isEqualTo("SignatureDoesNotMatch");
                assertThat(UploadOutcome.of(e)).isEqualTo(UploadOutcome.IGNORED);
              });
      assertThat(statuses).containsExactly(403);
    }
  }

  @ParameterizedTest
  @EnumSource(PutClient.class)
  void storeFaultsAreThrownAndClassifiedAsBackPressure(PutClient client) throws Exception {
    store(client).close(); // the bucket
    try (FaultProxy proxy = new FaultProxy(s3.endpoint().getPort());
        S3Store store =
            store(proxy.endpoint(), "contract", s3.secretKey(), Duration.ofMillis(800), client)) {
      byte[] body = new byte[9000];
      store.put("through/the/proxy", body, "application/json", null);

      proxy.fault(Fault.SLOW_DOWN);
      statuses.clear();
      assertThatThrownBy(() -> store.put("slow", body, "application/json", null))
          .isInstanceOfSatisfying(
              S3Exception.class,
              e -> {
                assertThat(e.statusCode()).isEqualTo(503);
                assertThat(e.isThrottlingException()).isTrue();
                assertThat(UploadOutcome.of(e)).isEqualTo(UploadOutcome.THROTTLED);
              });
      // three attempts (the SDK's or ours); the first may meet a connection the fault closed
      assertThat(statuses).hasSizeBetween(2, 3).containsOnly(503);

      proxy.fault(Fault.INTERNAL_ERROR);
      statuses.clear();
      assertThatThrownBy(() -> store.put("broken", body, "application/json", null))
          .isInstanceOfSatisfying(
              S3Exception.class,
              e -> assertThat(UploadOutcome.of(e)).isEqualTo(UploadOutcome.SERVER_ERROR));
      assertThat(statuses).hasSizeBetween(2, 3).containsOnly(500);

      proxy.fault(Fault.STALL);
      long t0 = System.nanoTime();
      assertThatThrownBy(() -> store.put("stalled", body, "application/json", null))
          .satisfies(e -> assertThat(UploadOutcome.of(e)).isEqualTo(UploadOutcome.TIMEOUT));
      assertThat(Duration.ofNanos(System.nanoTime() - t0)).isLessThan(Duration.ofSeconds(15));

      proxy.fault(Fault.RESET);
      assertThatThrownBy(() -> store.put("reset", body, "application/json", null))
          .isInstanceOf(Exception.class);

      proxy.fault(Fault.REFUSE);
      assertThatThrownBy(() -> store.put("refused", body, "application/json", null))
          .isInstanceOf(Exception.class);

      proxy.fault(Fault.NONE);
      store.put("recovered", body, "application/json", null);
      assertThat(
              store.client().listObjectsV2(b -> b.bucket("contract")).contents().stream()
                  .map(o -> o.key())
                  .toList())
          .containsExactlyInAnyOrder("through/the/proxy", "recovered");
    }
  }

  @Test
  void autoKeepsTheSdkForAwsItselfOnly() {
    assertThat(S3Store.awsItself(null)).isTrue();
    assertThat(S3Store.awsItself(URI.create("https://s3.eu-west-1.amazonaws.com"))).isTrue();
    assertThat(S3Store.awsItself(URI.create("https://S3.AMAZONAWS.COM"))).isTrue();
    assertThat(S3Store.awsItself(URI.create("https://s3.cn-north-1.amazonaws.com.cn"))).isTrue();
    assertThat(S3Store.awsItself(URI.create("http://127.0.0.1:9000"))).isFalse();
    assertThat(S3Store.awsItself(URI.create("https://minio.example.com"))).isFalse();
    assertThat(S3Store.awsItself(URI.create("https://amazonaws.com.evil.example"))).isFalse();
  }
}
