package io.millrace.ingest.queue.jetstream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.millrace.ingest.store.EmbeddedS3;
import io.millrace.ingest.testing.NatsServerProcess;
import io.millrace.ingest.testing.TestSupport;
import io.nats.client.Connection;
import io.nats.client.JetStreamApiException;
import io.nats.client.JetStreamManagement;
import io.nats.client.KeyValue;
import io.nats.client.Nats;
import io.nats.client.api.KeyValueConfiguration;
import io.nats.client.api.MessageInfo;
import io.nats.client.api.StorageType;
import io.nats.client.api.StreamConfiguration;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import software.amazon.awssdk.core.sync.RequestBody;
import software.amazon.awssdk.services.s3.S3Client;
import software.amazon.awssdk.services.s3.model.S3Exception;

/**
 * What the exactly-once design relies on, checked against the servers this project runs: the box's
 * nats-server (a private one of the same binary) and the embedded S3Proxy.
 */
@Timeout(60)
class ServerFactsTest {
  @TempDir Path dir;

  @Test
  void keyValueCreateAndUpdateAreCompareAndSet() throws Exception {
    try (NatsServerProcess nats = NatsServerProcess.start(dir.resolve("nats"));
        Connection nc = Nats.connect(nats.url())) {
      nc.keyValueManagement()
          .create(
              KeyValueConfiguration.builder().name("FACTS").storageType(StorageType.File).build());
      KeyValue kv = nc.keyValue("FACTS");
      long r1 = kv.create("a", "one".getBytes(StandardCharsets.UTF_8));
      assertThatThrownBy(() -> kv.create("a", "two".getBytes(StandardCharsets.UTF_8)))
          .isInstanceOf(JetStreamApiException.class)
          .satisfies(e -> System.out.println("create twice: " + e));
      long r2 = kv.update("a", "three".getBytes(StandardCharsets.UTF_8), r1);
      assertThatThrownBy(() -> kv.update("a", "four".getBytes(StandardCharsets.UTF_8), r1))
          .isInstanceOf(JetStreamApiException.class)
          .satisfies(e -> System.out.println("stale update: " + e));
      assertThat(new String(kv.get("a").getValue(), StandardCharsets.UTF_8)).isEqualTo("three");
      assertThat(r2).isGreaterThan(r1);
    }
  }

  @Test
  void messagesCanBeReadBySequence() throws Exception {
    try (NatsServerProcess nats = NatsServerProcess.start(dir.resolve("nats"));
        Connection nc = Nats.connect(nats.url())) {
      JetStreamManagement jsm = nc.jetStreamManagement();
      jsm.addStream(
          StreamConfiguration.builder()
              .name("S")
              .subjects("s.>")
              .allowDirect(true)
              .storageType(StorageType.File)
              .build());
      for (int i = 0; i < 5; i++) {
        nc.jetStream().publish("s.p", ("m" + i).getBytes(StandardCharsets.UTF_8));
      }
      MessageInfo m3 = jsm.getMessage("S", 3);
      assertThat(new String(m3.getData(), StandardCharsets.UTF_8)).isEqualTo("m2");
      MessageInfo next = jsm.getNextMessage("S", 4, "s.p");
      assertThat(next.getSeq()).isEqualTo(4);
      jsm.deleteMessage("S", 2);
      assertThatThrownBy(() -> jsm.getMessage("S", 2))
          .isInstanceOf(JetStreamApiException.class)
          .satisfies(e -> System.out.println("deleted: " + e));
    }
  }

  @Test
  void s3ProxyRefusesAPutIfNoneMatchOverAnExistingKey() throws Exception {
    try (EmbeddedS3 s3 = EmbeddedS3.start(dir, 0);
        S3Client c = TestSupport.client(s3)) {
      c.createBucket(b -> b.bucket("bkt"));
      try {
        c.putObject(b -> b.bucket("bkt").key("k").ifNoneMatch("*"), RequestBody.fromString("one"));
      } catch (S3Exception e) {
        // the SDK retried after a lost answer and its retry found its own first write: 412
        assertThat(e.statusCode()).isEqualTo(412);
      }
      Throwable second =
          org.assertj.core.api.Assertions.catchThrowable(
              () ->
                  c.putObject(
                      b -> b.bucket("bkt").key("k").ifNoneMatch("*"),
                      RequestBody.fromString("two")));
      System.out.println("second conditional put: " + second);
      String now = c.getObjectAsBytes(b -> b.bucket("bkt").key("k")).asUtf8String();
      System.out.println("content after: " + now);
      assertThat(second).isInstanceOf(S3Exception.class);
      assertThat(((S3Exception) second).statusCode()).isEqualTo(412);
      assertThat(now).isEqualTo("one");
    }
  }
}
