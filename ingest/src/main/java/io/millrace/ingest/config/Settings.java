package io.millrace.ingest.config;

import io.millrace.ingest.config.Config.ConfigException;
import io.millrace.ingest.config.Config.Mode;
import io.millrace.ingest.config.Config.Role;
import java.net.URI;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.function.Function;

/**
 * The table of every setting, in the order {@code --help} and docs/configuration.md list them.
 * Adding a setting is one entry here and one typed accessor in {@link Config}; parsing, {@code
 * --help}, {@code toString} and the docs/configuration.md check follow from the entry.
 */
final class Settings {
  private static final List<Setting<?>> TABLE = new ArrayList<>();

  /** Every setting, in table order. */
  static final List<Setting<?>> ALL = Collections.unmodifiableList(TABLE);

  static final Setting<Integer> MAX_WORKERS =
      intIn(
          "MAX_WORKERS",
          64,
          1,
          1024,
          "uploads in flight at once, at most (the adaptive limit's ceiling)");
  static final Setting<Boolean> UPLOAD_ADAPTIVE =
      add(
          "MILLRACE_UPLOAD_ADAPTIVE",
          "true",
          "true|false",
          "adapt uploads in flight to the store's latency and back-pressure (false: MAX_WORKERS)",
          Setting.oneOf(Settings::bool));
  static final Setting<Integer> MAX_QUEUE =
      intIn("MAX_QUEUE", 100_000, 1, 100_000_000, "payloads admitted but not yet stored, at most");
  static final Setting<Long> QUEUE_MAX_BYTES =
      longIn(
          "MILLRACE_QUEUE_MAX_BYTES",
          134_217_728,
          1024,
          1L << 40,
          "bytes of payloads admitted but not yet stored, at most");
  static final Setting<Long> MAX_BODY_BYTES =
      longIn(
          "MAX_BODY_BYTES",
          1_048_576,
          64,
          1L << 30,
          "largest request body (after gzip decompression)");
  static final Setting<String> HOST =
      add(
          "MILLRACE_HOST",
          "0.0.0.0",
          "an address",
          "address the HTTP server binds",
          Setting.nonEmpty());
  static final Setting<Integer> PORT =
      intIn("MILLRACE_PORT", 8080, 0, 65535, "HTTP port (0 picks a free one)");
  static final Setting<Path> TLS_CERT =
      add(
          "MILLRACE_TLS_CERT",
          "",
          "empty or a PEM file",
          "certificate chain the listener serves (TLS on with MILLRACE_TLS_KEY); reloaded when it"
              + " changes",
          Settings::optionalFile,
          Settings::shownFile);
  static final Setting<Path> TLS_KEY =
      add(
          "MILLRACE_TLS_KEY",
          "",
          "empty or a PEM file (PKCS#8, or PKCS#1 RSA), unencrypted",
          "private key of MILLRACE_TLS_CERT",
          Settings::optionalFile,
          Settings::shownFile);
  static final Setting<Path> TLS_CLIENT_CA =
      add(
          "MILLRACE_TLS_CLIENT_CA",
          "",
          "empty or a PEM file of CA certificates",
          "when set, every client must present a certificate these CAs signed",
          Settings::optionalFile,
          Settings::shownFile);
  static final Setting<Long> TLS_RELOAD_MS =
      longIn(
          "MILLRACE_TLS_RELOAD_MS",
          5000,
          100,
          3_600_000,
          "how often the TLS files are checked; changed files are reloaded");
  static final Setting<Mode> MODE =
      add(
          "MILLRACE_MODE",
          "batched",
          "batched|per-payload",
          "object layout",
          Setting.oneOf(Mode::parse),
          Mode::configName);
  static final Setting<Integer> BATCH_MAX_PAYLOADS =
      intIn(
          "MILLRACE_BATCH_MAX_PAYLOADS",
          5000,
          1,
          1_000_000,
          "a batch object is cut at this many payloads");
  static final Setting<Long> BATCH_MAX_BYTES =
      longIn(
          "MILLRACE_BATCH_MAX_BYTES",
          8_388_608,
          1024,
          Integer.MAX_VALUE,
          "... or at this many payload bytes (uncompressed)");
  static final Setting<Long> BATCH_MAX_AGE_MS =
      longIn(
          "MILLRACE_BATCH_MAX_AGE_MS",
          1000,
          1,
          3_600_000,
          "... or this long after its first payload arrived");
  static final Setting<Integer> BATCH_MAX_OPEN_PARTITIONS =
      intIn(
          "MILLRACE_BATCH_MAX_OPEN_PARTITIONS",
          1000,
          1,
          100_000,
          "partitions (key template field values) with a batch open at once");
  static final Setting<String> KEY_TEMPLATE =
      add(
          "MILLRACE_KEY_TEMPLATE",
          "",
          "empty (today's layout) or a template such as"
              + " {prefix}/type={$.type}/dt={date}/hour={hour}/{batch}{ext}",
          "object keys; {$.field} partitions by a payload field",
          Setting.matching("[\\x21-\\x7e]*", 1024));
  static final Setting<String> COMPRESSION =
      add(
          "MILLRACE_COMPRESSION",
          "gzip",
          "gzip|zstd|none",
          "batch object encoding: suffix .ndjson.gz/.ndjson.zst/.ndjson and Content-Encoding",
          Setting.oneOf(v -> v.equals("gzip") || v.equals("zstd") || v.equals("none") ? v : null));
  static final Setting<URI> S3_ENDPOINT =
      add(
          "MILLRACE_S3_ENDPOINT",
          "",
          "empty or an http(s) URL",
          "S3 endpoint; empty starts the embedded store",
          Settings::endpoint,
          u -> u == null ? "embedded" : withoutPasswords(List.of(u.toString())));
  static final Setting<Long> S3_TIMEOUT_MS =
      longIn(
          "MILLRACE_S3_TIMEOUT_MS",
          10_000,
          100,
          600_000,
          "how long one S3 request attempt may take");
  static final Setting<String> S3_PUT_CLIENT =
      add(
          "MILLRACE_S3_PUT_CLIENT",
          "auto",
          "auto|signed|sdk",
          "what sends object PUTs: a SigV4-signed PUT over the JDK's HTTP client (signed), the AWS"
              + " SDK (sdk), or auto: signed for the embedded store and S3-compatible endpoints,"
              + " the SDK for AWS's own (*.amazonaws.com)",
          Setting.oneOf(v -> v.equals("auto") || v.equals("signed") || v.equals("sdk") ? v : null));
  static final Setting<String> S3_REGION =
      add(
          "MILLRACE_S3_REGION",
          "us-east-1",
          "a region name like us-east-1",
          "region given to the S3 client",
          Setting.matching("[a-z0-9-]+", 64));
  static final Setting<String> BUCKET =
      add(
          "MILLRACE_BUCKET",
          "millrace",
          "3..63 chars of [a-z0-9.-]",
          "bucket for the objects",
          Setting.matching("[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]", 63));
  static final Setting<String> PREFIX =
      add(
          "MILLRACE_PREFIX",
          "payloads",
          "path segments of [A-Za-z0-9!_.*'()=-] joined by /, no leading or trailing /",
          "key prefix",
          Setting.matching("([A-Za-z0-9!_.*'()=-]+(/[A-Za-z0-9!_.*'()=-]+)*)?", 512));
  static final Setting<Path> DATA_DIR =
      add(
          "MILLRACE_DATA_DIR",
          "./data",
          "a folder",
          "local log (queue/), embedded store (s3/), spill files (spill/)",
          (s, v) -> Path.of(Setting.nonEmpty().read(s, v)).toAbsolutePath().normalize(),
          Path::toString);
  static final Setting<Integer> EMBEDDED_S3_PORT =
      intIn(
          "MILLRACE_EMBEDDED_S3_PORT",
          0,
          0,
          65535,
          "embedded store port on 127.0.0.1 (0: a free one)");
  static final Setting<Config.Queue> QUEUE =
      add(
          "MILLRACE_QUEUE",
          "disk",
          "disk, memory, or nats://host:port, several comma-separated",
          "queue: a durable log on local disk, this process's memory (volatile), or NATS"
              + " JetStream (durable, shared by many nodes)",
          Settings::queue,
          Settings::shownQueue);
  static final Setting<Role> ROLE =
      add(
          "MILLRACE_ROLE",
          "all",
          "all|ingest|worker (ingest and worker need nats://)",
          "what this process runs: admission, workers, or both",
          Setting.oneOf(Role::parse),
          Role::configName);
  static final Setting<List<String>> API_KEYS =
      add(
          "MILLRACE_API_KEYS",
          "",
          "8..512 visible ASCII characters each, comma-separated",
          "bearer tokens for /v1/*; empty: no auth",
          Settings::apiKeys,
          keys -> Integer.toString(keys.size()));
  static final Setting<Long> DRAIN_TIMEOUT_MS =
      longIn(
          "MILLRACE_DRAIN_TIMEOUT_MS", 10_000, 0, 3_600_000, "how long shutdown may take to drain");
  static final Setting<String> NATS_STREAM =
      name("MILLRACE_NATS_STREAM", "MILLRACE", "JetStream work-queue stream");
  static final Setting<String> NATS_SUBJECT =
      subject("MILLRACE_NATS_SUBJECT", "millrace.payloads", "subject requests are published to");
  static final Setting<String> NATS_CONSUMER =
      name("MILLRACE_NATS_CONSUMER", "millrace-workers", "durable pull consumer the workers share");
  static final Setting<String> NATS_DEAD_SUBJECT =
      subject(
          "MILLRACE_NATS_DEAD_SUBJECT",
          "millrace.dead",
          "dead letters (kept in stream <stream>_DEAD)");
  static final Setting<Integer> NATS_REPLICAS =
      intIn("MILLRACE_NATS_REPLICAS", 1, 1, 5, "stream replicas (3 on a 3-node cluster)");
  static final Setting<Long> NATS_ACK_WAIT_MS =
      longIn(
          "MILLRACE_NATS_ACK_WAIT_MS",
          30_000,
          1000,
          3_600_000,
          "a message unacked this long (worker gone) is redelivered");
  static final Setting<Integer> NATS_MAX_DELIVER =
      intIn(
          "MILLRACE_NATS_MAX_DELIVER",
          10,
          1,
          1000,
          "deliveries before a failing message is dead-lettered");
  static final Setting<Long> NATS_DUPLICATE_WINDOW_MS =
      longIn(
          "MILLRACE_NATS_DUPLICATE_WINDOW_MS",
          120_000,
          1000,
          86_400_000,
          "how long an Idempotency-Key is remembered");
  static final Setting<Long> NATS_PUBLISH_TIMEOUT_MS =
      longIn(
          "MILLRACE_NATS_PUBLISH_TIMEOUT_MS",
          5000,
          100,
          60_000,
          "how long admission waits for JetStream's ack");
  static final Setting<Long> NATS_MAX_BYTES =
      longIn(
          "MILLRACE_NATS_MAX_BYTES",
          1_073_741_824,
          1L << 20,
          1L << 40,
          "stream byte limit; beyond it admission answers 429");
  static final Setting<Integer> NATS_MAX_ACK_PENDING =
      intIn(
          "MILLRACE_NATS_MAX_ACK_PENDING",
          100_000,
          1,
          10_000_000,
          "messages delivered and not yet acked, all workers together");

