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

  /**
   * One readiness check of a part of the service.
   *
   * @param name the part: {@code queue}, {@code store} or {@code workers}
   * @param failure why it fails now, or null when it passes
   */
  record Check(String name, String failure) {
    /** {@return whether it passes} */
    public boolean ok() {
      return failure == null;
    }
  }

  /** {@return the phase now} */
  Phase phase();

  /**
   * {@return why this node should get no traffic, besides its phase (queue, store, workers); empty
   * when ready}
   */
  List<String> notReadyReasons();

  /**
   * {@return each readiness check of the parts this role runs (queue, store, workers), in that
   * order; the failing ones are {@link #notReadyReasons()}} By default one check, {@code service},
   * made of those reasons.
   */
  default List<Check> checks() {
    List<String> reasons = notReadyReasons();
    return List.of(new Check("service", reasons.isEmpty() ? null : String.join("; ", reasons)));
  }
}
