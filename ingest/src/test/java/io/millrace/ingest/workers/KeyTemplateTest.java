package io.millrace.ingest.workers;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.millrace.ingest.workers.KeyTemplate.Partition;
import io.millrace.ingest.workers.KeyTemplate.SyntaxException;
import io.millrace.ingest.workers.KeyTemplate.Unit;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.List;
import java.util.Random;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

class KeyTemplateTest {
  private static final DateTimeFormatter DAY =
      DateTimeFormatter.ofPattern("yyyy-MM-dd").withZone(ZoneOffset.UTC);
  private static final DateTimeFormatter HOUR =
      DateTimeFormatter.ofPattern("HH").withZone(ZoneOffset.UTC);
  private static final String TYPED = "{prefix}/type={$.type}/dt={date}/hour={hour}/{batch}{ext}";

  private static byte[] json(String s) {
    return s.getBytes(StandardCharsets.UTF_8);
  }

  /** The layout as the service writes it before key templates (the reference to match). */
  private static String todaysKey(String prefix, long at, String name) {
    Instant i = Instant.ofEpochMilli(at);
    String p = prefix.isEmpty() ? "" : prefix + "/";
    return p + "dt=" + DAY.format(i) + "/hour=" + HOUR.format(i) + "/" + name;
  }

  @Test
  void theDefaultTemplatesReproduceTodaysLayoutExactly() {
    Random rnd = new Random(1);
    long[] fixedTimes = {
      0L,
      86_399_999L,
      86_400_000L,
      951_782_400_000L /* 2000-02-29 */,
      1_764_115_200_000L,
      253_402_300_799_999L /* 9999-12-31T23:59:59.999 */
    };
    for (String prefix : List.of("", "payloads", "a/b.c/d=e", "x_(1)")) {
      KeyTemplate batch = KeyTemplate.defaultFor(Unit.BATCH, prefix, ".ndjson.gz");
      KeyTemplate single = KeyTemplate.defaultFor(Unit.PAYLOAD, prefix, ".json");
      for (int i = 0; i < 5000; i++) {
        long at = i < fixedTimes.length ? fixedTimes[i] : rnd.nextLong(253_402_300_800_000L);
        String id = "n" + Long.toHexString(rnd.nextLong()) + "0000a1b2";
        String batchId = id + "-" + (1 + rnd.nextInt(1000));
        assertThat(batch.render(Partition.NONE, at, batchId))
            .isEqualTo(todaysKey(prefix, at, batchId + ".ndjson.gz"));
        assertThat(single.render(Partition.NONE, at, id))
            .isEqualTo(todaysKey(prefix, at, id + ".json"));
      }
      assertThat(batch.partitioned()).isFalse();
      assertThat(batch.partition(json("{\"type\":\"x\"}"))).isSameAs(Partition.NONE);
    }
  }

  @Test
  void aFieldTemplatePutsTheFieldsValueInTheKey() {
    KeyTemplate t = KeyTemplate.parse(TYPED, Unit.BATCH, "payloads", ".ndjson.zst");
    Partition p = t.partition(json("{\"id\":\"a\",\"type\":\"metric\",\"ts\":1}"));
    assertThat(p.values()).containsExactly("metric");
    assertThat(t.render(p, 1_764_115_200_000L, "seg1-0-99"))
        .isEqualTo("payloads/type=metric/dt=2025-11-26/hour=00/seg1-0-99.ndjson.zst");
    assertThat(t.fields()).containsExactly("$.type");
    assertThat(t.partitioned()).isTrue();
  }

  @Test
  void nestedFieldsAndSeveralFieldsAreReadInOnePass() {
    KeyTemplate t =
        KeyTemplate.parse(
            "{prefix}/{$.tags.zone}/{$.source}/{$.tags.env}/{batch}{ext}",
            Unit.BATCH,
            "p",
            ".ndjson.gz");
    String payload =
        "{\"id\":\"x\",\"big\":{\"deep\":[1,{\"tags\":{\"zone\":\"no\"}}]},\"source\":\"sensor-07\","
            + "\"tags\":{\"env\":\"prod\",\"zone\":\"z3\"},\"after\":[1,2,3]}";
    assertThat(t.partition(json(payload)).values()).containsExactly("z3", "sensor-07", "prod");
    assertThat(t.partition(json("{\"tags\":\"flat\",\"source\":1}")).values())
        .containsExactly("__missing__", "1", "__missing__");
    assertThat(t.partition(json("{\"tags\":{\"zone\":{\"x\":1},\"env\":null}}")).values())
        .containsExactly("__missing__", "__missing__", "__missing__");
  }

