package io.millrace.ingest.workers;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** The byte scan for top-level keys gives the parser's answers, whatever the payload. */
class FieldExtractorTest {
  private static final FieldExtractor SOURCE = new FieldExtractor(List.of(List.of("source")));
  private static final FieldExtractor TWO =
      new FieldExtractor(List.of(List.of("source"), List.of("type"), List.of("source")));

  private static String[] scan(FieldExtractor f, String json) {
    return f.extract(json.getBytes(StandardCharsets.UTF_8));
  }

  private static String[] parse(FieldExtractor f, byte[] json) {
    return f.parse(json, new String[f == SOURCE ? 1 : 3]);
  }

  @Test
  void plainValuesAreTakenAsTheParserTakesThem() {
    assertThat(scan(SOURCE, "{\"source\":\"web-7\",\"x\":1}")).containsExactly("web-7");
    assertThat(scan(SOURCE, " {\n\"a\" : {\"source\":\"no\"} , \"source\" : -1.5e+3 }"))
        .containsExactly("-1.5e+3");
    assertThat(scan(SOURCE, "{\"b\":[1,{\"c\":\"}]\\\"\"}],\"source\":true}"))
        .containsExactly("true");
    assertThat(scan(SOURCE, "{\"source\":null}")).containsExactly((String) null);
    assertThat(scan(SOURCE, "{\"source\":{\"a\":1}}")).containsExactly((String) null);
    assertThat(scan(SOURCE, "{\"source\":\"a\",\"source\":\"b\"}")).containsExactly("a");
    assertThat(scan(SOURCE, "{}")).containsExactly((String) null);
    assertThat(scan(SOURCE, "[1]")).containsExactly((String) null);
    assertThat(scan(SOURCE, "{\"source\":\"caf\\u00e9\"}")).containsExactly("café");
    assertThat(scan(SOURCE, "{\"source\":\"zürich\"}")).containsExactly("zürich");
    assertThat(scan(SOURCE, "{\"sou\\u0072ce\":\"escaped key\"}")).containsExactly("escaped key");
    assertThat(scan(SOURCE, "{\"source\":01}")).containsExactly((String) null); // not JSON
    assertThat(scan(TWO, "{\"type\":\"t\",\"source\":\"s\"}")).containsExactly("s", "t", "s");
  }

  @Test
  void theScanAndTheParserAgreeOnRandomAndBrokenPayloads() {
    Random r = new Random(13);
    String[] atoms = {
      "\"source\"", "\"type\"", "\"x\"", ":", ",", "{", "}", "[", "]", "\"v\"", "\"a\\\"b\"", "1",
      "-0.5", "1e5", "01", "true", "false", "null", "nul", " ", "\n", "\"é\"", "\"\\u0041\"", "\"",
      "\\", "+1", "1.", "\t", "\"sou\\u0072ce\""
    };
    int scanned = 0;
    for (int n = 0; n < 200_000; n++) {
      byte[] json;
      if (r.nextBoolean()) {
        json = wellFormed(r).getBytes(StandardCharsets.UTF_8);
      } else {
        StringBuilder sb = new StringBuilder("{");
        for (int k = r.nextInt(12); k > 0; k--) {
          sb.append(atoms[r.nextInt(atoms.length)]);
        }
        json = sb.toString().getBytes(StandardCharsets.UTF_8);
      }
      if (r.nextInt(10) == 0 && json.length > 0) {
        json[r.nextInt(json.length)] = (byte) r.nextInt(256); // one broken byte
      }
      for (FieldExtractor f : List.of(SOURCE, TWO)) {
        String[] parsed = parse(f, json);
        String[] got = f.extract(json);
        if (!java.util.Arrays.equals(parsed, got)) {
          // only a payload that is not JSON may differ, and only inside values the scan skips
          assertThat(isJson(json)).as(new String(json, StandardCharsets.UTF_8)).isFalse();
        } else {
          scanned++;
        }
      }
    }
    assertThat(scanned).isGreaterThan(300_000);
  }

  @Test
  void onJsonTheScanIsExactlyTheParser() {
    Random r = new Random(7);
    for (int n = 0; n < 100_000; n++) {
      byte[] json = wellFormed(r).getBytes(StandardCharsets.UTF_8);
      for (FieldExtractor f : List.of(SOURCE, TWO)) {
        assertThat(f.extract(json))
            .as(new String(json, StandardCharsets.UTF_8))
            .containsExactly(parse(f, json));
      }
    }
  }

  private static boolean isJson(byte[] json) {
    try (var p =
        new com.fasterxml.jackson.core.JsonFactory()
            .enable(com.fasterxml.jackson.core.JsonParser.Feature.STRICT_DUPLICATE_DETECTION)
            .createParser(json)) {
      while (p.nextToken() != null) {
        // read it all
      }
      return true;
    } catch (Exception e) {
      return false;
    }
  }

  private static String wellFormed(Random r) {
    StringBuilder sb = new StringBuilder();
    object(r, sb, 0);
    return sb.toString();
  }

  private static void object(Random r, StringBuilder sb, int depth) {
    sb.append(ws(r)).append('{');
    int n = r.nextInt(5);
    String[] keys = {"source", "type", "x", "sou\\u0072ce", "ty\\\"pe", "é", "a"};
    for (int i = 0; i < n; i++) {
      if (i > 0) {
        sb.append(',');
      }
      sb.append(ws(r)).append('"').append(keys[r.nextInt(keys.length)]).append('"');
      sb.append(ws(r)).append(':').append(ws(r));
      value(r, sb, depth);
      sb.append(ws(r));
    }
    sb.append('}');
  }

  private static void value(Random r, StringBuilder sb, int depth) {
    switch (r.nextInt(depth < 3 ? 9 : 7)) {
      case 0 ->
          sb.append('"')
              .append(
                  List.of("web-1", "", "a b", "q\\\"", "\\\\", "é", "\\n", "x\u007f")
                      .get(r.nextInt(8)))
              .append('"');
      case 1 -> sb.append(List.of("0", "-1", "12.50", "1e-3", "-0.0E+2").get(r.nextInt(5)));
      case 2 -> sb.append("true");
      case 3 -> sb.append("false");
      case 4 -> sb.append("null");
      case 5 -> sb.append("\"web-").append(r.nextInt(99)).append('"');
      case 6 -> sb.append("\"}]{[,:\"");
      case 7 -> object(r, sb, depth + 1);
      default -> {
        sb.append('[');
        for (int k = r.nextInt(3); k > 0; k--) {
          value(r, sb, depth + 1);
          if (k > 1) {
            sb.append(',');
          }
        }
        sb.append(']');
      }
    }
  }

  private static String ws(Random r) {
    return List.of("", "", " ", "\n\t ", "\r\n").get(r.nextInt(5));
  }
}
