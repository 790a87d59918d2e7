package io.millrace.ingest.queue.disk;

import java.io.PrintStream;
import java.nio.file.Path;
import java.time.Duration;

/**
 * The child process of {@link CrashTest}: opens the log, then appends from 8 threads and cuts and
 * stores batches until it is killed. Prints one line per event, after the call returned:
 *
 * <pre>
 *   READY &lt;nextPosition&gt; &lt;firstUncut&gt;
 *   A &lt;request&gt; &lt;first&gt; &lt;count&gt;   an append returned (durable)
 *   C &lt;first&gt; &lt;last&gt;               a cut returned
 *   S &lt;first&gt; &lt;last&gt;               a batch was marked stored
 * </pre>
 */
public final class AppendLoop {
  private AppendLoop() {}

  public static void main(String[] args) throws Exception {
    Path dir = Path.of(args[0]);
    long requestBase = Long.parseLong(args[1]);
    PrintStream out = System.out;
    Duration wait = Duration.ofSeconds(30);
    DiskLog log = DiskLog.open(dir, LogFixtures.small(64 << 10));
    // batches recovered as pending are stored first, as the queue will replay them
    for (BatchRange r : log.recovery().pendingCuts()) {
      log.markStored(r, wait);
      print(out, "S " + r.first() + " " + r.last());
    }
    print(out, "READY " + log.recovery().nextPosition() + " " + log.firstUncutPosition());
    for (int t = 0; t < 8; t++) {
      long first = requestBase + t * 1_000_000L;
      Thread.ofPlatform()
          .start(
              () -> {
                try {
                  for (long r = first; ; r++) {
                    int n = 1 + (int) (r % 10);
                    Positions at = log.append(LogFixtures.payloads(r, n), wait);
                    print(out, "A " + r + " " + at.first() + " " + at.count());
                  }
                } catch (Exception e) {
                  e.printStackTrace();
                  System.exit(3);
                }
              });
    }
    java.util.List<BatchRange> pending = new java.util.ArrayList<>();
    java.util.Random random = new java.util.Random(requestBase);
    try (LogReader reader = log.reader(log.firstUncutPosition())) {
      while (true) {
        LogEntry first = reader.next(wait);
        LogEntry last = first;
        for (int i = 1; i < 50; i++) {
          LogEntry e = reader.next(Duration.ZERO);
          if (e == null) {
            break;
          }
          last = e;
        }
        BatchRange r = log.cut(first, last, wait);
        print(out, "C " + r.first() + " " + r.last());
        pending.add(r);
        if (pending.size() > 3) { // a few stay pending, stored out of order
          BatchRange s = pending.remove(random.nextInt(pending.size()));
          log.markStored(s, wait);
          print(out, "S " + s.first() + " " + s.last());
        }
      }
    }
  }

  private static final java.util.concurrent.locks.ReentrantLock PRINT =
      new java.util.concurrent.locks.ReentrantLock();

  private static void print(PrintStream out, String line) {
    PRINT.lock();
    try {
      out.println(line + " ."); // the end marker tells a whole line from one cut by the kill
      out.flush();
    } finally {
      PRINT.unlock();
    }
  }
}
