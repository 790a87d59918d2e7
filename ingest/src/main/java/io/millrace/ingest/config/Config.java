package io.millrace.ingest.config;

import java.net.URI;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * The service's configuration: every setting of the table in {@link Settings}, read from the
 * environment and overridden by command-line flags ({@code --max-workers=16} or {@code
 * --max-workers 16}). Validated once, at start: a bad value throws {@link ConfigException} naming
 * the variable and the accepted range. Immutable.
 *
 * <p>Adding a setting: one entry in {@link Settings} and one typed accessor here; {@code --help},
 * {@link #toString()} and the docs/configuration.md check follow from the entry.
 */
public final class Config {
  private final String[] raw; // by Setting.index(): the text each value was read from
  private final Object[] values; // by Setting.index(): the value read
  private final Nats nats = new Nats();

  private Config(String[] raw) throws ConfigException {
    this.raw = raw.clone();
    this.values = new Object[raw.length];
    for (Setting<?> s : Settings.ALL) {
      values[s.index()] = s.read(raw[s.index()]);
    }
    if (roleKind() != Role.ALL && !sharedQueue()) {
      throw new ConfigException(
          "MILLRACE_ROLE="
              + role()
              + " needs a shared queue: set MILLRACE_QUEUE to"
              + " nats://host:port (with MILLRACE_QUEUE=disk or memory the only role is all)");
    }
    if ((tlsCert() == null) != (tlsKey() == null)) {
      throw new ConfigException(
          "MILLRACE_TLS_CERT and MILLRACE_TLS_KEY go together: set both (TLS) or neither");
    }
    if (tlsClientCa() != null && tlsCert() == null) {
      throw new ConfigException(
          "MILLRACE_TLS_CLIENT_CA needs TLS: set MILLRACE_TLS_CERT and MILLRACE_TLS_KEY too");
    }
    if (nats.subject().equals(nats.deadSubject())) {
      throw new ConfigException(
          "MILLRACE_NATS_DEAD_SUBJECT must differ from MILLRACE_NATS_SUBJECT");
    }
  }

  private <T> T get(Setting<T> s) {
    @SuppressWarnings("unchecked")
    T t = (T) values[s.index()];
    return t;
  }

  // ------------------------------------------------------------------ reading

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
   * @param env the environment (only the variables of the table are read)
   * @param args command-line flags; they win over the environment
   * @return the configuration
   * @throws ConfigException if a value is out of range or a flag is unknown
   * @throws HelpRequested if {@code --help} or {@code -h} is among the flags
   */
  public static Config parse(Map<String, String> env, String[] args)
      throws ConfigException, HelpRequested {
    return new Config(CommandLine.read(env, args));
  }

  /**
   * {@return a copy with the given overrides, for tests and embedding}
   *
   * @param overrides variable name → value, as in the environment
   * @throws ConfigException if a value is not accepted or a variable is unknown
   */
  public Config with(Map<String, String> overrides) throws ConfigException {
    String[] copy = raw.clone();
    for (var e : overrides.entrySet()) {
      Setting<?> s = Settings.named(e.getKey());
      if (s == null) {
        throw new ConfigException("unknown variable " + e.getKey());
      }
      copy[s.index()] = e.getValue();
    }
    return new Config(copy);
  }

  /** {@return the text {@code --help} prints: every variable, its flag, default and meaning} */
  public static String help() {
    return CommandLine.help();
  }

  /** {@return every setting and its value; secrets masked (key counts, no NATS passwords)} */
  @Override
  public String toString() {
    StringBuilder sb = new StringBuilder("Config[");
    for (Setting<?> s : Settings.ALL) {
      sb.append(s.index() == 0 ? "" : ", ").append(s.label()).append('=');
      sb.append(s.show(values[s.index()]));
    }
    return sb.append(']').toString();
  }

  // ------------------------------------------------------------------ the values

  /** {@return uploads in flight at once, at most: the adaptive limit's ceiling} */
  public int maxWorkers() {
    return get(Settings.MAX_WORKERS);
  }

  /**
   * {@return whether uploads in flight adapt to the store (AIMD, up to {@link #maxWorkers()}); if
   * not, {@link #maxWorkers()} are in flight whenever there is work}
   */
  public boolean uploadAdaptive() {
    return get(Settings.UPLOAD_ADAPTIVE);
  }

  /** {@return payloads admitted but not yet stored, at most} */
  public int maxQueue() {
    return get(Settings.MAX_QUEUE);
  }

  /** {@return bytes of payloads admitted but not yet stored, at most} */
  public long queueMaxBytes() {
    return get(Settings.QUEUE_MAX_BYTES);
  }

  /** {@return the largest request body, after decompression} */
  public long maxBodyBytes() {
    return get(Settings.MAX_BODY_BYTES);
  }

  /** {@return the address the HTTP server binds} */
  public String host() {
    return get(Settings.HOST);
  }

  /** {@return the HTTP port; 0 picks a free one} */
  public int port() {
    return get(Settings.PORT);
  }

  /** {@return whether the listener serves TLS ({@link #tlsCert()} and {@link #tlsKey()} set)} */
  public boolean tls() {
    return tlsCert() != null;
  }

  /** {@return the PEM certificate chain the listener serves, or null without TLS; absolute} */
  public Path tlsCert() {
    return get(Settings.TLS_CERT);
  }

  /** {@return the PEM private key of {@link #tlsCert()}, or null without TLS; absolute} */
  public Path tlsKey() {
    return get(Settings.TLS_KEY);
  }

  /** {@return the PEM CA certificates client certificates must chain to, or null: none asked} */
  public Path tlsClientCa() {
    return get(Settings.TLS_CLIENT_CA);
  }

  /** {@return how often the TLS files are checked for changes} */
  public long tlsReloadMs() {
    return get(Settings.TLS_RELOAD_MS);
  }

  /** {@return how payloads become objects} */
  public Mode mode() {
    return get(Settings.MODE);
  }

  /** {@return the payload count at which a batch object is cut} */
  public int batchMaxPayloads() {
    return get(Settings.BATCH_MAX_PAYLOADS);
  }

  /** {@return the payload bytes (before compression) at which a batch object is cut} */
  public long batchMaxBytes() {
    return get(Settings.BATCH_MAX_BYTES);
  }

  /** {@return how long after its first payload a batch object is cut} */
  public long batchMaxAgeMs() {
    return get(Settings.BATCH_MAX_AGE_MS);
  }

  /** {@return how many partitions may have a batch open at once (when the template has fields)} */
  public int batchMaxOpenPartitions() {
    return get(Settings.BATCH_MAX_OPEN_PARTITIONS);
  }

  /**
   * {@return the object key template as given, empty for the mode's default (today's layout); it is
   * parsed and checked by the workers' key layout at start}
   */
  public String keyTemplate() {
    return get(Settings.KEY_TEMPLATE);
  }

  /** {@return the batch objects' encoding: {@code gzip}, {@code zstd} or {@code none}} */
  public String compression() {
    return get(Settings.COMPRESSION);
  }

  /** {@return the external S3 endpoint, or null for the embedded store} */
  public URI s3Endpoint() {
    return get(Settings.S3_ENDPOINT);
  }

  /** {@return whether the embedded store runs (no endpoint configured)} */
  public boolean embedded() {
    return s3Endpoint() == null;
  }

  /** {@return how long one S3 request attempt may take} */
  public long s3TimeoutMs() {
    return get(Settings.S3_TIMEOUT_MS);
  }

  /**
   * {@return what sends object PUTs: {@code signed} (SigV4 by hand), {@code sdk}, or {@code auto}
   * (signed, except the SDK for AWS's own endpoints)}
   */
  public String s3PutClient() {
    return get(Settings.S3_PUT_CLIENT);
  }

  /** {@return the region given to the S3 client} */
  public String s3Region() {
    return get(Settings.S3_REGION);
  }

  /** {@return the bucket} */
  public String bucket() {
    return get(Settings.BUCKET);
  }

  /** {@return the key prefix, without leading or trailing slash; may be empty} */
  public String prefix() {
    return get(Settings.PREFIX);
  }

  /** {@return the data folder: the local log, the embedded store, spill files; absolute} */
  public Path dataDir() {
    return get(Settings.DATA_DIR);
  }

  /** {@return the embedded store's port; 0 picks a free one} */
  public int embeddedS3Port() {
    return get(Settings.EMBEDDED_S3_PORT);
  }

  /**
   * {@return {@code disk}, {@code memory}, or the NATS servers ({@code nats://host:port},
   * comma-separated)}
   */
  public String queue() {
    return raw[Settings.QUEUE.index()].trim();
  }

  /** {@return which queue runs} */
  public QueueKind queueKind() {
    return get(Settings.QUEUE).kind();
  }

  /** {@return whether the queue is JetStream, shared by many processes (else in this process)} */
  public boolean sharedQueue() {
    return queueKind() == QueueKind.JETSTREAM;
  }

  /**
   * {@return whether the queue is JetStream}
   *
   * @deprecated the local log is durable too: use {@link #sharedQueue()} or {@link #queueKind()}
   */
  @Deprecated
  public boolean durableQueue() {
    return sharedQueue();
  }

  /** {@return the role's name: {@code all}, {@code ingest} or {@code worker}} */
  public String role() {
    return roleKind().configName();
  }

  /** {@return what this process runs} */
  public Role roleKind() {
    return get(Settings.ROLE);
  }

  /** {@return the accepted bearer tokens; empty means no authentication} */
  public List<String> apiKeys() {
    return get(Settings.API_KEYS);
  }

  /** {@return how long shutdown may take to drain} */
  public long drainTimeoutMs() {
    return get(Settings.DRAIN_TIMEOUT_MS);
  }

  /** {@return the JetStream settings (used only when {@link #queue()} is a nats:// URL)} */
  public Nats nats() {
    return nats;
  }

  /** The JetStream queue's settings: a view of the configuration. */
  public final class Nats {
    private Nats() {}

    /** {@return the server URLs; empty unless the queue is JetStream} */
    public List<String> servers() {
      return get(Settings.QUEUE).servers();
    }

    /** {@return the server URLs, comma-separated, passwords masked: for logs} */
    public String serversWithoutPasswords() {
      return Settings.withoutPasswords(servers());
    }

    /** {@return the work-queue stream} */
    public String stream() {
      return get(Settings.NATS_STREAM);
    }

    /** {@return the dead-letter stream's name} */
    public String deadStream() {
      return stream() + "_DEAD";
    }

    /** {@return the subject admitted requests are published to} */
    public String subject() {
      return get(Settings.NATS_SUBJECT);
    }

    /** {@return the durable pull consumer the workers share} */
    public String consumer() {
      return get(Settings.NATS_CONSUMER);
    }

    /** {@return where poison messages go (captured by the stream {@code <stream>_DEAD})} */
    public String deadSubject() {
      return get(Settings.NATS_DEAD_SUBJECT);
    }

    /** {@return stream replicas (1 on a single server, 3 on a 3-node cluster)} */
    public int replicas() {
      return get(Settings.NATS_REPLICAS);
    }

    /** {@return how long a delivered message may go without an ack or a progress signal} */
    public long ackWaitMs() {
      return get(Settings.NATS_ACK_WAIT_MS);
    }

    /** {@return deliveries after which a message that keeps failing is dead-lettered} */
    public int maxDeliver() {
      return get(Settings.NATS_MAX_DELIVER);
    }

    /** {@return how long an {@code Idempotency-Key} is remembered (both queue modes)} */
    public long duplicateWindowMs() {
      return get(Settings.NATS_DUPLICATE_WINDOW_MS);
    }

    /** {@return how long admission waits for JetStream's acknowledgement} */
    public long publishTimeoutMs() {
      return get(Settings.NATS_PUBLISH_TIMEOUT_MS);
    }

    /** {@return the stream's byte limit: beyond it admission answers 429} */
    public long maxBytes() {
      return get(Settings.NATS_MAX_BYTES);
    }

    /** {@return messages delivered and not yet acknowledged, over all workers} */
    public int maxAckPending() {
      return get(Settings.NATS_MAX_ACK_PENDING);
    }

    /**
     * {@return how long the batch ledger keeps an entry; 0: no ledger (at-least-once: a batch
     * stored and not acknowledged when its worker died is stored again in another batch)}
     */
    public long ledgerTtlMs() {
      return get(Settings.NATS_LEDGER_TTL_MS);
    }

    /** {@return the key-value bucket of the batch ledger: {@code <stream>_BATCHES}} */
    public String ledgerBucket() {
      return stream() + "_BATCHES";
    }
  }

  // ------------------------------------------------------------------ closed sets

  /** Which queue holds what is admitted and not yet stored. */
  public enum QueueKind {
    /** The durable log under {@code MILLRACE_DATA_DIR/queue} (the default). */
    DISK,
    /** This process's memory: lost on a crash, spilled at shutdown. */
    MEMORY,
    /** NATS JetStream: durable, replicated, shared by many processes. */
    JETSTREAM
  }

  /**
   * The {@code MILLRACE_QUEUE} setting read.
   *
   * @param kind which queue
   * @param servers the NATS servers (JetStream only; else empty)
   */
  record Queue(QueueKind kind, List<String> servers) {}

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

    static Role parse(String value) {
      return switch (value.toLowerCase(Locale.ROOT)) {
        case "all" -> ALL;
        case "ingest" -> INGEST;
        case "worker" -> WORKER;
        default -> null;
      };
    }
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
}
