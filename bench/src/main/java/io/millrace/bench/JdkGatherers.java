package io.millrace.bench;

import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.MethodType;
import java.util.function.Function;
import java.util.stream.Stream;

/**
 * {@code stream.gather(Gatherers.mapConcurrent(n, fn))}, which exists from JDK 24 on, called
 * through method handles so that this module still compiles with {@code release 21} and one
 * benchmarks jar runs on any JDK from 21 up.
 *
 * <p>Why not a second source folder compiled with {@code release 24} into a multi-release jar: it
 * would make a JDK 24+ necessary to build the whole project (the project promises 21+), and JMH's
 * annotation processor would have to run over two compilations. The reflective cost here is two
 * method-handle calls per run of 10,000 elements, far below the noise of a 100 ms benchmark.
 */
final class JdkGatherers {
  private JdkGatherers() {}

  private static final MethodHandle MAP_CONCURRENT; // (int, Function) -> Gatherer
  private static final MethodHandle GATHER; // (Stream, Gatherer) -> Stream

  static {
    MethodHandle mapConcurrent = null;
    MethodHandle gather = null;
    try {
      Class<?> gatherer = Class.forName("java.util.stream.Gatherer");
      Class<?> gatherers = Class.forName("java.util.stream.Gatherers");
      MethodHandles.Lookup lookup = MethodHandles.publicLookup();
      mapConcurrent =
          lookup.findStatic(
              gatherers,
              "mapConcurrent",
              MethodType.methodType(gatherer, int.class, Function.class));
      gather =
          lookup.findVirtual(Stream.class, "gather", MethodType.methodType(Stream.class, gatherer));
    } catch (ReflectiveOperationException e) {
      // JDK < 24: isAvailable() says so
    }
    MAP_CONCURRENT = mapConcurrent;
    GATHER = gather;
  }

  static boolean isAvailable() {
    return MAP_CONCURRENT != null && GATHER != null;
  }

  /** {@code stream.gather(Gatherers.mapConcurrent(maxConcurrency, fn))}. */
  @SuppressWarnings("unchecked")
  static <T, R> Stream<R> mapConcurrent(
      Stream<T> stream, int maxConcurrency, Function<? super T, ? extends R> fn) {
    if (!isAvailable()) {
      throw new UnsupportedOperationException(
          "Gatherers.mapConcurrent needs JDK 24 or newer; this is " + Runtime.version().feature());
    }
    try {
      Object g = MAP_CONCURRENT.invoke(maxConcurrency, fn);
      return (Stream<R>) GATHER.invoke(stream, g);
    } catch (RuntimeException | Error e) {
      throw e;
    } catch (Throwable t) {
      throw new IllegalStateException(t);
    }
  }
}
