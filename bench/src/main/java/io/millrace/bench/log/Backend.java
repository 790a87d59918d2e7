package io.millrace.bench.log;

import java.nio.file.Path;
import java.util.List;

/**
 * One durable local queue under test, used as the service would: many threads append one request
 * (its payloads) each, durable before the call returns; one consumer reads in order and deletes
 * what it has read (the "stored" acknowledgement).
 */
interface Backend extends AutoCloseable {

  /** Appends one request's payloads, durable (fsync'd) before returning. Thread-safe. */
  void append(List<byte[]> payloads) throws Exception;

  /**
   * Reads up to {@code max} payloads in order from where the last call stopped, then deletes them.
   * One consumer thread only.
   *
   * @return how many payloads were read (0 if none is durable yet)
   */
  int consume(int max) throws Exception;

  /** {@return durable flushes so far (fsyncs, or O_DSYNC write groups where so noted)} */
  long flushes();

  @Override
  void close() throws Exception;

  /** {@return a backend by name, with its files under {@code dir}} */
  static Backend open(String name, Path dir) throws Exception {
    return switch (name) {
      case "millrace" -> new MillraceBackend(dir);
      case "rocksdb" -> new RocksDbBackend(dir, false);
      case "rocksdb-gc" -> new RocksDbBackend(dir, true);
      case "mvstore" -> new MvStoreBackend(dir);
      case "tape" -> new TapeBackend(dir);
      default -> throw new IllegalArgumentException("unknown backend " + name);
    };
  }
}
