package io.millrace.bench.log;

import java.nio.file.Path;
import java.util.Iterator;
import java.util.List;
import org.h2.mvstore.MVMap;
import org.h2.mvstore.MVStore;

/**
 * H2's MVStore: a map from a sequence number to a payload, behind {@link GroupCommitter} (the
 * writer thread puts a group, then {@code commit()} and {@code sync()}: one fsync per group). The
 * consumer reads up to the last synced key and removes what it read; the removals become durable
 * with the next group's commit (a little in MVStore's favour).
 */
final class MvStoreBackend implements Backend {
  private final MVStore store;
  private final MVMap<Long, byte[]> map;
  private final GroupCommitter committer;
  private long nextKey; // writer thread only
  private volatile long durableKey; // keys below it are synced
  private long consumed; // consumer thread only

  MvStoreBackend(Path dir) throws Exception {
    java.nio.file.Files.createDirectories(dir);
    store =
        new MVStore.Builder()
            .fileName(dir.resolve("queue.mv").toString())
            .autoCommitDisabled()
            .open();
    map = store.openMap("queue");
    committer = new GroupCommitter("mvstore-writer", this::flush);
  }

  private void flush(List<List<byte[]>> requests) {
    for (List<byte[]> r : requests) {
      for (byte[] p : r) {
        map.put(nextKey++, p);
      }
    }
    store.commit();
    store.sync();
    durableKey = nextKey;
  }

  @Override
  public void append(List<byte[]> payloads) throws Exception {
    committer.append(payloads);
  }

  @Override
  public int consume(int max) {
    long end = Math.min(durableKey, consumed + max);
    int n = 0;
    for (Iterator<Long> it = map.cursor(consumed); it.hasNext(); ) {
      long k = it.next();
      if (k >= end) {
        break;
      }
      n++;
    }
    for (long k = consumed; k < consumed + n; k++) {
      map.remove(k);
    }
    consumed += n;
    return n;
  }

  @Override
  public long flushes() {
    return committer.groups();
  }

  @Override
  public void close() throws Exception {
    committer.close();
    store.close();
  }
}
