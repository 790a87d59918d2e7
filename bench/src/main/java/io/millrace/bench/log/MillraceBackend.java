package io.millrace.bench.log;

import io.millrace.ingest.queue.disk.BatchRange;
import io.millrace.ingest.queue.disk.DiskLog;
import io.millrace.ingest.queue.disk.DiskLogOptions;
import io.millrace.ingest.queue.disk.LogEntry;
import io.millrace.ingest.queue.disk.LogReader;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Semaphore;

/**
 * The purpose-built segment log: group commit by one writer thread. The consumer cuts each batch
 * (durable, before its "upload") and marks it stored from another thread, as the service's
 * uploaders will, up to 8 batches in flight.
 */
final class MillraceBackend implements Backend {
  private static final Duration TIMEOUT = Duration.ofSeconds(30);
  private final DiskLog log;
  private final LogReader reader;
  private final ExecutorService uploaders = Executors.newVirtualThreadPerTaskExecutor();
  private final Semaphore inFlight = new Semaphore(8);

  MillraceBackend(Path dir) throws Exception {
    log = DiskLog.open(dir, DiskLogOptions.defaults());
    reader = log.reader(log.firstUncutPosition());
  }

  @Override
  public void append(List<byte[]> payloads) throws Exception {
    log.append(payloads, TIMEOUT);
  }

  @Override
  public int consume(int max) throws Exception {
    LogEntry first = reader.next(Duration.ZERO);
    if (first == null) {
      return 0;
    }
    LogEntry last = first;
    int n = 1;
    for (LogEntry e; n < max && (e = reader.next(Duration.ZERO)) != null; n++) {
      last = e;
    }
    BatchRange batch = log.cut(first, last, TIMEOUT);
    inFlight.acquire();
    uploaders.submit(
        () -> {
          try {
            log.markStored(batch, TIMEOUT);
          } finally {
            inFlight.release();
          }
          return null;
        });
    return n;
  }

  @Override
  public long flushes() {
    return log.stats().fsyncs();
  }

  @Override
  public void close() throws Exception {
    uploaders.close();
    reader.close();
    log.close();
  }
}