  static final Setting<Long> NATS_LEDGER_TTL_MS =
      longIn(
          "MILLRACE_NATS_LEDGER_TTL_MS",
          86_400_000,
          0,
          2_592_000_000L,
          "batch ledger entries kept this long (0: no ledger, a crash may store a payload twice)");

  private Settings() {}

  /** {@return the setting of this variable, or null} */
  static Setting<?> named(String name) {
    for (Setting<?> s : ALL) {
      if (s.name().equals(name)) {
        return s;
      }
    }
    return null;
  }

  /** {@return the setting of this flag, or null} */
  static Setting<?> flagged(String flag) {
    for (Setting<?> s : ALL) {
      if (s.flag().equals(flag)) {
        return s;
      }
    }
    return null;
  }

  // ------------------------------------------------------------------ kinds of settings

  private static <T> Setting<T> add(
      String name,
      String defaultValue,
      String range,
      String meaning,
      Setting.Reader<T> reader,
      Function<T, String> shown) {
    Setting<T> s = new Setting<>(TABLE.size(), name, defaultValue, range, meaning, reader, shown);
    TABLE.add(s);
    return s;
  }

  private static <T> Setting<T> add(
      String name, String defaultValue, String range, String meaning, Setting.Reader<T> reader) {
    return add(name, defaultValue, range, meaning, reader, String::valueOf);
  }

