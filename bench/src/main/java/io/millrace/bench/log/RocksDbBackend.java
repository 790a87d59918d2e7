package io.millrace.bench.log;

import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import org.rocksdb.Options;
import org.rocksdb.RocksDB;
import org.rocksdb.RocksIterator;
import org.rocksdb.Statistics;
import org.rocksdb.TickerType;
import org.rocksdb.WriteBatch;
import org.rocksdb.WriteOptions;

/**
 * RocksDB with a synced WAL: each request is one {@link WriteBatch} written with {@code sync=true}
 * from the appending thread; RocksDB's own write-group leader merges concurrent writers into one
 * WAL write and one fsync. Keys are 8-byte big-endian sequence numbers; the consumer reads them in
 * order up to the first gap (a write still in flight) and deletes the read range with a synced
 * {@code deleteRange}.
 *
 * <p>With {@code groupCommit}, appends go through {@link GroupCommitter} instead: one writer thread
 * writes every queued request as one synced batch. From virtual threads that is the variant that
 * batches at all, since a thread inside a native call pins its carrier (two carriers here), so at
 * most two writers meet in RocksDB's own write group.
 */
final class RocksDbBackend implements Backend {
  static {
    RocksDB.loadLibrary();
  }

  private final Options options;
  private final Statistics statistics = new Statistics();
  private final RocksDB db;
  private final WriteOptions sync = new WriteOptions().setSync(true);
  private final AtomicLong nextKey = new AtomicLong();
  private long consumed; // next key to read: consumer thread only
  private final GroupCommitter committer; // null unless group commit in front
  private volatile long durableKey = Long.MAX_VALUE; // with group commit: keys below are synced

  RocksDbBackend(Path dir, boolean groupCommit) throws Exception {
    options = new Options().setCreateIfMissing(true).setStatistics(statistics);
    db = RocksDB.open(options, dir.toString());
    if (groupCommit) {
      durableKey = 0;
      committer = new GroupCommitter("rocksdb-writer", this::flush);
    } else {
      committer = null;
    }
  }

  private void flush(List<List<byte[]>> requests) throws Exception {
    long first = nextKey.get();
    long k = first;
    try (WriteBatch batch = new WriteBatch()) {
      for (List<byte[]> r : requests) {
        for (byte[] p : r) {
          batch.put(key(k++), p);
        }
      }
      db.write(sync, batch);
    }
    nextKey.set(k);
    durableKey = k;
  }

  private static byte[] key(long k) {
    return ByteBuffer.allocate(8).putLong(k).array();
  }

  @Override
  public void append(List<byte[]> payloads) throws Exception {
    if (committer != null) {
      committer.append(payloads);
      return;
    }
    long first = nextKey.getAndAdd(payloads.size());
    try (WriteBatch batch = new WriteBatch()) {
      for (int i = 0; i < payloads.size(); i++) {
        batch.put(key(first + i), payloads.get(i));
      }
      db.write(sync, batch);
    }
  }

  @Override
  public int consume(int max) throws Exception {
    int n = 0;
    try (RocksIterator it = db.newIterator()) {
      long end = durableKey;
      for (it.seek(key(consumed)); it.isValid() && n < max && consumed + n < end; it.next()) {
        if (ByteBuffer.wrap(it.key()).getLong() != consumed + n) {
          break; // a gap: an append still in flight
        }
        byte[] value = it.value();
        if (value.length == 0) {
          throw new IllegalStateException("empty payload");
        }
        n++;
      }
    }
    if (n > 0) {
      db.deleteRange(sync, key(consumed), key(consumed + n));
      consumed += n;
    }
    return n;
  }

  @Override
  public long flushes() {
    return statistics.getTickerCount(TickerType.WAL_FILE_SYNCED);
  }

  @Override
  public void close() throws Exception {
    if (committer != null) {
      committer.close();
    }
    db.close();
    sync.close();
    options.close();
    statistics.close();
  }
}
