package io.millrace.ingest.workers;

import static org.assertj.core.api.Assertions.assertThat;

import io.millrace.ingest.config.Config;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * How large a range (the contiguous run of the queue that is fixed, then split into objects) may
 * grow: the default template keeps {@code MILLRACE_BATCH_MAX_PAYLOADS} and {@code
 * MILLRACE_BATCH_MAX_BYTES} exactly; a partitioned one grows to that many per open partition, but
 * never past half of the queue's budget (payloads and bytes), so admission keeps room while a range
 * fills and the previous one is stored.
 */
class RangeSizeTest {
  static Config config(Map<String, String> env) throws Exception {
    return Config.defaults().with(env);
  }

  @Test
  void theDefaultTemplateKeepsTheBatchLimits() throws Exception {
    Config c = config(Map.of());
    assertThat(Workers.rangeSize(c, false, Long.MAX_VALUE))
        .isEqualTo(c.batchMaxPayloads())
        .isEqualTo(5000);
    assertThat(Workers.rangeBytes(c, false, Long.MAX_VALUE))
        .isEqualTo(c.batchMaxBytes())
        .isEqualTo(8L << 20);
  }

  @Test
  void aPartitionedRangeTakesHalfOfTheQueueBudget() throws Exception {
    Config c = config(Map.of());
    assertThat(c.maxQueue()).isEqualTo(100_000);
    assertThat(Workers.rangeSize(c, true, Long.MAX_VALUE)).isEqualTo(50_000);
    assertThat(Workers.rangeBytes(c, true, Long.MAX_VALUE)).isEqualTo(c.queueMaxBytes() / 2);
    Config bigger = config(Map.of("MAX_QUEUE", "400000", "MILLRACE_QUEUE_MAX_BYTES", "1073741824"));
    assertThat(Workers.rangeSize(bigger, true, Long.MAX_VALUE)).isEqualTo(200_000);
    assertThat(Workers.rangeBytes(bigger, true, Long.MAX_VALUE)).isEqualTo(512L << 20);
  }

  @Test
  void aPartitionedRangeTakesAtMostHalfOfWhatTheSourceHandsOut() throws Exception {
    // the disk queue hands out (MAX_WORKERS + 2) batches at most: 330,000 payloads by default; a
    // range of 495,000 (MAX_QUEUE=1,200,000) could only be cut by age, one per
    // MILLRACE_BATCH_MAX_AGE_MS
    Config big = config(Map.of("MAX_QUEUE", "1200000", "MILLRACE_QUEUE_MAX_BYTES", "1073741824"));
    var handOut = io.millrace.ingest.queue.disk.DiskQueueOptions.of(big);
    assertThat(handOut.maxInFlightPayloads()).isEqualTo(330_000);
    assertThat(Workers.rangeSize(big, true, handOut.maxInFlightPayloads())).isEqualTo(165_000);
    assertThat(Workers.rangeBytes(big, true, handOut.maxInFlightBytes()))
        .isEqualTo(handOut.maxInFlightBytes() / 2);
    // the default template and the defaults are as before
    Config c = config(Map.of());
    var defaults = io.millrace.ingest.queue.disk.DiskQueueOptions.of(c);
    assertThat(Workers.rangeSize(c, true, defaults.maxInFlightPayloads())).isEqualTo(50_000);
    assertThat(Workers.rangeSize(big, false, handOut.maxInFlightPayloads())).isEqualTo(5000);
    // never less than one batch
    assertThat(Workers.rangeSize(c, true, 10)).isEqualTo(5000);
    assertThat(Workers.rangeBytes(c, true, 10)).isEqualTo(c.batchMaxBytes());
  }

  @Test
  void aPartitionedRangeHoldsAtMostOneBatchPerOpenPartition() throws Exception {
    Config c =
        config(
            Map.of(
                "MILLRACE_BATCH_MAX_PAYLOADS", "7",
                "MILLRACE_BATCH_MAX_BYTES", "2000",
                "MILLRACE_BATCH_MAX_OPEN_PARTITIONS", "3"));
    assertThat(Workers.rangeSize(c, true, Long.MAX_VALUE)).isEqualTo(21);
    assertThat(Workers.rangeBytes(c, true, Long.MAX_VALUE)).isEqualTo(6000);
  }

  @Test
  void aPartitionedRangeIsNeverSmallerThanOneBatch() throws Exception {
    Config c =
        config(
            Map.of(
                "MAX_QUEUE", "6000",
                "MILLRACE_QUEUE_MAX_BYTES", "10000000",
                "MILLRACE_BATCH_MAX_BYTES", "8000000"));
    assertThat(Workers.rangeSize(c, true, Long.MAX_VALUE)).isEqualTo(5000);
    assertThat(Workers.rangeBytes(c, true, Long.MAX_VALUE)).isEqualTo(8_000_000);
  }
}
