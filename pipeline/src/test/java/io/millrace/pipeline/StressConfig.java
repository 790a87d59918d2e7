package io.millrace.pipeline;

/** How hard the stress loops work: {@code -Dmillrace.stress.iterations=N} (default 300). */
final class StressConfig {
  private StressConfig() {}

  static int iterations() {
    return Integer.getInteger("millrace.stress.iterations", 300);
  }
}
