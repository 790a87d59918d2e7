package io.millrace.bench.log;

import com.squareup.tape2.QueueFile;
import java.io.ByteArrayOutputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.locks.ReentrantLock;

/**
 * Square's Tape {@link QueueFile}: a ring-buffer file opened in {@code rwd} mode (every write is
 * synchronous). Behind {@link GroupCommitter}, each group of requests is one element, so a group
 * costs one {@code add} (a data write and a header write, both O_DSYNC) instead of one per request.
 * The file is not thread-safe: the writer and the consumer share a lock.
 */
final class TapeBackend implements Backend {
  private final QueueFile file;
  private final ReentrantLock lock = new ReentrantLock();
  private final GroupCommitter committer;

  TapeBackend(Path dir) throws Exception {
    java.nio.file.Files.createDirectories(dir);
    file = new QueueFile.Builder(dir.resolve("queue.tape").toFile()).zero(false).build();
    committer = new GroupCommitter("tape-writer", this::flush);
  }

  private void flush(List<List<byte[]>> requests) throws IOException {
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    DataOutputStream out = new DataOutputStream(bytes);
    for (List<byte[]> r : requests) {
      for (byte[] p : r) {
        out.writeInt(p.length);
        out.write(p);
      }
    }
    byte[] element = bytes.toByteArray();
    lock.lock();
    try {
      file.add(element);
    } finally {
      lock.unlock();
    }
  }

  @Override
  public void append(List<byte[]> payloads) throws Exception {
    committer.append(payloads);
  }

  @Override
  public int consume(int max) throws IOException {
    int n = 0;
    lock.lock();
    try {
      while (n < max && !file.isEmpty()) {
        ByteBuffer element = ByteBuffer.wrap(file.peek());
        while (element.hasRemaining()) {
          int len = element.getInt();
          element.position(element.position() + len);
          n++;
        }
        file.remove();
      }
    } finally {
      lock.unlock();
    }
    return n;
  }

  @Override
  public long flushes() {
    return committer.groups();
  }

  @Override
  public void close() throws Exception {
    committer.close();
    file.close();
  }
}
