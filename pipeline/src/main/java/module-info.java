/**
 * Millrace pipelines: typed, bounded, structured concurrent pipelines on virtual threads.
 *
 * <p>The module exports one package, {@link io.millrace.pipeline}, and needs nothing but {@code
 * java.base}. Within the package only the API is public: the runtime (a run's threads, wiring,
 * stage bodies) is package-private.
 */
module io.millrace.pipeline {
  exports io.millrace.pipeline;
}