  static Stream<Arguments> values() {
    return Stream.of(
        Arguments.of("\"metric\"", "metric"),
        Arguments.of("\"sensor-01.a_b\"", "sensor-01.a_b"),
        Arguments.of("\"../../etc\"", "..%2F..%2Fetc"),
        Arguments.of("\"a/b\"", "a%2Fb"),
        Arguments.of("\"%2e%2e\"", "%252e%252e"),
        Arguments.of("\"..\"", "%2E%2E"),
        Arguments.of("\".\"", "%2E"),
        Arguments.of("\"...\"", "%2E%2E%2E"),
        Arguments.of("\".hidden\"", ".hidden"),
        Arguments.of("\"\\u00e9\"", "%C3%A9"),
        Arguments.of("\"日本\"", "%E6%97%A5%E6%9C%AC"),
        Arguments.of("\"\\ud83d\\ude00\"", "%F0%9F%98%80"),
        Arguments.of("\"\\ud83d\"", "%3F"), // an unpaired surrogate
        Arguments.of("\"a\\nb\"", "a%0Ab"),
        Arguments.of("\"\\u0000\"", "%00"),
        Arguments.of("\"\\t\\r\"", "%09%0D"),
        Arguments.of("\"a b+c~\"", "a%20b%2Bc%7E"),
        Arguments.of("\"\\\\\"", "%5C"),
        Arguments.of("\"__missing__\"", "__missing__"),
        Arguments.of("\"\"", "__missing__"),
        Arguments.of("null", "__missing__"),
        Arguments.of("{}", "__missing__"),
        Arguments.of("{\"a\":1}", "__missing__"),
        Arguments.of("[]", "__missing__"),
        Arguments.of("[\"x\"]", "__missing__"),
        Arguments.of("123", "123"),
        Arguments.of("1.50", "1.50"),
        Arguments.of("-1e3", "-1e3"),
        Arguments.of("true", "true"),
        Arguments.of("false", "false"));
  }

  @ParameterizedTest
  @MethodSource("values")
  void valuesAreMadeSafe(String jsonValue, String expected) {
    KeyTemplate t = KeyTemplate.parse(TYPED, Unit.BATCH, "p", ".ndjson.gz");
    Partition p = t.partition(json("{\"n\":0,\"type\":" + jsonValue + ",\"z\":[]}"));
    assertThat(p.values()).containsExactly(expected);
    String key = t.render(p, 0, "b1");
    assertThat(key).isEqualTo("p/type=" + expected + "/dt=1970-01-01/hour=00/b1.ndjson.gz");
  }

  @Test
  void payloadsWithoutTheFieldOrThatAreNotObjectsGoToTheMissingPartition() {
    KeyTemplate t = KeyTemplate.parse(TYPED, Unit.BATCH, "p", ".ndjson.gz");
    for (String payload :
        List.of("{}", "{\"typ\":\"x\"}", "[1,2]", "\"type\"", "42", "null", "{\"type\"", "{,,}")) {
      assertThat(t.partition(json(payload)).values()).as(payload).containsExactly("__missing__");
    }
    assertThat(t.partition(new byte[] {(byte) 0xff, 0, 1}).values()).containsExactly("__missing__");
    assertThat(t.partition(new byte[0]).values()).containsExactly("__missing__");
  }

  @Test
  void theFirstOccurrenceOfARepeatedKeyWins() {
    KeyTemplate t = KeyTemplate.parse(TYPED, Unit.BATCH, "p", ".ndjson.gz");
    assertThat(t.partition(json("{\"type\":\"a\",\"type\":\"b\"}")).values()).containsExactly("a");
  }

  @Test
  void longValuesAreCappedAndStayDistinct() {
    KeyTemplate t = KeyTemplate.parse(TYPED, Unit.BATCH, "p", ".ndjson.gz");
    String base = "x".repeat(10_000);
    String a = t.partition(json("{\"type\":\"" + base + "a\"}")).values().getFirst();
    String b = t.partition(json("{\"type\":\"" + base + "b\"}")).values().getFirst();
    String a2 = t.partition(json("{\"type\":\"" + base + "a\"}")).values().getFirst();
    assertThat(a).hasSize(PartitionValue.MAX_LENGTH).startsWith("x".repeat(47) + "~");
    assertThat(a).isNotEqualTo(b).isEqualTo(a2);
    // encoded characters are never cut in half
    String enc = t.partition(json("{\"type\":\"" + "é".repeat(5000) + "\"}")).values().getFirst();
    assertThat(enc).matches("(%C3%A9)+%C3~[0-9A-F]{16}|(%C3%A9)+~[0-9A-F]{16}");
    assertThat(enc.length()).isLessThanOrEqualTo(PartitionValue.MAX_LENGTH);
  }

