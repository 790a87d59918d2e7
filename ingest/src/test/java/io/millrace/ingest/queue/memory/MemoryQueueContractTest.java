package io.millrace.ingest.queue.memory;

import io.millrace.ingest.queue.JobQueue;
import io.millrace.ingest.queue.QueueContract;
import io.millrace.ingest.testing.TestSupport;
import java.util.Map;

/** The queue contract for the in-memory queue; a restart replays its spill files. */
class MemoryQueueContractTest extends QueueContract {
  private int starts;

  @Override
  protected JobQueue open(Map<String, String> settings) throws Exception {
    return MemoryJobQueue.open(
        TestSupport.config(dir, settings), "run" + starts++, System::currentTimeMillis);
  }
}
