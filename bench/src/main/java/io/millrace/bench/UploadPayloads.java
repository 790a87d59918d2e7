package io.millrace.bench;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;

/**
 * Payloads as the canonical wrk workload ({@code payloads.lua}) makes them: ~110 bytes, a unique id
 * from a run tag, thread, request and position, 99 sources and 9 zones drawn at random.
 */
final class UploadPayloads {
  private static final String FORMAT =
      "{\"id\":\"%s-t%d-r%d-p%d\",\"type\":\"metric\",\"ts\":%d,\"source\":\"sensor-%02d\","
          + "\"value\":%.3f,\"tags\":{\"env\":\"prod\",\"zone\":\"z%d\"}}";

  private UploadPayloads() {}

  /** {@return {@code n} payloads, the same for the same seed} */
  static List<byte[]> of(int n, long seed) {
    SplittableRandom rnd = new SplittableRandom(seed);
    String run = String.format(Locale.ROOT, "%x%04x", 1_764_115_200L + seed, rnd.nextInt(65536));
    List<byte[]> out = new ArrayList<>(n);
    for (int k = 0; k < n; k++) {
      int tid = 1 + k % 2;
      int request = 1 + k / 20;
      String s =
          String.format(
              Locale.ROOT,
              FORMAT,
              run,
              tid,
              request,
              1 + k % 10,
              1_764_115_200_000L + request,
              1 + rnd.nextInt(99),
              rnd.nextDouble() * 1000,
              1 + rnd.nextInt(9));
      out.add(s.getBytes(StandardCharsets.UTF_8));
    }
    return out;
  }
}