  static Stream<Arguments> badTemplates() {
    String nine = "{$.a}{$.b}{$.c}{$.d}{$.e}{$.f}{$.g}{$.h}{$.i}";
    return Stream.of(
        Arguments.of("dt={date}/{batch}", 0, "starts with {prefix}/"),
        Arguments.of("{prefix}{batch}", 0, "starts with {prefix}/"),
        Arguments.of("{prefix}/{batch", 9, "this { is not closed"),
        Arguments.of("{prefix}/{da{te}/{batch}", 9, "this { is not closed"),
        Arguments.of("{prefix}/a}/{batch}", 10, "a } without its {"),
        Arguments.of("{prefix}/{}/{batch}", 9, "an empty placeholder"),
        Arguments.of("{prefix}/{foo}/{batch}", 9, "unknown placeholder {foo}"),
        Arguments.of("{prefix}/{$type}/{batch}", 11, "expected '.' after '$'"),
        Arguments.of("{prefix}/{$.}/{batch}", 12, "expected a field name"),
        Arguments.of("{prefix}/{$.a..b}/{batch}", 14, "expected a field name"),
        Arguments.of("{prefix}/{$.a b}/{batch}", 12, "expected a field name"),
        Arguments.of("{prefix}/{$.a.b.c.d.e}/{batch}", 9, "deeper than 4"),
        Arguments.of("{prefix}/" + nine + "/{batch}", 49, "more than 8 field placeholders"),
        Arguments.of("{prefix}//{batch}", 9, "an empty segment (//)"),
        Arguments.of("{prefix}/{batch}/", 17, "does not end with /"),
        Arguments.of("{prefix}/../{batch}", 9, "a segment of dots only ('..')"),
        Arguments.of("{prefix}/a/./{batch}", 11, "a segment of dots only ('.')"),
        Arguments.of("{prefix}/a b/{batch}", 10, "character ' ' is not accepted"),
        Arguments.of("{prefix}/a\n/{batch}", 10, "character U+000A is not accepted"),
        Arguments.of("{prefix}/é/{batch}", 9, "character U+00E9 is not accepted"),
        Arguments.of("{prefix}/a%2F/{batch}", 10, "character '%' is not accepted"),
        Arguments.of("{prefix}/dt={date}/x", 20, "a batch key needs {batch}"),
        Arguments.of("{prefix}/{id}", 9, "{id} names one payload"),
        Arguments.of("{prefix}/{prefix}/{batch}", 9, "{prefix} may only start"),
        Arguments.of("{prefix}/{batch}.ndjson.gz", 16, "ends with .ndjson.gz but these"));
  }

  @ParameterizedTest
  @MethodSource("badTemplates")
  void aTemplateThatBreaksARuleFailsWithItsPositionAndWhatWasExpected(
      String template, int position, String message) {
    assertThatThrownBy(() -> KeyTemplate.parse(template, Unit.BATCH, "p", ".ndjson.zst"))
        .isInstanceOfSatisfying(
            SyntaxException.class, e -> assertThat(e.position()).isEqualTo(position))
        .hasMessageStartingWith("at position " + (position + 1) + " of '")
        .hasMessageContaining(message);
  }

  @Test
  void perPayloadTemplatesNeedTheIdAndRejectTheBatch() {
    assertThatThrownBy(() -> KeyTemplate.parse("{prefix}/{batch}", Unit.PAYLOAD, "p", ".json"))
        .hasMessageContaining("{batch} names a batch; per-payload keys use {id}");
    assertThatThrownBy(() -> KeyTemplate.parse("{prefix}/{date}", Unit.PAYLOAD, "p", ".json"))
        .hasMessageContaining("a per-payload key needs {id}");
    KeyTemplate t = KeyTemplate.parse("{prefix}/{$.type}/{id}.json", Unit.PAYLOAD, "p", ".json");
    assertThat(t.render(t.partition(json("{\"type\":\"t\"}")), 0, "abc")).isEqualTo("p/t/abc.json");
  }

  @Test
  void keysThatCouldPassS3sLengthLimitAreRejectedAtParse() {
    String prefix = "p".repeat(500);
    String t = "{prefix}/{$.a}/{$.b}/{$.c}/{$.d}/{$.e}/{$.f}/{$.g}/{batch}{ext}";
    assertThatThrownBy(() -> KeyTemplate.parse(t, Unit.BATCH, prefix, ".ndjson.gz"))
        .hasMessageContaining("more than the 1024 that S3 accepts");
    assertThat(KeyTemplate.parse(t, Unit.BATCH, "payloads", ".ndjson.gz").fields()).hasSize(7);
  }

