package io.millrace.pipeline;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.util.SplittableRandom;
import java.util.function.Supplier;

/**
 * How hard the stress loops work: {@code -Dmillrace.stress.iterations=N} (default 300), and the
 * loop they share: {@code -Dmillrace.stress.seed=S} replays a run.
 */
final class StressConfig {
  private StressConfig() {}

  static int iterations() {
    return Integer.getInteger("millrace.stress.iterations", 300);
  }

  /** One iteration: its own random source and the way it ends. */
  interface Iteration<E> {
    void run(SplittableRandom rnd, E ending) throws Exception;
  }

  /**
   * Runs {@link #iterations()} iterations, each with a random ending and its own seed, each bounded
   * to 20 s; a failure names the run's seed, the iteration, its ending and {@code last} (what the
   * iteration drew). With at least {@code coverAll} iterations, every ending must have come up.
   */
  static <E extends Enum<E>> void loop(
      Class<E> endings, String what, int coverAll, Supplier<String> last, Iteration<E> iteration)
      throws Exception {
    long seed = Long.getLong("millrace.stress.seed", System.nanoTime());
    SplittableRandom rnd = new SplittableRandom(seed);
    E[] values = endings.getEnumConstants();
    int iterations = iterations();
    int[] seen = new int[values.length];
    for (int it = 0; it < iterations; it++) {
      E ending = values[rnd.nextInt(values.length)];
      long iterationSeed = rnd.nextLong();
      String where = "seed " + seed + ", iteration " + it + ", " + what + " " + ending;
      try {
        Bounded.within(
            Duration.ofSeconds(20),
            () -> iteration.run(new SplittableRandom(iterationSeed), ending));
      } catch (AssertionError e) {
        throw new AssertionError(where + ": " + e.getMessage() + " (" + last.get() + ")", e);
      }
      seen[ending.ordinal()]++;
    }
    if (iterations >= coverAll) {
      assertThat(seen).doesNotContain(0);
    }
  }
}
