package io.millrace.ingest.testing;

import io.millrace.ingest.store.ObjectStore;

/**
 * An {@link ObjectStore} that hands every call to a real one: tests override only the calls they
 * break (a store that dies, or refuses some keys), the rest behaves as the real store does.
 */
public abstract class ForwardingStore implements ObjectStore {
  /** The store every call not overridden goes to. */
  protected final ObjectStore real;

  protected ForwardingStore(ObjectStore real) {
    this.real = real;
  }

  @Override
  public void put(String key, byte[] body, String contentType, String contentEncoding)
      throws Exception {
    real.put(key, body, contentType, contentEncoding);
  }

  @Override
  public boolean putIfAbsent(String key, byte[] body, String contentType, String contentEncoding)
      throws Exception {
    return real.putIfAbsent(key, body, contentType, contentEncoding);
  }

  @Override
  public boolean reachable() {
    return real.reachable();
  }

  @Override
  public void close() {
    real.close();
  }
}
