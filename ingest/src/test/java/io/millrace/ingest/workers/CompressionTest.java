package io.millrace.ingest.workers;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

class CompressionTest {

  private static byte[] ndjson(List<byte[]> payloads) {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    for (byte[] p : payloads) {
      out.writeBytes(p);
      out.write('\n');
    }
    return out.toByteArray();
  }

  private static byte[] decode(Compression c, byte[] body) throws IOException {
    try (InputStream in = c.decoder(new ByteArrayInputStream(body))) {
      return in.readAllBytes();
    }
  }

  @ParameterizedTest
  @EnumSource(Compression.class)
  void aBatchRoundTripsLineForLine(Compression c) throws IOException {
    for (int n : new int[] {0, 1, 2, 10, 1000, 50_000}) {
      List<byte[]> payloads = SamplePayloads.of(n, n);
      byte[] body = c.encodeNdjson(payloads);
      assertThat(decode(c, body)).as("%s, %d payloads", c, n).isEqualTo(ndjson(payloads));
    }
  }

  @ParameterizedTest
  @EnumSource(Compression.class)
  void linesAtAndBeyondTheEncodersStageRoundTrip(Compression c) throws IOException {
    java.util.Random random = new java.util.Random(42);
    List<byte[]> payloads = new java.util.ArrayList<>();
    int stage = 64 << 10;
    for (int size :
        new int[] {
          10, stage - 2, stage - 1, stage, 3, stage + 1, 200_000, 1, stage - 1, 0, stage / 2, stage
        }) {
      byte[] p = new byte[size];
      for (int i = 0; i < size; i++) {
        p[i] = (byte) ('a' + random.nextInt(26));
      }
      payloads.add(p);
    }
    payloads.addAll(SamplePayloads.of(2000, 3));
    assertThat(decode(c, c.encodeNdjson(payloads))).isEqualTo(ndjson(payloads));
  }

  @ParameterizedTest
  @EnumSource(Compression.class)
  void theStreamingEncoderWritesWhatEncodeNdjsonWrites(Compression c) throws IOException {
    List<byte[]> payloads = SamplePayloads.of(500, 7);
    ByteArrayOutputStream sink = new ByteArrayOutputStream();
    try (OutputStream enc = c.encoder(sink)) {
      for (byte[] p : payloads) {
        for (byte b : p) {
          enc.write(b); // byte by byte, the slowest way in
        }
        enc.write('\n');
      }
    }
    assertThat(decode(c, sink.toByteArray())).isEqualTo(ndjson(payloads));
  }

  @Test
  void suffixesAndContentEncodingsMatchEachEncoding() {
    assertThat(Compression.GZIP.suffix()).isEqualTo(".ndjson.gz");
    assertThat(Compression.ZSTD.suffix()).isEqualTo(".ndjson.zst");
    assertThat(Compression.NONE.suffix()).isEqualTo(".ndjson");
    assertThat(Compression.GZIP.contentEncoding()).contains("gzip");
    assertThat(Compression.ZSTD.contentEncoding()).contains("zstd");
    assertThat(Compression.NONE.contentEncoding()).isEmpty();
  }

  @Test
  void encodedBytesCarryEachFormatsMagicNumber() {
    List<byte[]> payloads = SamplePayloads.of(10, 1);
    byte[] gz = Compression.GZIP.encodeNdjson(payloads);
    assertThat(gz[0] & 0xff).isEqualTo(0x1f);
    assertThat(gz[1] & 0xff).isEqualTo(0x8b);
    byte[] zst = Compression.ZSTD.encodeNdjson(payloads);
    assertThat(new byte[] {zst[0], zst[1], zst[2], zst[3]})
        .isEqualTo(new byte[] {0x28, (byte) 0xb5, 0x2f, (byte) 0xfd});
    assertThat(Compression.NONE.encodeNdjson(payloads)).isEqualTo(ndjson(payloads));
  }

  @Test
  void zstdIsSmallerThanGzipOnTheCanonicalPayloads() {
    List<byte[]> payloads = SamplePayloads.of(1000, 3);
    int gz = Compression.GZIP.encodeNdjson(payloads).length;
    int zst = Compression.ZSTD.encodeNdjson(payloads).length;
    assertThat(zst).isLessThan(gz);
  }

  @Test
  void parseAcceptsTheThreeNamesInAnyCaseAndNamesThemOtherwise() {
    assertThat(Compression.parse("gzip")).isEqualTo(Compression.GZIP);
    assertThat(Compression.parse(" ZSTD ")).isEqualTo(Compression.ZSTD);
    assertThat(Compression.parse("None")).isEqualTo(Compression.NONE);
    for (Compression c : Compression.values()) {
      assertThat(Compression.parse(c.configName())).isEqualTo(c);
    }
    assertThatThrownBy(() -> Compression.parse("lz4"))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("'lz4' is not a compression (accepted: gzip, zstd, none)");
    assertThatThrownBy(() -> Compression.parse(null)).isInstanceOf(IllegalArgumentException.class);
  }

  @ParameterizedTest
  @EnumSource(
      value = Compression.class,
      names = {"GZIP", "ZSTD"})
  void theCommandLineToolsReadWhatWeWrite(Compression c, @TempDir Path dir) throws Exception {
    String tool = c == Compression.GZIP ? "/usr/bin/gzip" : "/usr/bin/zstd";
    assumeTrue(Files.isExecutable(Path.of(tool)), tool + " is not installed");
    List<byte[]> payloads = SamplePayloads.of(2000, 11);
    Path file = dir.resolve("batch" + c.suffix());
    Files.write(file, c.encodeNdjson(payloads));
    Process p =
        new ProcessBuilder(tool, "-d", "-c", file.toString())
            .redirectError(ProcessBuilder.Redirect.DISCARD)
            .start();
    byte[] out = p.getInputStream().readAllBytes();
    assertThat(p.waitFor(30, TimeUnit.SECONDS)).isTrue();
    assertThat(p.exitValue()).isZero();
    assertThat(out).isEqualTo(ndjson(payloads));
  }
}
