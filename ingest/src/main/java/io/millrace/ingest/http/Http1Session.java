package io.millrace.ingest.http;

import io.helidon.common.concurrency.limits.Limit;
import io.helidon.common.task.InterruptableTask;
import io.helidon.webserver.spi.ServerConnection;
import java.time.Duration;

/**
 * One HTTP/1 connection as the listener runs it: Helidon's own HTTP/1.1 connection, which can be
 * told to end after the exchange in progress. Helidon 4.5 writes {@code Connection: close} on a
 * response but then waits for the next request instead of closing the socket; {@link
 * #endAfterThisExchange()} (called by the routing's filter, {@link HttpApi#routing}, and by {@link
 * Http10Responses}) makes it close the socket once the response is written.
 *
 * <p>Helidon runs a connection, its requests and their routing on one thread; while {@link #handle}
 * runs, that thread's {@link #current()} is this session.
 */
final class Http1Session implements ServerConnection, InterruptableTask<Void> {
  private static final ThreadLocal<Http1Session> CURRENT = new ThreadLocal<>();

  private volatile ServerConnection connection;

  /** Sets the connection it runs; once, before {@link #handle}. */
  void connection(ServerConnection connection) {
    this.connection = connection;
  }

  /**
   * {@return the session whose request this thread is handling, or null (not on a connection's
   * thread, or a connection this listener did not make)}
   */
  static Http1Session current() {
    return CURRENT.get();
  }

  /**
   * Ends the connection once the exchange in progress is done: no further request is read, and
   * Helidon closes the socket after the response. Any thread; idempotent.
   */
  void endAfterThisExchange() {
    // Http1Connection.close(false) stops its loop after the request in progress; it interrupts
    // only a thread waiting for the next request, and this is called while one is handled
    connection.close(false);
  }

  @Override
  public void handle(Limit limit) throws InterruptedException {
    CURRENT.set(this);
    try {
      connection.handle(limit);
    } finally {
      CURRENT.remove();
    }
  }

  @Override
  public boolean canInterrupt() {
    return connection instanceof InterruptableTask<?> t && t.canInterrupt();
  }

  @Override
  public Duration idleTime() {
    return connection.idleTime();
  }

  @Override
  public void close(boolean interrupt) {
    connection.close(interrupt);
  }
}
