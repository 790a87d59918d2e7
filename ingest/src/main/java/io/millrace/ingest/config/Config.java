package io.millrace.ingest.config;

import java.net.URI;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * The service's configuration: every variable of the design's table, read from the environment and
 * overridden by command-line flags ({@code --max-workers=16} or {@code --max-workers 16}).
 * Validated once, at start: a bad value throws {@link ConfigException} naming the variable and the
 * accepted range.
 *
 * @param maxWorkers uploads in flight at once
 * @param maxQueue payloads admitted but not yet stored, at most
 * @param queueMaxBytes bytes of payloads admitted but not yet stored, at most
 * @param maxBodyBytes largest request body, after decompression
 * @param host address the HTTP server binds
 * @param port HTTP port; 0 picks a free one
 * @param mode how payloads become objects
 * @param batchMaxPayloads a batch object is cut at this many payloads
 * @param batchMaxBytes ... or at this many bytes of payload (before compression)
 * @param batchMaxAgeMs ... or this long after its first payload arrived
 * @param s3Endpoint external S3 endpoint, or null for the embedded store
 * @param s3TimeoutMs how long one S3 request attempt may take
 * @param s3Region region given to the S3 client
 * @param bucket the bucket
 * @param prefix key prefix, without leading or trailing slash; may be empty
 * @param dataDir the embedded store's folder, and where spill files go
 * @param embeddedS3Port the embedded store's port; 0 picks a free one
 * @param queue {@code memory}, or the NATS servers ({@code nats://host:port}, comma-separated)
 * @param role what this process runs
 * @param apiKeys accepted bearer tokens; empty means no authentication
 * @param drainTimeoutMs how long shutdown may take to drain
 * @param nats the JetStream settings (used only when {@code queue} is a {@code nats://} URL)
 */
public record Config(
    int maxWorkers,
    int maxQueue,
    long queueMaxBytes,
    long maxBodyBytes,
    String host,
    int port,
    Mode mode,
    int batchMaxPayloads,
    long batchMaxBytes,
    long batchMaxAgeMs,
    URI s3Endpoint,
    long s3TimeoutMs,
    String s3Region,
    String bucket,
    String prefix,
    Path dataDir,
    int embeddedS3Port,
    String queue,
    String role,
    List<String> apiKeys,
    long drainTimeoutMs,
    Nats nats) {

  /** What a process runs: admission (HTTP), workers (store), or both. */
  public enum Role {
    /** Admission and workers in one process (the only role with the in-memory queue). */
    ALL,
    /** Admission only: publishes to JetStream, stores nothing. */
    INGEST,
    /** Workers only: pulls from JetStream and stores; its HTTP server serves only the probes. */
    WORKER;

    /** {@return whether this role admits payloads} */
    public boolean admits() {
      return this != WORKER;
    }

    /** {@return whether this role stores payloads} */
    public boolean stores() {
      return this != INGEST;
    }

    /** {@return the name used in configuration} */
    public String configName() {
      return name().toLowerCase(Locale.ROOT);
    }
  }

  /**
   * The JetStream queue's settings.
   *
   * @param servers server URLs, at least one
   * @param stream the work-queue stream
   * @param subject the subject admitted requests are published to
   * @param consumer the durable pull consumer the workers share
   * @param deadSubject where poison messages go (captured by the stream {@code <stream>_DEAD})
   * @param replicas stream replicas (1 on a single server, 3 on a 3-node cluster)
   * @param ackWaitMs how long a delivered message may go without an ack or a progress signal
   * @param maxDeliver deliveries after which a message that keeps failing is dead-lettered
   * @param duplicateWindowMs how long an {@code Idempotency-Key} is remembered
   * @param publishTimeoutMs how long admission waits for JetStream's acknowledgement
   * @param maxBytes the stream's byte limit: beyond it admission answers 429
   * @param maxAckPending messages delivered and not yet acknowledged, over all workers
   */
  public record Nats(
      List<String> servers,
      String stream,
      String subject,
      String consumer,
      String deadSubject,
      int replicas,
      long ackWaitMs,
      int maxDeliver,
      long duplicateWindowMs,
      long publishTimeoutMs,
      long maxBytes,
      int maxAckPending) {

    /** {@return the dead-letter stream's name} */
    public String deadStream() {
      return stream + "_DEAD";
    }
  }

  /** {@return whether the queue is JetStream (else the in-memory one)} */
  public boolean durableQueue() {
    return !queue.equals("memory");
  }

  /** {@return the role, parsed} */
  public Role roleKind() {
    return Role.valueOf(role.toUpperCase(Locale.ROOT));
  }

  /** How accepted payloads are laid out in the store. */
  public enum Mode {
    /** Many payloads per {@code .ndjson.gz} object (the default). */
    BATCHED,
    /** One {@code .json} object per payload, as the original service did. */
    PER_PAYLOAD;

    static Mode parse(String value) {
      return switch (value) {
        case "batched" -> BATCHED;
        case "per-payload" -> PER_PAYLOAD;
        default -> null;
      };
    }

    /** {@return the name used in configuration} */
    public String configName() {
      return this == BATCHED ? "batched" : "per-payload";
    }
  }

  /** A variable the service reads: its name, flag, default and what it means. */
  record Var(String name, String defaultValue, String range, String meaning) {
    String flag() {
      String n = name.startsWith("MILLRACE_") ? name.substring("MILLRACE_".length()) : name;
      return "--" + n.toLowerCase(Locale.ROOT).replace('_', '-');
    }
  }

  static final List<Var> VARS =
      List.of(
          new Var("MAX_WORKERS", "16", "1..1024", "uploads in flight at once"),
          new Var(
              "MAX_QUEUE",
              "100000",
              "1..100000000",
              "payloads admitted but not yet stored, at most"),
          new Var(
              "MILLRACE_QUEUE_MAX_BYTES",
              "134217728",
              "1024..1099511627776",
              "bytes of payloads admitted but not yet stored, at most"),
          new Var(
              "MAX_BODY_BYTES",
              "1048576",
              "64..1073741824",
              "largest request body (after gzip decompression)"),
          new Var("MILLRACE_HOST", "0.0.0.0", "an address", "address the HTTP server binds"),
          new Var("MILLRACE_PORT", "8080", "0..65535", "HTTP port (0 picks a free one)"),
          new Var("MILLRACE_MODE", "batched", "batched|per-payload", "object layout"),
          new Var(
              "MILLRACE_BATCH_MAX_PAYLOADS",
              "5000",
              "1..1000000",
              "a batch object is cut at this many payloads"),
          new Var(
              "MILLRACE_BATCH_MAX_BYTES",
              "8388608",
              "1024..2147483647",
              "... or at this many payload bytes (uncompressed)"),
          new Var(
              "MILLRACE_BATCH_MAX_AGE_MS",
              "1000",
              "1..3600000",
              "... or this long after its first payload arrived"),
          new Var(
              "MILLRACE_S3_ENDPOINT",
              "",
              "empty or an http(s) URL",
              "S3 endpoint; empty starts the embedded store"),
          new Var(
              "MILLRACE_S3_TIMEOUT_MS",
              "10000",
              "100..600000",
              "how long one S3 request attempt may take"),
          new Var(
              "MILLRACE_S3_REGION", "us-east-1", "a region name", "region given to the S3 client"),
          new Var(
              "MILLRACE_BUCKET", "millrace", "3..63 chars [a-z0-9.-]", "bucket for the objects"),
          new Var("MILLRACE_PREFIX", "payloads", "key chars, no leading/trailing /", "key prefix"),
          new Var(
              "MILLRACE_DATA_DIR",
              "./data",
              "a folder",
              "embedded store folder; spill/ goes here too"),
          new Var(
              "MILLRACE_EMBEDDED_S3_PORT",
              "0",
              "0..65535",
              "embedded store port on 127.0.0.1 (0: a free one)"),
          new Var(
              "MILLRACE_QUEUE",
              "memory",
              "memory or nats://host:port[,nats://host:port...]",
              "queue: in this process, or NATS JetStream (durable, shared by many nodes)"),
          new Var(
              "MILLRACE_ROLE",
              "all",
              "all|ingest|worker (ingest and worker need nats://)",
              "what this process runs: admission, workers, or both"),
          new Var(
              "MILLRACE_API_KEYS",
              "",
              "comma-separated tokens",
              "bearer tokens for /v1/*; empty: no auth"),
          new Var(
              "MILLRACE_DRAIN_TIMEOUT_MS",
              "10000",
              "0..3600000",
              "how long shutdown may take to drain"),
          new Var(
              "MILLRACE_NATS_STREAM",
              "MILLRACE",
              "[A-Za-z0-9_-]{1,64}",
              "JetStream work-queue stream"),
          new Var(
              "MILLRACE_NATS_SUBJECT",
              "millrace.payloads",
              "a subject, no wildcards",
              "subject requests are published to"),
          new Var(
              "MILLRACE_NATS_CONSUMER",
              "millrace-workers",
              "[A-Za-z0-9_-]{1,64}",
              "durable pull consumer the workers share"),
          new Var(
              "MILLRACE_NATS_DEAD_SUBJECT",
              "millrace.dead",
              "a subject, no wildcards",
              "dead letters (kept in stream <stream>_DEAD)"),
          new Var("MILLRACE_NATS_REPLICAS", "1", "1..5", "stream replicas (3 on a 3-node cluster)"),
          new Var(
              "MILLRACE_NATS_ACK_WAIT_MS",
              "30000",
              "1000..3600000",
              "a message unacked this long (worker gone) is redelivered"),
          new Var(
              "MILLRACE_NATS_MAX_DELIVER",
              "10",
              "1..1000",
              "deliveries before a failing message is dead-lettered"),
          new Var(
              "MILLRACE_NATS_DUPLICATE_WINDOW_MS",
              "120000",
              "1000..86400000",
              "how long an Idempotency-Key is remembered"),
          new Var(
              "MILLRACE_NATS_PUBLISH_TIMEOUT_MS",
              "5000",
              "100..60000",
              "how long admission waits for JetStream's ack"),
          new Var(
              "MILLRACE_NATS_MAX_BYTES",
              "1073741824",
              "1048576..1099511627776",
              "stream byte limit; beyond it admission answers 429"),
          new Var(
              "MILLRACE_NATS_MAX_ACK_PENDING",
              "100000",
              "1..10000000",
              "messages delivered and not yet acked, all workers together"));

  /** A configuration value that is not accepted; the message names the variable and the range. */
  public static final class ConfigException extends Exception {
    private static final long serialVersionUID = 1L;

    ConfigException(String message) {
      super(message);
    }
  }

  /** Thrown for {@code --help}: the caller prints {@link #help()} and exits 0. */
  public static final class HelpRequested extends Exception {
    private static final long serialVersionUID = 1L;

    HelpRequested() {
      super("help");
    }
  }

  /** {@return the defaults, as if neither environment nor flags were set} */
  public static Config defaults() {
    try {
      return parse(Map.of(), new String[0]);
    } catch (ConfigException | HelpRequested e) {
      throw new IllegalStateException(e);
    }
  }

  /**
   * Reads and validates the configuration.
   *
   * @param env the environment (only the variables above are read)
   * @param args command-line flags; they win over the environment
   * @return the configuration
   * @throws ConfigException if a value is out of range or a flag is unknown
   * @throws HelpRequested if {@code --help} or {@code -h} is among the flags
   */
  public static Config parse(Map<String, String> env, String[] args)
      throws ConfigException, HelpRequested {
    Map<String, String> values = new LinkedHashMap<>();
    for (Var v : VARS) {
      values.put(v.name(), env.getOrDefault(v.name(), v.defaultValue()));
    }
    for (int i = 0; i < args.length; i++) {
      String a = args[i];
      if (a.equals("--help") || a.equals("-h")) {
        throw new HelpRequested();
      }
      String flag = a;
      String value = null;
      int eq = a.indexOf('=');
      if (eq > 0) {
        flag = a.substring(0, eq);
        value = a.substring(eq + 1);
      }
      Var var = null;
      for (Var v : VARS) {
        if (v.flag().equals(flag)) {
          var = v;
        }
      }
      if (var == null) {
        throw new ConfigException("unknown argument '" + a + "' (see --help)");
      }
      if (value == null) {
        if (i + 1 >= args.length) {
          throw new ConfigException(flag + " needs a value (" + var.range() + ")");
        }
        value = args[++i];
      }
      values.put(var.name(), value);
    }
    return build(values);
  }

  /** {@return the text {@code --help} prints: every variable, its flag, default and meaning} */
  public static String help() {
    StringBuilder sb = new StringBuilder();
    sb.append("millrace-ingest: accepts JSON payloads over HTTP and stores them in S3.\n\n")
        .append("Usage: java -jar millrace-ingest.jar [--flag=value ...]\n\n")
        .append("Each setting is an environment variable or the flag beside it (flags win).\n\n");
    for (Var v : VARS) {
      sb.append(
          String.format(
              Locale.ROOT,
              "  %-28s %-24s %s%n      default: %s   accepted: %s%n",
              v.name(),
              v.flag(),
              v.meaning(),
              v.defaultValue().isEmpty() ? "(unset)" : v.defaultValue(),
              v.range()));
    }
    sb.append(
            "\n"
                + "Credentials for an external S3 endpoint come from the AWS SDK's default provider"
                + " chain\n")
        .append("(AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, profiles, ...).\n");
    return sb.toString();
  }

  private static Config build(Map<String, String> v) throws ConfigException {
    int maxWorkers = (int) longIn(v, "MAX_WORKERS", 1, 1024);
    int maxQueue = (int) longIn(v, "MAX_QUEUE", 1, 100_000_000);
    long queueMaxBytes = longIn(v, "MILLRACE_QUEUE_MAX_BYTES", 1024, 1L << 40);
    long maxBodyBytes = longIn(v, "MAX_BODY_BYTES", 64, 1L << 30);
    String host = v.get("MILLRACE_HOST").trim();
    if (host.isEmpty()) {
      throw new ConfigException("MILLRACE_HOST must not be empty (accepted: an address)");
    }
    int port = (int) longIn(v, "MILLRACE_PORT", 0, 65535);
    Mode mode = Mode.parse(v.get("MILLRACE_MODE").trim());
    if (mode == null) {
      throw new ConfigException(
          "MILLRACE_MODE='"
              + v.get("MILLRACE_MODE")
              + "' is not accepted (accepted: batched|per-payload)");
    }
    int batchMaxPayloads = (int) longIn(v, "MILLRACE_BATCH_MAX_PAYLOADS", 1, 1_000_000);
    long batchMaxBytes = longIn(v, "MILLRACE_BATCH_MAX_BYTES", 1024, Integer.MAX_VALUE);
    long batchMaxAgeMs = longIn(v, "MILLRACE_BATCH_MAX_AGE_MS", 1, 3_600_000);
    URI endpoint = null;
    String ep = v.get("MILLRACE_S3_ENDPOINT").trim();
    if (!ep.isEmpty()) {
      try {
        endpoint = URI.create(ep);
      } catch (IllegalArgumentException e) {
        endpoint = null;
      }
      if (endpoint == null
          || endpoint.getHost() == null
          || !("http".equals(endpoint.getScheme()) || "https".equals(endpoint.getScheme()))) {
        throw new ConfigException(
            "MILLRACE_S3_ENDPOINT='"
                + ep
                + "' is not accepted (accepted: empty or an http(s) URL)");
      }
    }
    long s3Timeout = longIn(v, "MILLRACE_S3_TIMEOUT_MS", 100, 600_000);
    String region = v.get("MILLRACE_S3_REGION").trim();
    if (!region.matches("[a-z0-9-]{1,64}")) {
      throw new ConfigException(
          "MILLRACE_S3_REGION='"
              + region
              + "' is not accepted (accepted: a region name like us-east-1)");
    }
    String bucket = v.get("MILLRACE_BUCKET").trim();
    if (!bucket.matches("[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")) {
      throw new ConfigException(
          "MILLRACE_BUCKET='" + bucket + "' is not accepted (accepted: 3..63 chars of [a-z0-9.-])");
    }
    String prefix = v.get("MILLRACE_PREFIX").trim();
    if (!prefix.matches("([A-Za-z0-9!_.*'()=-]+(/[A-Za-z0-9!_.*'()=-]+)*)?")
        || prefix.length() > 512) {
      throw new ConfigException(
          "MILLRACE_PREFIX='"
              + prefix
              + "' is not accepted (accepted: path segments of"
              + " [A-Za-z0-9!_.*'()=-] joined by /, no leading or trailing /)");
    }
    String dd = v.get("MILLRACE_DATA_DIR").trim();
    if (dd.isEmpty()) {
      throw new ConfigException("MILLRACE_DATA_DIR must not be empty (accepted: a folder)");
    }
    Path dataDir = Path.of(dd).toAbsolutePath().normalize();
    int s3Port = (int) longIn(v, "MILLRACE_EMBEDDED_S3_PORT", 0, 65535);
    String queue = v.get("MILLRACE_QUEUE").trim();
    List<String> servers = new ArrayList<>();
    if (!queue.equals("memory")) {
      for (String part : queue.split(",")) {
        String u = part.trim();
        URI uri;
        try {
          uri = URI.create(u);
        } catch (IllegalArgumentException e) {
          uri = null;
        }
        if (uri == null
            || uri.getHost() == null
            || !("nats".equals(uri.getScheme()) || "tls".equals(uri.getScheme()))) {
          throw new ConfigException(
              "MILLRACE_QUEUE='"
                  + queue
                  + "' is not accepted (accepted: memory or"
                  + " nats://host:port, several comma-separated; '"
                  + u
                  + "' is not a nats:// URL)");
        }
        servers.add(u);
      }
    }
    String role = v.get("MILLRACE_ROLE").trim().toLowerCase(Locale.ROOT);
    if (!role.equals("all") && !role.equals("ingest") && !role.equals("worker")) {
      throw new ConfigException(
          "MILLRACE_ROLE='" + role + "' is not accepted (accepted: all|ingest|worker)");
    }
    if (!role.equals("all") && servers.isEmpty()) {
      throw new ConfigException(
          "MILLRACE_ROLE="
              + role
              + " needs a shared queue: set MILLRACE_QUEUE to"
              + " nats://host:port (with MILLRACE_QUEUE=memory the only role is all)");
    }
    String stream = name(v, "MILLRACE_NATS_STREAM");
    String consumer = name(v, "MILLRACE_NATS_CONSUMER");
    String subject = subject(v, "MILLRACE_NATS_SUBJECT");
    String deadSubject = subject(v, "MILLRACE_NATS_DEAD_SUBJECT");
    if (subject.equals(deadSubject)) {
      throw new ConfigException(
          "MILLRACE_NATS_DEAD_SUBJECT must differ from MILLRACE_NATS_SUBJECT");
    }
    Nats nats =
        new Nats(
            List.copyOf(servers),
            stream,
            subject,
            consumer,
            deadSubject,
            (int) longIn(v, "MILLRACE_NATS_REPLICAS", 1, 5),
            longIn(v, "MILLRACE_NATS_ACK_WAIT_MS", 1000, 3_600_000),
            (int) longIn(v, "MILLRACE_NATS_MAX_DELIVER", 1, 1000),
            longIn(v, "MILLRACE_NATS_DUPLICATE_WINDOW_MS", 1000, 86_400_000),
            longIn(v, "MILLRACE_NATS_PUBLISH_TIMEOUT_MS", 100, 60_000),
            longIn(v, "MILLRACE_NATS_MAX_BYTES", 1L << 20, 1L << 40),
            (int) longIn(v, "MILLRACE_NATS_MAX_ACK_PENDING", 1, 10_000_000));
    List<String> keys = new ArrayList<>();
    for (String k : v.get("MILLRACE_API_KEYS").split(",")) {
      String t = k.trim();
      if (!t.isEmpty()) {
        if (!t.matches("[\\x21-\\x7e]{8,512}")) {
          throw new ConfigException(
              "MILLRACE_API_KEYS holds a key that is not accepted (accepted: 8..512 visible ASCII"
                  + " characters each, comma-separated)");
        }
        keys.add(t);
      }
    }
    long drain = longIn(v, "MILLRACE_DRAIN_TIMEOUT_MS", 0, 3_600_000);
    return new Config(
        maxWorkers,
        maxQueue,
        queueMaxBytes,
        maxBodyBytes,
        host,
        port,
        mode,
        batchMaxPayloads,
        batchMaxBytes,
        batchMaxAgeMs,
        endpoint,
        s3Timeout,
        region,
        bucket,
        prefix,
        dataDir,
        s3Port,
        queue,
        role,
        List.copyOf(keys),
        drain,
        nats);
  }

  private static String name(Map<String, String> v, String var) throws ConfigException {
    String s = v.get(var).trim();
    if (!s.matches("[A-Za-z0-9_-]{1,64}")) {
      throw new ConfigException(
          var + "='" + s + "' is not accepted (accepted: 1..64 of [A-Za-z0-9_-])");
    }
    return s;
  }

  private static String subject(Map<String, String> v, String var) throws ConfigException {
    String s = v.get(var).trim();
    if (!s.matches("[A-Za-z0-9_-]+(\\.[A-Za-z0-9_-]+)*") || s.length() > 256) {
      throw new ConfigException(
          var
              + "='"
              + s
              + "' is not accepted (accepted: tokens of [A-Za-z0-9_-]"
              + " joined by '.', no wildcards)");
    }
    return s;
  }

  private static long longIn(Map<String, String> v, String name, long min, long max)
      throws ConfigException {
    String raw = v.get(name).trim().replace("_", "");
    long value;
    try {
      value = Long.parseLong(raw);
    } catch (NumberFormatException e) {
      throw new ConfigException(
          name
              + "='"
              + v.get(name)
              + "' is not a whole number (accepted: "
              + min
              + ".."
              + max
              + ")");
    }
    if (value < min || value > max) {
      throw new ConfigException(
          name + "=" + value + " is out of range (accepted: " + min + ".." + max + ")");
    }
    return value;
  }

  /** {@return whether the embedded store runs (no endpoint configured)} */
  public boolean embedded() {
    return s3Endpoint == null;
  }

  /** {@return a copy with the given overrides, for tests and embedding} */
  public Config with(Map<String, String> overrides) throws ConfigException {
    Map<String, String> values = new LinkedHashMap<>();
    values.put("MAX_WORKERS", Integer.toString(maxWorkers));
    values.put("MAX_QUEUE", Integer.toString(maxQueue));
    values.put("MILLRACE_QUEUE_MAX_BYTES", Long.toString(queueMaxBytes));
    values.put("MAX_BODY_BYTES", Long.toString(maxBodyBytes));
    values.put("MILLRACE_HOST", host);
    values.put("MILLRACE_PORT", Integer.toString(port));
    values.put("MILLRACE_MODE", mode.configName());
    values.put("MILLRACE_BATCH_MAX_PAYLOADS", Integer.toString(batchMaxPayloads));
    values.put("MILLRACE_BATCH_MAX_BYTES", Long.toString(batchMaxBytes));
    values.put("MILLRACE_BATCH_MAX_AGE_MS", Long.toString(batchMaxAgeMs));
    values.put("MILLRACE_S3_ENDPOINT", s3Endpoint == null ? "" : s3Endpoint.toString());
    values.put("MILLRACE_S3_TIMEOUT_MS", Long.toString(s3TimeoutMs));
    values.put("MILLRACE_S3_REGION", s3Region);
    values.put("MILLRACE_BUCKET", bucket);
    values.put("MILLRACE_PREFIX", prefix);
    values.put("MILLRACE_DATA_DIR", dataDir.toString());
    values.put("MILLRACE_EMBEDDED_S3_PORT", Integer.toString(embeddedS3Port));
    values.put("MILLRACE_QUEUE", queue);
    values.put("MILLRACE_ROLE", role);
    values.put("MILLRACE_API_KEYS", String.join(",", apiKeys));
    values.put("MILLRACE_DRAIN_TIMEOUT_MS", Long.toString(drainTimeoutMs));
    values.put("MILLRACE_NATS_STREAM", nats.stream());
    values.put("MILLRACE_NATS_SUBJECT", nats.subject());
    values.put("MILLRACE_NATS_CONSUMER", nats.consumer());
    values.put("MILLRACE_NATS_DEAD_SUBJECT", nats.deadSubject());
    values.put("MILLRACE_NATS_REPLICAS", Integer.toString(nats.replicas()));
    values.put("MILLRACE_NATS_ACK_WAIT_MS", Long.toString(nats.ackWaitMs()));
    values.put("MILLRACE_NATS_MAX_DELIVER", Integer.toString(nats.maxDeliver()));
    values.put("MILLRACE_NATS_DUPLICATE_WINDOW_MS", Long.toString(nats.duplicateWindowMs()));
    values.put("MILLRACE_NATS_PUBLISH_TIMEOUT_MS", Long.toString(nats.publishTimeoutMs()));
    values.put("MILLRACE_NATS_MAX_BYTES", Long.toString(nats.maxBytes()));
    values.put("MILLRACE_NATS_MAX_ACK_PENDING", Integer.toString(nats.maxAckPending()));
    for (var e : overrides.entrySet()) {
      if (!values.containsKey(e.getKey())) {
        throw new ConfigException("unknown variable " + e.getKey());
      }
      values.put(e.getKey(), e.getValue());
    }
    return build(values);
  }

  @Override
  public String toString() {
    // never print the keys themselves
    return "Config[maxWorkers="
        + maxWorkers
        + ", maxQueue="
        + maxQueue
        + ", queueMaxBytes="
        + queueMaxBytes
        + ", maxBodyBytes="
        + maxBodyBytes
        + ", host="
        + host
        + ", port="
        + port
        + ", mode="
        + mode.configName()
        + ", batch="
        + batchMaxPayloads
        + "/"
        + batchMaxBytes
        + "B/"
        + batchMaxAgeMs
        + "ms, s3="
        + (s3Endpoint == null ? "embedded" : s3Endpoint)
        + ", bucket="
        + bucket
        + ", prefix="
        + prefix
        + ", dataDir="
        + dataDir
        + ", apiKeys="
        + apiKeys.size()
        + ", drainTimeoutMs="
        + drainTimeoutMs
        + ", queue="
        + (durableQueue()
            ? "nats " + nats.stream() + " on " + nats.servers().size() + " server(s)"
            : "memory")
        + ", role="
        + role
        + "]";
  }
}
