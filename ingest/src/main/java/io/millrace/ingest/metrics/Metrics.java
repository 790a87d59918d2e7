package io.millrace.ingest.metrics;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.Measurement;
import io.micrometer.core.instrument.Meter;
import io.micrometer.core.instrument.Timer;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Supplier;

/**
 * The service's meters, exported in Prometheus text format at {@code /metrics}, and read back by
 * the status page ({@link #value}, {@link #valuesBy}, {@link History}), so both show the same
 * numbers. Thread-safe.
 */
public final class Metrics {
  /** The upper bounds of the upload latency histogram's buckets (and {@code +Inf}). */
  public static final Duration[] UPLOAD_BUCKETS = {
    Duration.ofMillis(1),
    Duration.ofMillis(2),
    Duration.ofMillis(5),
    Duration.ofMillis(10),
    Duration.ofMillis(25),
    Duration.ofMillis(50),
    Duration.ofMillis(100),
    Duration.ofMillis(250),
    Duration.ofMillis(500),
    Duration.ofSeconds(1),
    Duration.ofMillis(2500),
    Duration.ofSeconds(5),
    Duration.ofSeconds(10),
    Duration.ofSeconds(30)
  };

  final PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
  public final Counter payloadsAccepted =
      counter("millrace_payloads_accepted", "payloads admitted (202)");
  public final Counter payloadsStored =
      counter("millrace_payloads_stored", "payloads whose object is stored");
  public final Counter objectsStored = counter("millrace_objects_stored", "objects stored");
  public final Counter bytesStored =
      counter("millrace_object_bytes_stored", "bytes of objects stored");
  public final Counter uploadRetries =
      counter("millrace_upload_retries", "failed upload attempts that were (or will be) retried");
  public final Counter slowDowns =
      counter("millrace_s3_slowdowns", "store responses 503 SlowDown (every SDK attempt)");
  public final Counter payloadsSpilled =
      counter("millrace_payloads_spilled", "payloads written to spill/ at shutdown");
  public final Counter payloadsReplayed =
      counter("millrace_payloads_replayed", "payloads read back from spill/ at start");
  public final Counter natsPublishFailures =
      counter(
          "millrace_nats_publish_failures",
          "requests not admitted because JetStream was unreachable, slow or refused");
  public final Counter natsReplayed =
      counter(
          "millrace_nats_replayed_requests",
          "requests answered as replays of an earlier Idempotency-Key");
  public final Counter natsRedelivered =
      counter(
          "millrace_nats_redelivered_messages",
          "messages delivered more than once (a worker died or gave them back)");
  public final Counter natsNaks =
      counter("millrace_nats_naks", "messages given back to JetStream after a failure");
  public final Counter natsDeadLettered =
      counter("millrace_nats_dead_lettered_messages", "messages moved to the dead-letter subject");
  public final Counter natsDeadLetteredPayloads =
      counter(
          "millrace_nats_dead_lettered_payloads",
          "payloads in messages moved to the dead-letter subject");
  public final Counter natsAckFailures =
      counter(
          "millrace_nats_ack_failures", "acks or naks that could not be sent (redelivered later)");
  public final Timer logFsync =
      Timer.builder("millrace_queue_log_fsync")
          .description("one fsync of the local log (a group commit of appends and batch records)")
          .register(registry);
  public final Counter logWrites =
      counter(
          "millrace_queue_log_writes",
          "appends and batch records of the local log made durable (requests per fsync ="
              + " this / fsyncs)");
  public final Counter logWriteErrors =
      counter(
          "millrace_queue_log_write_errors",
          "batches of local-log writes that failed (disk full, I/O error) and were rolled back");

  /**
   * One successful object upload, with fixed histogram buckets ({@link #UPLOAD_BUCKETS}): exported
   * as {@code millrace_upload_seconds_bucket}, so percentiles can be computed across nodes.
   */
  public final Timer uploadTime =
      Timer.builder("millrace_upload")
          .description("one successful object upload")
          .serviceLevelObjectives(UPLOAD_BUCKETS)
          .register(registry);

