package io.millrace.bench;

import io.millrace.ingest.workers.KeyTemplate;
import io.millrace.ingest.workers.KeyTemplate.Partition;
import io.millrace.ingest.workers.KeyTemplate.Unit;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OperationsPerInvocation;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;
import org.openjdk.jmh.infra.Blackhole;

/**
 * U2. What a key costs per payload: reading a field's partition out of a canonical payload (Jackson
 * streaming, no tree), rendering a key, and today's key code (two {@code DateTimeFormatter}s and
 * string concatenation) for reference. Over 1,000 payloads; the score is ns per payload.
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@OperationsPerInvocation(KeyTemplateBenchmark.N)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(
    value = 1,
    jvmArgsAppend = {"-Xms1g", "-Xmx1g"})
@State(Scope.Benchmark)
public class KeyTemplateBenchmark {
  static final int N = 1000;
  private static final long AT = 1_764_115_200_000L;
  private static final DateTimeFormatter DAY =
      DateTimeFormatter.ofPattern("yyyy-MM-dd").withZone(ZoneOffset.UTC);
  private static final DateTimeFormatter HOUR =
      DateTimeFormatter.ofPattern("HH").withZone(ZoneOffset.UTC);

  private List<byte[]> payloads;
  private String[] ids;
  private KeyTemplate plain;
  private KeyTemplate bySource;
  private KeyTemplate byZone;

  @Setup
  public void setUp() {
    payloads = UploadPayloads.of(N, 2);
    ids = new String[N];
    for (int i = 0; i < N; i++) {
      ids[i] = String.format("n1a2b%012x", 1_000_000L + i);
    }
    plain = KeyTemplate.defaultFor(Unit.PAYLOAD, "payloads", ".json");
    bySource =
        KeyTemplate.parse(
            "{prefix}/source={$.source}/dt={date}/hour={hour}/{id}{ext}",
            Unit.PAYLOAD,
            "payloads",
            ".json");
    byZone =
        KeyTemplate.parse(
            "{prefix}/zone={$.tags.zone}/dt={date}/hour={hour}/{id}{ext}",
            Unit.PAYLOAD,
            "payloads",
            ".json");
  }

  @Benchmark
  public void todaysKeyCode(Blackhole bh) {
    for (int i = 0; i < N; i++) {
      Instant at = Instant.ofEpochMilli(AT + i);
      bh.consume(
          "payloads/dt=" + DAY.format(at) + "/hour=" + HOUR.format(at) + "/" + ids[i] + ".json");
    }
  }

  @Benchmark
  public void renderDefault(Blackhole bh) {
    for (int i = 0; i < N; i++) {
      bh.consume(plain.render(Partition.NONE, AT + i, ids[i]));
    }
  }

  @Benchmark
  public void partitionTopLevelField(Blackhole bh) {
    for (int i = 0; i < N; i++) {
      bh.consume(bySource.partition(payloads.get(i)));
    }
  }

  @Benchmark
  public void partitionNestedField(Blackhole bh) {
    for (int i = 0; i < N; i++) {
      bh.consume(byZone.partition(payloads.get(i)));
    }
  }

  @Benchmark
  public void partitionAndRender(Blackhole bh) {
    for (int i = 0; i < N; i++) {
      bh.consume(bySource.render(bySource.partition(payloads.get(i)), AT + i, ids[i]));
    }
  }
}
