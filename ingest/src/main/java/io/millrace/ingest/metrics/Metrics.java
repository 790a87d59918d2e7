package io.millrace.ingest.metrics;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.Timer;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Supplier;

/** The service's meters, exported in Prometheus text format at {@code /metrics}. */
public final class Metrics {
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
  public final Timer uploadTime =
      Timer.builder("millrace_upload")
          .description("one successful object upload")
          .register(registry);
  private final ConcurrentHashMap<Integer, Counter> responses = new ConcurrentHashMap<>();

  private Counter counter(String name, String help) {
    return Counter.builder(name).description(help).register(registry);
  }

  public void gauge(String name, String help, Supplier<Number> value) {
    Gauge.builder(name, value).description(help).register(registry);
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