  @Test
  void prefixesAndExtensionsAreChecked() {
    for (String bad : List.of("/a", "a/", "a//b", "a/../b", "..", "a b", "a\u0000")) {
      assertThatThrownBy(() -> KeyTemplate.defaultFor(Unit.BATCH, bad, ".ndjson.gz"))
          .as(bad)
          .isInstanceOf(IllegalArgumentException.class)
          .hasMessageContaining("prefix");
    }
    for (String bad : List.of("", "gz", ".", "..gz", ".nd json", "/x")) {
      assertThatThrownBy(() -> KeyTemplate.defaultFor(Unit.BATCH, "p", bad))
          .as(bad)
          .hasMessageContaining("extension");
    }
  }

  @Test
  void renderRejectsIdsThatCouldBreakTheKey() {
    KeyTemplate t = KeyTemplate.defaultFor(Unit.BATCH, "p", ".ndjson.gz");
    for (String bad : List.of("", "a/b", "..", ".", "a b", "é", "x".repeat(129))) {
      assertThatThrownBy(() -> t.render(Partition.NONE, 0, bad))
          .as(bad)
          .isInstanceOf(IllegalArgumentException.class);
    }
    assertThatThrownBy(() -> t.render(new Partition(List.of("x")), 0, "b"))
        .hasMessageContaining("one value per field");
  }

  /** Random templates and hostile values: every key stays under the prefix, segment for segment. */
  @Test
  void fuzzedTemplatesAndValuesNeverLeaveThePrefix() {
    Random rnd = new Random(42);
    String[] prefixes = {"", "p", "a/b", "x.y/z=1", "..a/b.."};
    String[] pieces = {"{date}", "{hour}", "{$.a}", "{$.b.c}", "x", "=", ".", "-", "{ext}", "_"};
    int keys = 0;
    for (int round = 0; round < 3000; round++) {
      String prefix = prefixes[rnd.nextInt(prefixes.length)];
      StringBuilder tpl = new StringBuilder("{prefix}");
      int segments = 1 + rnd.nextInt(4);
      int batchAt = rnd.nextInt(segments);
      for (int s = 0; s < segments; s++) {
        tpl.append('/');
        int n = 1 + rnd.nextInt(3);
        for (int k = 0; k < n; k++) {
          tpl.append(pieces[rnd.nextInt(pieces.length)]);
        }
        if (s == batchAt) {
          tpl.append("{batch}");
        }
      }
      KeyTemplate t;
      try {
        t = KeyTemplate.parse(tpl.toString(), Unit.BATCH, prefix, ".ndjson.gz");
      } catch (SyntaxException e) {
        continue; // e.g. a segment of dots only: rejected, which is the point
      }
      for (int v = 0; v < 20; v++) {
        String payload = "{\"a\":" + hostileJson(rnd) + ",\"b\":{\"c\":" + hostileJson(rnd) + "}}";
        String key = t.render(t.partition(json(payload)), rnd.nextLong(1L << 40), "b-1.x");
        checkSafe(key, prefix, 1 + segments);
        keys++;
      }
    }
    assertThat(keys).isGreaterThan(20_000);
  }

  private static void checkSafe(String key, String prefix, int templateSegments) {
    int prefixSegments = prefix.isEmpty() ? 0 : prefix.split("/").length;
    assertThat(key).startsWith(prefix.isEmpty() ? "" : prefix + "/");
    assertThat(key).doesNotStartWith("/").doesNotEndWith("/").doesNotContain("//");
    assertThat(key.length()).isLessThanOrEqualTo(KeyTemplate.MAX_KEY_LENGTH);
    assertThat(key).matches("[A-Za-z0-9!_.*'()=~%/-]+");
    String[] segs = key.split("/", -1);
    assertThat(segs).hasSize(prefixSegments + templateSegments - 1);
    for (String s : segs) {
      assertThat(s).isNotEmpty().isNotEqualTo(".").isNotEqualTo("..");
    }
  }

  private static String hostileJson(Random rnd) {
    return switch (rnd.nextInt(8)) {
      case 0 -> "null";
      case 1 -> "{\"x\":1}";
      case 2 -> Long.toString(rnd.nextLong());
      case 3 -> "\"" + ".".repeat(1 + rnd.nextInt(3)) + "\"";
      default -> {
        StringBuilder sb = new StringBuilder("\"");
        int n = rnd.nextInt(rnd.nextInt(10) == 0 ? 3000 : 12);
        String alphabet = "./%\\~ aZ9-_\u00e9\u65e5\ud83d\ude00";
        for (int i = 0; i < n; i++) {
          int pick = rnd.nextInt(alphabet.length() + 4);
          if (pick >= alphabet.length()) {
            sb.append(String.format("\\u%04x", rnd.nextInt(0x20))); // a control character
          } else {
            char c = alphabet.charAt(pick);
            sb.append(c == '\\' ? "\\\\" : String.valueOf(c));
          }
        }
        yield sb.append('"').toString();
      }
    };
  }
}
