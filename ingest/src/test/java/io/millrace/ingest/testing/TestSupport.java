package io.millrace.ingest.testing;

import static org.assertj.core.api.Assertions.assertThat;

import io.millrace.ingest.config.Config;
import io.millrace.ingest.store.EmbeddedS3;
import io.nats.client.Connection;
import io.nats.client.JetStreamApiException;
import io.nats.client.Nats;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;
import java.util.zip.GZIPInputStream;
import java.util.zip.GZIPOutputStream;
import software.amazon.awssdk.auth.credentials.AwsBasicCredentials;
import software.amazon.awssdk.auth.credentials.StaticCredentialsProvider;
import software.amazon.awssdk.core.sync.ResponseTransformer;
import software.amazon.awssdk.http.urlconnection.UrlConnectionHttpClient;
import software.amazon.awssdk.regions.Region;
import software.amazon.awssdk.services.s3.S3Client;
import software.amazon.awssdk.services.s3.model.S3Object;

/** Shared helpers: configurations for tests, and reading the store back through the S3 API. */
public final class TestSupport {
  public static final Pattern BATCH_KEY =
      Pattern.compile(
          "payloads/dt=\\d{4}-\\d{2}-\\d{2}/hour=\\d{2}/[a-z0-9]+-([0-9a-f]{12}-\\d+|\\d{20}-\\d{20})"
              + "\\.ndjson\\.gz");
  public static final Pattern SINGLE_KEY =
      Pattern.compile("payloads/dt=\\d{4}-\\d{2}-\\d{2}/hour=\\d{2}/[a-z0-9]+-[0-9a-f]{12}\\.json");

  /** The shared nats-server the JetStream tests use (each test on its own stream). */
  public static final String NATS_URL =
      System.getProperty("millrace.nats.url", "nats://127.0.0.1:4222");

  private TestSupport() {}

  /**
   * {@return the settings that put a test on its own JetStream stream (upper case), subjects {@code
   * <stream lower case>.payloads} and {@code .dead}, on the shared nats-server}
   */
  public static Map<String, String> natsStream(String stream) {
    Map<String, String> env = new HashMap<>();
    env.put("MILLRACE_QUEUE", NATS_URL);
    env.put("MILLRACE_NATS_STREAM", stream.toUpperCase());
    env.put("MILLRACE_NATS_SUBJECT", stream.toLowerCase() + ".payloads");
    env.put("MILLRACE_NATS_DEAD_SUBJECT", stream.toLowerCase() + ".dead");
    return env;
  }

  /** Deletes a test's stream and its dead-letter stream on the shared nats-server, if there. */
  public static void deleteStreams(String stream) throws Exception {
    try (Connection admin = Nats.connect(NATS_URL)) {
      for (String s : List.of(stream.toUpperCase(), stream.toUpperCase() + "_DEAD")) {
        try {
          admin.jetStreamManagement().deleteStream(s);
        } catch (JetStreamApiException e) {
          // not created
        }
      }
    }
  }

  public static Config config(Path dataDir, Map<String, String> overrides) throws Exception {
    Map<String, String> all = new HashMap<>();
    all.put("MILLRACE_HOST", "127.0.0.1");
    all.put("MILLRACE_PORT", "0");
    all.put("MILLRACE_DATA_DIR", dataDir.toString());
    all.put("MILLRACE_BATCH_MAX_AGE_MS", "50");
    all.put("MILLRACE_DRAIN_TIMEOUT_MS", "5000");
    all.putAll(overrides);
    return Config.defaults().with(all);
  }

  public static S3Client client(URI endpoint, String secret) {
    return S3Client.builder()
        .endpointOverride(endpoint)
        .forcePathStyle(true)
        .region(Region.US_EAST_1)
        .credentialsProvider(
            StaticCredentialsProvider.create(
                AwsBasicCredentials.create(EmbeddedS3.ACCESS_KEY, secret)))
        .httpClientBuilder(UrlConnectionHttpClient.builder())
        .build();
  }

  public static S3Client client(EmbeddedS3 s3) {
    return client(s3.endpoint(), s3.secretKey());
  }

  /** Every object in the bucket: key → its payload lines (gunzipped for .ndjson.gz). */
  public static Map<String, List<String>> readAll(S3Client s3, String bucket) throws IOException {
    Map<String, List<String>> out = new HashMap<>();
    List<S3Object> objects = new ArrayList<>();
    s3.listObjectsV2Paginator(b -> b.bucket(bucket)).contents().forEach(objects::add);
    for (S3Object o : objects) {
      byte[] bytes =
          s3.getObject(b -> b.bucket(bucket).key(o.key()), ResponseTransformer.toBytes())
              .asByteArray();
      List<String> lines = new ArrayList<>();
      if (o.key().endsWith(".gz")) {
        try (var in = new GZIPInputStream(new ByteArrayInputStream(bytes))) {
          bytes = in.readAllBytes();
        }
        String s = new String(bytes, StandardCharsets.UTF_8);
        assertThat(s).as("object %s ends with a newline", o.key()).endsWith("\n");
        for (String line : s.split("\n", -1)) {
          if (!line.isEmpty()) {
            lines.add(line);
          }
        }
      } else {
        lines.add(new String(bytes, StandardCharsets.UTF_8));
      }
      out.put(o.key(), lines);
    }
    return out;
  }

  /** Every payload stored, with how often it occurs. */
  public static Map<String, Integer> payloadCounts(Map<String, List<String>> objects) {
    Map<String, Integer> counts = new HashMap<>();
    for (List<String> lines : objects.values()) {
      for (String l : lines) {
        counts.merge(l, 1, Integer::sum);
      }
    }
    return counts;
  }

  /** {@return the value of an unlabelled series in the service's GET /metrics} */
  public static double metric(int port, String name) throws IOException {
    for (String line : RawHttp.get(port, "/metrics").text().split("\n")) {
      if (line.startsWith(name + " ")) {
        return Double.parseDouble(line.substring(name.length() + 1).trim());
      }
    }
    throw new AssertionError("no metric " + name);
  }

  public static byte[] gzip(byte[] b) throws IOException {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    try (GZIPOutputStream gz = new GZIPOutputStream(out)) {
      gz.write(b);
    }
    return out.toByteArray();
  }

  public static byte[] utf8(String s) {
    return s.getBytes(StandardCharsets.UTF_8);
  }
}
