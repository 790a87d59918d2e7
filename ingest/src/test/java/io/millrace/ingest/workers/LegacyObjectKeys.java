package io.millrace.ingest.workers;

import io.millrace.ingest.queue.Job;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.List;

/**
 * The object keys of the service before key templates (kept as the reference the default template
 * is tested against).
 *
 * <p>Object keys: {@code <prefix>/dt=YYYY-MM-DD/hour=HH/<name>}, date and hour of the first
 * payload's admission (UTC). Keys derive only from what was fixed at admission (ids, admission
 * times), so a retry or a replay of the same batch rewrites the same key: a batch is named {@code
 * <first payload id>-<payload count>.ndjson.gz}, a single payload {@code <payload id>.json}.
 * Stateless.
 */
final class LegacyObjectKeys {
  private static final DateTimeFormatter DAY =
      DateTimeFormatter.ofPattern("yyyy-MM-dd").withZone(ZoneOffset.UTC);
  private static final DateTimeFormatter HOUR =
      DateTimeFormatter.ofPattern("HH").withZone(ZoneOffset.UTC);

  private final String prefix;

  /**
   * @param prefix the key prefix, without leading or trailing slash; may be empty
   */
  LegacyObjectKeys(String prefix) {
    this.prefix = prefix.isEmpty() ? "" : prefix + "/";
  }

  /** {@return the key of a batch object} */
  String batch(List<Job> batch) {
    Job first = batch.getFirst();
    return folder(first.admittedAtMillis()) + first.id() + "-" + batch.size() + ".ndjson.gz";
  }

  /** {@return the key of a one-payload object} */
  String single(Job job) {
    return folder(job.admittedAtMillis()) + job.id() + ".json";
  }

  private String folder(long atMillis) {
    Instant at = Instant.ofEpochMilli(atMillis);
    return prefix + "dt=" + DAY.format(at) + "/hour=" + HOUR.format(at) + "/";
  }
}
