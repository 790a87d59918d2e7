package io.millrace.ingest.store;

/** Where objects go. Implementations are thread-safe; {@link #put} blocks until stored. */
public interface ObjectStore extends AutoCloseable {

  /**
   * Stores one object, replacing any object at that key.
   *
   * @param key the object key
   * @param body the bytes
   * @param contentType the object's content type
   * @param contentEncoding the object's {@code Content-Encoding} ({@code gzip}, {@code zstd}), or
   *     null for none
   * @throws Exception if it was not stored (it may be retried with the same key)
   */
  void put(String key, byte[] body, String contentType, String contentEncoding) throws Exception;

  /** {@return whether the store answered a cheap request just now} */
  boolean reachable();

  @Override
  void close();
}
