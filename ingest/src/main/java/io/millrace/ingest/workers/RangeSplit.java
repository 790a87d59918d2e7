package io.millrace.ingest.workers;

import io.millrace.ingest.queue.Job;
import java.util.ArrayList;
import java.util.List;

/**
 * Splits one formed range of jobs (a contiguous run of the queue, cut by count and age) into the
 * objects it is stored as: one or more per partition value of the key template, none larger than
 * {@code MILLRACE_BATCH_MAX_PAYLOADS} payloads or {@code MILLRACE_BATCH_MAX_BYTES} bytes, and at
 * most {@code MILLRACE_BATCH_MAX_OPEN_PARTITIONS} partitions open while the range is walked (when a
 * new one would pass the bound, the oldest open piece is cut: {@link Partitioner}).
 *
 * <p>Deterministic: the pieces, their order and their keys are a function of the range's jobs alone
 * (their bytes, ids and admission times) — no clock, no state across ranges. So a range rebuilt
 * after a crash, a retry or a spill splits into the same objects under the same keys. A piece's
 * name is {@code <first job id>-<job count>}, as batch names have always been; with the default
 * template (no fields) a range splits exactly as today's byte split did, so the keys are today's.
 *
 * <p>Stateless apart from its settings; thread-safe.
 */
final class RangeSplit {
  /** One object to be: its partition and its jobs, in queue order. */
  record Piece(KeyTemplate.Partition partition, List<Job> jobs) {}

  private final KeyTemplate template;
  private final Partitioner.Limits limits;

  RangeSplit(KeyTemplate template, int maxPayloads, long maxBytes, int maxOpenPartitions) {
    this.template = template;
    this.limits =
        new Partitioner.Limits(
            maxPayloads, maxBytes, Long.MAX_VALUE, template.partitioned() ? maxOpenPartitions : 1);
  }

  /**
   * Cuts a count/age batch so no part holds more than {@code limit} bytes of payload, each payload
   * counting its length plus one for its newline (at least one job each): the split of the default
   * template, the same as {@link #split} makes of an unpartitioned range.
   */
  static List<List<Job>> byBytes(List<Job> batch, long limit) {
    List<List<Job>> out = new ArrayList<>(1);
    int from = 0;
    long size = 0;
    for (int i = 0; i < batch.size(); i++) {
      long len = batch.get(i).payload().length + 1L;
      if (i > from && size + len > limit) {
        out.add(batch.subList(from, i));
        from = i;
        size = 0;
      }
      size += len;
    }
    out.add(batch.subList(from, batch.size()));
    return out;
  }

  /** {@return the range's pieces, in the order they were cut} */
  List<Piece> split(List<Job> range) {
    Partitioner<KeyTemplate.Partition, Job> p = new Partitioner<>(limits);
    List<Piece> out = new ArrayList<>(2);
    for (Job j : range) {
      KeyTemplate.Partition partition = template.partition(j.payload());
      for (var b : p.add(partition, j, j.payload().length, 0)) {
        out.add(new Piece(b.partition(), b.items()));
      }
    }
    for (var b : p.flush()) {
      out.add(new Piece(b.partition(), b.items()));
    }
    return out;
  }
}