  private static Setting<Integer> intIn(
      String name, int defaultValue, int min, int max, String meaning) {
    Setting.Reader<Long> whole = Setting.wholeNumber(min, max);
    return add(
        name,
        Integer.toString(defaultValue),
        min + ".." + max,
        meaning,
        (s, v) -> (int) (long) whole.read(s, v),
        String::valueOf);
  }

  private static Setting<Long> longIn(
      String name, long defaultValue, long min, long max, String meaning) {
    return add(
        name,
        Long.toString(defaultValue),
        min + ".." + max,
        meaning,
        Setting.wholeNumber(min, max));
  }

  private static Setting<String> name(String name, String defaultValue, String meaning) {
    return add(
        name,
        defaultValue,
        "1..64 of [A-Za-z0-9_-]",
        meaning,
        Setting.matching("[A-Za-z0-9_-]+", 64));
  }

  private static Setting<String> subject(String name, String defaultValue, String meaning) {
    return add(
        name,
        defaultValue,
        "tokens of [A-Za-z0-9_-] joined by '.', no wildcards",
        meaning,
        Setting.matching("[A-Za-z0-9_-]+(\\.[A-Za-z0-9_-]+)*", 256));
  }

  // ------------------------------------------------------------------ readers of their own

  private static Boolean bool(String v) {
    return switch (v) {
      case "true" -> Boolean.TRUE;
      case "false" -> Boolean.FALSE;
      default -> null;
    };
  }

