package io.millrace.pipeline;

/**
 * Thrown by a {@link Channel} operation that cannot complete because the channel is closed: sending
 * to a closed channel, or receiving from one that is closed and drained.
 *
 * <p>If the channel was ended by {@link Channel#fail(Throwable)}, {@link #getCause()} is the
 * failure given there; after a plain {@link Channel#close()} there is no cause.
 */
public class ChannelClosedException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  /**
   * Creates the exception.
   *
   * @param message what could not be done
   * @param cause the failure the channel was ended with, or {@code null} if it was closed
   */
  public ChannelClosedException(String message, Throwable cause) {
    super(message, cause);
  }

  /** {@return whether the channel was ended by {@link Channel#fail(Throwable)}} */
  public boolean isFailure() {
    return getCause() != null;
  }
}