  /** Recent error events, for the status page. */
  public final RecentErrors errors = new RecentErrors(32, System::currentTimeMillis);

  /** The last five minutes of these meters, once {@linkplain History#start started}. */
  public final History history = new History(this, History.CAPACITY);

  private final ConcurrentHashMap<Integer, Counter> responses = new ConcurrentHashMap<>();
  private final List<Object> held = new CopyOnWriteArrayList<>();
  private final Map<Meter.Id, Integer> order = new ConcurrentHashMap<>(); // registration order

  private Counter counter(String name, String help) {
    return Counter.builder(name).description(help).register(registry);
  }

  /**
   * {@return a counter registered under {@code name} with the given tags (pairs of tag name and
   * value); the same name and tags give the same counter}
   */
  public Counter counter(String name, String help, String... tags) {
    return Counter.builder(name).description(help).tags(tags).register(registry);
  }

  /**
   * Registers a gauge read from {@code value} at every scrape; the supplier is held strongly.
   *
   * @param tags label names and values, alternating
   */
  public void gauge(String name, String help, Supplier<Number> value, String... tags) {
    registered(Gauge.builder(name, value).description(help).tags(tags).register(registry));
  }

  /**
   * Registers a counter whose count is read from {@code value} at every scrape (a count kept
   * elsewhere, never decreasing); exported as {@code <name>_total}. The supplier is held strongly.
   *
   * @param tags label names and values, alternating
   */
  public void functionCounter(String name, String help, Supplier<Number> value, String... tags) {
    held.add(value); // Micrometer keeps only a weak reference to a function counter's object
    registered(
        FunctionCounter.builder(name, value, v -> v.get().doubleValue())
            .description(help)
            .tags(tags)
            .register(registry));
  }

  private void registered(Meter m) {
    order.putIfAbsent(m.getId(), order.size());
  }

  /**
   * {@return the value of the meter with this name (summed over its label sets; a counter's count,
   * a gauge's value), or NaN if none is registered}
   */
  public double value(String name) {
    double sum = Double.NaN;
    for (Meter m : registry.find(name).meters()) {
      double v = firstValue(m);
      sum = Double.isNaN(sum) ? v : sum + v;
    }
    return sum;
  }

  /**
   * {@return the value of each meter with this name, by the value of its label {@code tag}, in the
   * order they were registered}
   */
  public Map<String, Double> valuesBy(String name, String tag) {
    Map<String, Double> out = new LinkedHashMap<>();
    List<Meter> meters = new ArrayList<>(registry.find(name).meters());
    meters.sort(Comparator.comparingInt(m -> order.getOrDefault(m.getId(), Integer.MAX_VALUE)));
    for (Meter m : meters) {
      String t = m.getId().getTag(tag);
      if (t != null) {
        out.merge(t, firstValue(m), Double::sum);
      }
    }
    return out;
  }

  private static double firstValue(Meter m) {
    for (Measurement x : m.measure()) {
      return x.getValue();
    }
    return Double.NaN;
  }

  /** {@return HTTP responses sent so far, by status code} */
  public Map<Integer, Long> responsesByStatus() {
    Map<Integer, Long> out = new TreeMap<>();
    responses.forEach((status, c) -> out.put(status, (long) c.count()));
    return out;
  }

  private final ConcurrentHashMap<Integer, Counter> s3Responses = new ConcurrentHashMap<>();

  /** Counts one HTTP response from the store (every SDK attempt); 503 is S3's SlowDown. */
  public void s3Status(int status) {
    if (status == 503) {
      slowDowns.increment();
    }
    s3Responses
        .computeIfAbsent(
            status,
            s ->
                Counter.builder("millrace_s3_http_responses")
                    .description("HTTP responses from the store, every SDK attempt, by status")
                    .tag("status", Integer.toString(s))
                    .register(registry))
        .increment();
  }

  public void response(int status) {
    responses
        .computeIfAbsent(
            status,
            s ->
                Counter.builder("millrace_http_responses")
                    .description("HTTP responses by status")
                    .tag("status", Integer.toString(s))
                    .register(registry))
        .increment();
  }

  public String scrape() {
    return registry.scrape();
  }
}
