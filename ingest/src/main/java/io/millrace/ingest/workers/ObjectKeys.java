package io.millrace.ingest.workers;

import io.millrace.ingest.queue.FixedBatch;
import io.millrace.ingest.queue.Job;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;

/**
 * Object keys: {@code <prefix>/dt=YYYY-MM-DD/hour=HH/<name>}, date and hour of the first payload's
 * admission (UTC). Keys derive only from what was fixed at admission (ids, admission times) and by
 * {@link io.millrace.ingest.queue.JobSource#fix} (the batch's name), never from the wall clock, so
 * a retry or a replay of the same batch rewrites the same key: a batch is {@code <batch
 * name>.ndjson.gz} (the in-memory queue and JetStream name it {@code <first payload id>-<payload
 * count>}, the local log {@code <log id>-<first position>-<last position>}), a single payload
 * {@code <payload id>.json}. Stateless.
 */
final class ObjectKeys {
  private static final DateTimeFormatter DAY =
      DateTimeFormatter.ofPattern("yyyy-MM-dd").withZone(ZoneOffset.UTC);
  private static final DateTimeFormatter HOUR =
      DateTimeFormatter.ofPattern("HH").withZone(ZoneOffset.UTC);

  private final String prefix;

  /**
   * @param prefix the key prefix, without leading or trailing slash; may be empty
   */
  ObjectKeys(String prefix) {
    this.prefix = prefix.isEmpty() ? "" : prefix + "/";
  }

  /** {@return the key of a batch object} */
  String batch(FixedBatch batch) {
    return folder(batch.firstAdmittedAtMillis()) + batch.name() + ".ndjson.gz";
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
