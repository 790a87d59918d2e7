package io.millrace.ingest.http;

import java.util.List;

/**
 * What the HTTP layer asks the rest of the service: where in its life it is (on every request), and
 * why it is not ready (on {@code /readyz}). Implementations are thread-safe and do not block.
 */
public interface ServiceState {
  /** Where the service is in its life. */
  enum Phase {
    /** Parts are still starting: probes answer, nothing is admitted (503 {@code starting}). */
    STARTING,
    /** Everything started: requests are admitted. */
    SERVING,
    /** Shutdown began: nothing is admitted any more (503 {@code shutting-down}). */
    SHUTTING_DOWN
  }

  /** {@return the phase now} */
  Phase phase();

  /**
   * {@return why this node should get no traffic, besides its phase (queue, store, workers); empty
   * when ready}
   */
  List<String> notReadyReasons();
}
