package io.millrace.ingest.queue;

import java.nio.file.Path;

/** What a job source did at shutdown with what was not stored ({@link JobSource#handOver}). */
public sealed interface Handover {

  /** {@return how many payloads were handed over} */
  int payloads();

  /**
   * Given back to a shared queue: delivered again at once, maybe to another process.
   *
   * @param payloads how many
   */
  record GivenBack(int payloads) implements Handover {
    @Override
    public String toString() {
      return payloads + " given back to JetStream";
    }
  }

  /**
   * Written to spill files, replayed by the next start.
   *
   * @param payloads how many were written (0 if writing failed: the error is logged)
   * @param dir the spill folder
   */
  record Spilled(int payloads, Path dir) implements Handover {
    @Override
    public String toString() {
      return payloads + " spilled to " + dir;
    }
  }

  /**
   * Left where it is: in the durable local log, which the next start replays (nothing had to be
   * written: everything admitted was durable before its 202).
   *
   * @param payloads how many payloads are not yet stored
   * @param dir the log's folder
   */
  record LeftInLog(int payloads, Path dir) implements Handover {
    @Override
    public String toString() {
      return payloads + " left in the local log at " + dir;
    }
  }
}