  private static URI endpoint(Setting<?> s, String v) throws ConfigException {
    if (v.isEmpty()) {
      return null;
    }
    URI uri = uri(v);
    if (uri == null
        || uri.getHost() == null
        || !("http".equals(uri.getScheme()) || "https".equals(uri.getScheme()))) {
      throw s.rejected(v);
    }
    return uri;
  }

  /** The queue: {@code disk}, {@code memory}, or the NATS servers' URLs. */
  private static Config.Queue queue(Setting<?> s, String v) throws ConfigException {
    return switch (v) {
      case "disk" -> new Config.Queue(Config.QueueKind.DISK, List.of());
      case "memory" -> new Config.Queue(Config.QueueKind.MEMORY, List.of());
      default -> new Config.Queue(Config.QueueKind.JETSTREAM, natsServers(s, v));
    };
  }

  private static String shownQueue(Config.Queue q) {
    return switch (q.kind()) {
      case DISK -> "disk";
      case MEMORY -> "memory";
      case JETSTREAM -> withoutPasswords(q.servers());
    };
  }

  /** The NATS servers' URLs. */
  private static List<String> natsServers(Setting<?> s, String v) throws ConfigException {
    List<String> servers = new ArrayList<>();
    for (String part : v.split(",")) {
      String u = part.trim();
      URI uri = uri(u);
      if (uri == null
          || uri.getHost() == null
          || !("nats".equals(uri.getScheme()) || "tls".equals(uri.getScheme()))) {
        throw new ConfigException(
            s.name()
                + "='"
                + v
                + "' is not accepted (accepted: "
                + s.range()
                + "; '"
                + u
                + "' is not a nats:// URL)");
      }
      servers.add(u);
    }
    return List.copyOf(servers);
  }

  private static List<String> apiKeys(Setting<?> s, String v) throws ConfigException {
    List<String> keys = new ArrayList<>();
    for (String k : v.split(",")) {
      String t = k.trim();
      if (t.isEmpty()) {
        continue;
      }
      if (!t.matches("[\\x21-\\x7e]{8,512}")) {
        // never the key itself in the message
        throw new ConfigException(
            s.name() + " holds a key that is not accepted (accepted: " + s.range() + ")");
      }
      keys.add(t);
    }
    return List.copyOf(keys);
  }

  private static Path optionalFile(Setting<?> s, String v) {
    return v.isEmpty() ? null : Path.of(v).toAbsolutePath().normalize();
  }

  private static String shownFile(Path p) {
    return p == null ? "" : p.toString();
  }

  private static URI uri(String v) {
    try {
      return URI.create(v);
    } catch (IllegalArgumentException e) {
      return null;
    }
  }

  /** {@return the queue as {@code toString} shows it: no passwords} */
  static String withoutPasswords(List<String> servers) {
    if (servers.isEmpty()) {
      return "memory";
    }
    List<String> shown = new ArrayList<>();
    for (String url : servers) {
      int at = url.indexOf('@');
      int scheme = url.indexOf("://");
      shown.add(
          at > 0 && scheme > 0
              ? url.substring(0, scheme + 3) + "***@" + url.substring(at + 1)
              : url);
    }
    return String.join(",", shown);
  }
}
