package io.millrace.ingest;

import java.util.ArrayDeque;
import java.util.Deque;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The parts a start has brought up so far, in order, each with what stops it: when a later part
 * fails to start, {@link #closeAll} stops the earlier ones in reverse order, so a failed start
 * leaves no thread, connection or port behind. Confined to the starting thread.
 */
final class Parts {
  private static final Logger LOG = LoggerFactory.getLogger(Parts.class);

  /** Stops one part; may throw. */
  @FunctionalInterface
  interface Stop {
    void stop() throws Exception;
  }

  private record Part(String name, Stop how) {}

  private final Deque<Part> started = new ArrayDeque<>();

  /**
   * Records a part that has started (or is starting in the background).
   *
   * @param name for the log
   * @param stop what stops it; it must also wait for a background start to end
   */
  void stopWith(String name, Stop stop) {
    started.push(new Part(name, stop));
  }

  /** Records a started part that closes itself, and returns it. */
  <T extends AutoCloseable> T add(String name, T part) {
    stopWith(name, part::close);
    return part;
  }

  /**
   * Stops every recorded part, the last one first. A part that fails to stop is logged and its
   * failure attached to {@code cause} as suppressed; the others are still stopped. An interrupt
   * while stopping is kept: the flag is set again at the end.
   *
   * @param cause why the start failed
   */
  void closeAll(Throwable cause) {
    boolean interrupted = false;
    while (!started.isEmpty()) {
      Part p = started.pop();
      try {
        p.how().stop();
      } catch (InterruptedException e) {
        interrupted = true;
        cause.addSuppressed(e);
      } catch (Exception | Error e) {
        LOG.warn("stopping the {} after a failed start: {}", p.name(), e.toString());
        cause.addSuppressed(e);
      }
    }
    if (interrupted) {
      Thread.currentThread().interrupt();
    }
  }
}
