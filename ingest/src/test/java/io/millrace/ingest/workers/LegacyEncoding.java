package io.millrace.ingest.workers;

import io.millrace.ingest.queue.Job;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.zip.Deflater;
import java.util.zip.GZIPOutputStream;

/**
 * The batch encoding and byte split of the service before {@link RangeSplit} and {@link
 * Compression} (kept as the reference they are tested against).
 *
 * <p>What goes into an object: a batch as NDJSON (one payload per line, exactly as the client sent
 * it) compressed with gzip at level 1, cut so that no object holds more than the byte limit.
 * Stateless.
 */
final class LegacyEncoding {
  private LegacyEncoding() {}

  /**
   * Cuts a count/age batch further so no object holds more than {@code limit} bytes of payload (at
   * least one job each).
   */
  static List<List<Job>> splitByBytes(List<Job> batch, long limit) {
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

  /** {@return the batch's payloads, one per line, gzip-compressed} */
  static byte[] ndjsonGzip(List<Job> batch) throws IOException {
    int size = 0;
    for (Job j : batch) {
      size += j.payload().length + 1;
    }
    ByteArrayOutputStream out = new ByteArrayOutputStream(Math.max(64, size / 3));
    try (GZIPOutputStream gz = new FastGzip(out)) {
      for (Job j : batch) {
        gz.write(j.payload());
        gz.write('\n');
      }
    }
    return out.toByteArray();
  }

  /** GZIP at level 1: compression runs on the workers' cores, speed matters more than ratio. */
  private static final class FastGzip extends GZIPOutputStream {
    FastGzip(ByteArrayOutputStream out) throws IOException {
      super(out, 8192);
      def.setLevel(Deflater.BEST_SPEED);
    }
  }
}
