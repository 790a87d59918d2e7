package io.millrace.bench;

import com.github.luben.zstd.RecyclingBufferPool;
import com.github.luben.zstd.ZstdOutputStreamNoFinalizer;
import io.millrace.ingest.workers.Compression;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.zip.GZIPOutputStream;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OperationsPerInvocation;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

/**
 * U1. Encoding one NDJSON batch of 1,000 canonical payloads (~110 bytes each); the score is CPU ns
 * per payload on one thread. {@code gzip}, {@code zstd}, {@code none} are {@link Compression} as
 * the service runs it (gzip level 1, zstd level {@value Compression#ZSTD_LEVEL}); {@code zstd-3}
 * and {@code gzip-6} (the libraries' default levels) are for comparison. Bytes per payload: {@link
 * EncodedSizes}.
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@OperationsPerInvocation(EncodeBenchmark.BATCH)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(
    value = 1,
    jvmArgsAppend = {"-Xms1g", "-Xmx1g"})
@State(Scope.Benchmark)
public class EncodeBenchmark {
  static final int BATCH = 1000;

  @Param({"gzip", "zstd", "none", "zstd-3", "gzip-6"})
  public String codec;

  private List<byte[]> payloads;

  @Setup
  public void setUp() {
    payloads = UploadPayloads.of(BATCH, 1);
  }

  @Benchmark
  public byte[] encode() throws IOException {
    return encode(codec, payloads);
  }

  static byte[] encode(String codec, List<byte[]> payloads) throws IOException {
    return switch (codec) {
      case "zstd-3", "gzip-6" -> byLevel(codec, payloads);
      default -> Compression.parse(codec).encodeNdjson(payloads);
    };
  }

  private static byte[] byLevel(String codec, List<byte[]> payloads) throws IOException {
    ByteArrayOutputStream buf = new ByteArrayOutputStream(payloads.size() * 40);
    try (OutputStream out =
        codec.equals("zstd-3")
            ? new ZstdOutputStreamNoFinalizer(buf, RecyclingBufferPool.INSTANCE, 3)
            : new GZIPOutputStream(buf, 8192)) {
      for (byte[] p : payloads) {
        out.write(p);
        out.write('\n');
      }
    }
    return buf.toByteArray();
  }
}
