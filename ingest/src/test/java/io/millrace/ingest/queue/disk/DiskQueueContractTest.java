package io.millrace.ingest.queue.disk;

import io.millrace.ingest.metrics.Metrics;
import io.millrace.ingest.queue.JobQueue;
import io.millrace.ingest.queue.QueueContract;
import io.millrace.ingest.testing.TestSupport;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * The queue contract for the local log; a restart reopens the same log folder. A folder is open in
 * one queue at a time (the log locks it), so a second queue opened while the first is still open
 * (another process, for the contract) gets a folder of its own.
 */
class DiskQueueContractTest extends QueueContract {
  private final List<DiskJobQueue> open = new ArrayList<>();

  @Override
  protected JobQueue open(Map<String, String> settings) throws Exception {
    open.removeIf(DiskJobQueue::isClosed);
    var data = open.isEmpty() ? dir : dir.resolve("other-" + open.size());
    DiskJobQueue q = DiskJobQueue.open(TestSupport.config(data, settings), new Metrics());
    open.add(q);
    return q;
  }
}
