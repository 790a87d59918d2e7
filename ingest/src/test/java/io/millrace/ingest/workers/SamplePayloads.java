package io.millrace.ingest.workers;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Random;

/** Payloads shaped like the canonical load's (~110 bytes, 99 sources, 9 zones), seeded. */
final class SamplePayloads {
  private SamplePayloads() {}

  static List<byte[]> of(int count, long seed) {
    Random rnd = new Random(seed);
    List<byte[]> out = new ArrayList<>(count);
    for (int i = 0; i < count; i++) {
      String json =
          String.format(
              Locale.ROOT,
              "{\"id\":\"%x-t%d-r%d-p%d\",\"type\":\"metric\",\"ts\":%d,\"source\":\"sensor-%02d\","
                  + "\"value\":%.3f,\"tags\":{\"env\":\"prod\",\"zone\":\"z%d\"}}",
              seed,
              1 + i % 2,
              i / 10,
              1 + i % 10,
              1764115200000L + i / 10,
              1 + rnd.nextInt(99),
              rnd.nextDouble() * 1000,
              1 + rnd.nextInt(9));
      out.add(json.getBytes(StandardCharsets.UTF_8));
    }
    return out;
  }
}
