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

  /**
   * Stores one object only if no object is at that key yet ({@code If-None-Match: *} where the
   * store supports it): a writer that comes late — a frozen worker resumed, a retry after a lost
   * answer — cannot replace what is there. A store without conditional writes replaces it, as
   * {@link #put} does; callers that rely on this only for objects whose content is a function of
   * the key lose nothing by that.
   *
   * @param key the object key
   * @param body the bytes
   * @param contentType the object's content type
   * @param contentEncoding the object's {@code Content-Encoding}, or null for none
   * @return true if this call stored it, false if an object was at the key already (left as it is)
   * @throws Exception if it was not stored (it may be retried with the same key)
   */
  default boolean putIfAbsent(String key, byte[] body, String contentType, String contentEncoding)
      throws Exception {
    put(key, body, contentType, contentEncoding);
    return true;
  }

  /** {@return whether the store answered a cheap request just now} */
  boolean reachable();

  @Override
  void close();
}
