package io.millrace.ingest.http;

import static io.millrace.ingest.testing.TestSupport.utf8;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.charset.StandardCharsets;
import java.util.List;
import org.junit.jupiter.api.Test;

class PayloadParserTest {
  static List<String> texts(List<byte[]> l) {
    return l.stream().map(b -> new String(b, StandardCharsets.UTF_8)).toList();
  }

  @Test
  void slicesEachPayloadAsSentAndCompact() throws Exception {
    String body =
        "{ \"meta\": {\"x\": [1, 2]},\n"
            + " \"payloads\" : [ {\"a\" : \"b c\"} , [ 1,2 ] ,\"s\\\" t\", -1.50e3, true,null,{} ]"
            + " }";
    assertThat(texts(PayloadParser.parseEnvelope(utf8(body))))
        .containsExactly(
            "{\"a\":\"b c\"}", "[1,2]", "\"s\\\" t\"", "-1.50e3", "true", "null", "{}");
  }

  @Test
  void ndjsonLinesAreSlicedAtTheirOwnOffsets() throws Exception {
    String body = "{\"a\": 1}\n\n  [1, 2]  \r\n\"x\"\n42";
    assertThat(texts(PayloadParser.parseNdjson(utf8(body))))
        .containsExactly("{\"a\":1}", "[1,2]", "\"x\"", "42");
  }

  @Test
  void nonAsciiIsKeptByteForByte() throws Exception {
    assertThat(texts(PayloadParser.parseEnvelope(utf8("{\"payloads\":[\"é😀\\u00e9\"]}"))))
        .containsExactly("\"é😀\\u00e9\"");
  }

  @Test
  void rejectsWhatIsNotOneDocument() {
    assertThatThrownBy(() -> PayloadParser.parseEnvelope(utf8("{\"payloads\":[1]}{}")))
        .isInstanceOf(PayloadParser.MalformedException.class);
    assertThatThrownBy(
            () -> PayloadParser.parseEnvelope(utf8("{\"payloads\":[1],\"payloads\":[2]}")))
        .isInstanceOf(PayloadParser.MalformedException.class);
    assertThatThrownBy(() -> PayloadParser.parseEnvelope(utf8("")))
        .isInstanceOf(PayloadParser.MalformedException.class);
    assertThatThrownBy(() -> PayloadParser.parseNdjson(utf8("{\"a\":1} {\"b\":2}")))
        .hasMessageContaining("line 1");
  }
}
