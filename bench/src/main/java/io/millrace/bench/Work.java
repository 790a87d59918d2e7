package io.millrace.bench;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/** The work every implementation of a benchmark does: the same inputs and the same functions. */
final class Work {
  private Work() {}

  /** Capacity of every buffer between two stages, for every library that lets us set it. */
  static final int BUFFER = 256;

  /** Boxed once per trial, so no implementation pays for boxing its input. */
  static List<Integer> ints(int n) {
    List<Integer> list = new ArrayList<>(n);
    for (int i = 0; i < n; i++) {
      list.add(i);
    }
    return list;
  }

  // The three cheap stages of benchmark A: a few cycles each, plus the box of the result.
  static Integer f1(Integer x) {
    return x + 1;
  }

  static Integer f2(Integer x) {
    return x * 31;
  }

  static Integer f3(Integer x) {
    return x ^ (x >>> 7);
  }

  /** The checksum every implementation of A must produce for the inputs 0..n-1. */
  static long expectedChain(int n) {
    long sum = 0;
    for (int i = 0; i < n; i++) {
      sum += f3(f2(f1(i)));
    }
    return sum;
  }

  /** The sum of 0..n-1. */
  static long expectedSum(int n) {
    return (long) n * (n - 1) / 2;
  }

  /** The I/O call of benchmark B: blocks its (virtual) thread for {@code millis}. */
  static Integer io(Integer x, long millis) {
    try {
      TimeUnit.MILLISECONDS.sleep(millis);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted", e);
    }
    return x;
  }
}
