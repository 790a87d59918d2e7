package io.millrace.bench;

import java.io.IOException;
import java.util.List;
import java.util.Locale;

/**
 * Bytes per payload stored, for each codec of {@link EncodeBenchmark} and a few batch sizes, as a
 * Markdown table. Deterministic (seeded payloads). {@code java -cp ...
 * io.millrace.bench.EncodedSizes}
 */
public final class EncodedSizes {
  private EncodedSizes() {}

  public static void main(String[] args) throws IOException {
    int[] sizes = {100, 1000, 10_000};
    String[] codecs = {"none", "gzip", "zstd", "zstd-3", "gzip-6"};
    StringBuilder sb = new StringBuilder("| codec |");
    for (int n : sizes) {
      sb.append(" bytes/payload, batch of ").append(n).append(" |");
    }
    sb.append("\n| --- |").append(" ---: |".repeat(sizes.length)).append('\n');
    for (String codec : codecs) {
      sb.append("| ").append(codec).append(" |");
      for (int n : sizes) {
        List<byte[]> payloads = UploadPayloads.of(n, 1);
        double per = (double) EncodeBenchmark.encode(codec, payloads).length / n;
        sb.append(String.format(Locale.ROOT, " %.1f |", per));
      }
      sb.append('\n');
    }
    System.out.print(sb);
  }
}
