package io.millrace.bench.log;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Keeps the log benchmark honest without running it: every backend, appended to from 8 threads at
 * once, hands every payload to its consumer exactly once. Runs in the default build.
 */
@Timeout(120)
class LogBackendsTest {
  @TempDir Path dir;

  @ParameterizedTest
  @ValueSource(strings = {"millrace", "rocksdb", "rocksdb-gc", "mvstore", "tape"})
  void everyAppendedPayloadIsConsumedOnce(String name) throws Exception {
    List<List<byte[]>> requests = LogBench.requests(400);
    try (Backend backend = Backend.open(name, dir.resolve(name));
        ExecutorService pool = Executors.newVirtualThreadPerTaskExecutor()) {
      List<Future<?>> appenders = new ArrayList<>();
      for (int t = 0; t < 8; t++) {
        int first = t * 50;
        appenders.add(
            pool.submit(
                () -> {
                  for (int i = first; i < first + 50; i++) {
                    backend.append(requests.get(i));
                  }
                  return null;
                }));
      }
      long consumed = 0;
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
      while (consumed < 4000 && System.nanoTime() < deadline) {
        int n = backend.consume(1000);
        consumed += n;
        if (n == 0) {
          Thread.sleep(1);
        }
      }
      for (Future<?> f : appenders) {
        f.get(30, TimeUnit.SECONDS);
      }
      Thread.sleep(50);
      consumed += backend.consume(1000);
      assertEquals(4000, consumed, name);
      assertEquals(true, backend.flushes() > 0, name + " counts its flushes");
    }
  }
}
