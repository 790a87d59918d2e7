package io.millrace.ingest.http;

import static org.assertj.core.api.Assertions.assertThat;

import io.helidon.common.buffers.BufferData;
import io.helidon.common.buffers.DataReader;
import io.helidon.common.buffers.DataWriter;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.Queue;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/**
 * The HTTP/1.0 translation byte by byte: each input is also fed split at every position and one
 * byte at a time, since the socket may cut it anywhere; the output must not depend on the cuts.
 */
class Http10TranslationTest {

  // ------------------------------------------------------------------ requests

  record Translated(String text, List<Http10Exchange> exchanges) {}

  static Translated requests(List<byte[]> chunks) {
    Queue<byte[]> in = new ArrayDeque<>(chunks);
    DataReader source = DataReader.create(in::poll);
    ConcurrentLinkedQueue<Http10Exchange> exchanges = new ConcurrentLinkedQueue<>();
    Http10Requests r = new Http10Requests(source, exchanges, "127.0.0.1:8080", 8192);
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    for (byte[] b = r.get(); b != null; b = r.get()) {
      out.writeBytes(b);
    }
    return new Translated(out.toString(StandardCharsets.ISO_8859_1), List.copyOf(exchanges));
  }

  /** {@return the translation of {@code text}, checked to be the same however it is cut} */
  static Translated requests(String text) {
    byte[] all = text.getBytes(StandardCharsets.ISO_8859_1);
    Translated whole = requests(List.of(all));
    for (List<byte[]> cut : cuts(all)) {
      assertThat(requests(cut)).as("cut into %d pieces", cut.size()).isEqualTo(whole);
    }
    return whole;
  }

  static List<List<byte[]>> cuts(byte[] all) {
    List<List<byte[]>> cuts = new ArrayList<>();
    for (int i = 1; i < all.length; i++) {
      cuts.add(
          List.of(
              java.util.Arrays.copyOfRange(all, 0, i),
              java.util.Arrays.copyOfRange(all, i, all.length)));
    }
    List<byte[]> single = new ArrayList<>();
    for (byte b : all) {
      single.add(new byte[] {b});
    }
    cuts.add(single);
    return cuts;
  }

  @Test
  void anHttp10HeadBecomesHttp11WithHostAndClose() {
    Translated t = requests("GET /healthz HTTP/1.0\r\nUser-Agent: x\r\n\r\n");
    assertThat(t.text())
        .isEqualTo(
            "GET /healthz HTTP/1.1\r\nUser-Agent: x\r\nHost: 127.0.0.1:8080\r\n"
                + "Connection: close\r\n\r\n");
    assertThat(t.exchanges()).containsExactly(new Http10Exchange(true, false, false));
  }

  @Test
  void keepAliveIsKeptExpectIsDroppedAndTheBodyPassesUnchanged() {
    String body = "{\"payloads\":[1]}\r\n\r\nGET / HTTP/1.0"; // looks like a head; it is body
    Translated t =
        requests(
            "POST /v1/payloads HTTP/1.0\r\nHost: h\r\nConnection: Keep-Alive\r\n"
                + "Keep-Alive: 5\r\nExpect: 100-continue\r\nContent-Length: "
                + body.length()
                + "\r\n\r\n"
                + body
                + "\r\nHEAD /x HTTP/1.0\r\n\r\n");
    assertThat(t.text())
        .isEqualTo(
            "POST /v1/payloads HTTP/1.1\r\nHost: h\r\nContent-Length: "
                + body.length()
                + "\r\nConnection: keep-alive\r\n\r\n"
                + body
                + "HEAD /x HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nConnection: close\r\n\r\n");
    assertThat(t.exchanges())
        .containsExactly(
            new Http10Exchange(true, true, false), new Http10Exchange(true, false, true));
  }

  @Test
  void http11RequestsPassUnchangedAndAreRecorded() {
    String text =
        "GET /a HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\nhi"
            + "GET /b HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n";
    Translated t = requests(text);
    assertThat(t.text()).isEqualTo(text);
    assertThat(t.exchanges())
        .containsExactly(
            new Http10Exchange(false, true, false), new Http10Exchange(false, false, false));
  }

  @Test
  void aChunkedHttp10RequestIsServedOnceThenBytesPassUnchanged() {
    String text =
        "POST /p HTTP/1.0\r\nConnection: keep-alive\r\nTransfer-Encoding: chunked\r\n\r\n"
            + "2\r\nhi\r\n0\r\n\r\nGET / HTTP/1.0\r\n\r\n";
    Translated t = requests(text);
    assertThat(t.text())
        .isEqualTo(
            "POST /p HTTP/1.1\r\nTransfer-Encoding: chunked\r\nHost: 127.0.0.1:8080\r\n"
                + "Connection: close\r\n\r\n2\r\nhi\r\n0\r\n\r\nGET / HTTP/1.0\r\n\r\n");
    assertThat(t.exchanges()).containsExactly(new Http10Exchange(true, false, false));
  }

  @Test
  void anEndOfStreamInsideAHeadHandsTheRestToTheParser() {
    Translated t = requests(List.of("GET / HTTP/1.0\r\nHo".getBytes(StandardCharsets.US_ASCII)));
    assertThat(t.text()).isEqualTo("GET / HTTP/1.0\r\nHo");
    assertThat(t.exchanges()).isEmpty();
  }

  // ------------------------------------------------------------------ responses

  record Written(String text, int ends) {}

  static Written responses(List<Http10Exchange> exchanges, List<byte[]> writes) {
    ByteArrayOutputStream wire = new ByteArrayOutputStream();
    DataWriter sink =
        new DataWriter() {
          @Override
          public void write(BufferData... buffers) {
            for (BufferData b : buffers) {
              write(b);
            }
          }

          @Override
          public void write(BufferData buffer) {
            wire.writeBytes(buffer.readBytes());
          }

          @Override
          public void writeNow(BufferData... buffers) {
            write(buffers);
          }

          @Override
          public void writeNow(BufferData buffer) {
            write(buffer);
          }
        };
    AtomicInteger ends = new AtomicInteger();
    Http10Responses w =
        new Http10Responses(sink, new ConcurrentLinkedQueue<>(exchanges), ends::incrementAndGet);
    for (byte[] b : writes) {
      w.write(BufferData.create(b));
    }
    return new Written(wire.toString(StandardCharsets.ISO_8859_1), ends.get());
  }

  static Written responses(List<Http10Exchange> exchanges, String text) {
    byte[] all = text.getBytes(StandardCharsets.ISO_8859_1);
    Written whole = responses(exchanges, List.of(all));
    for (List<byte[]> cut : cuts(all)) {
      assertThat(responses(exchanges, cut)).as("cut into %d pieces", cut.size()).isEqualTo(whole);
    }
    return whole;
  }

  static final String OK_KEEP_ALIVE =
      "HTTP/1.1 200 OK\r\nConnection: keep-alive\r\nContent-Length: 2\r\n\r\nok";

  @Test
  void aResponseToHttp10IsWrittenAsHttp10() {
    Written w =
        responses(
            List.of(new Http10Exchange(true, true, false), new Http10Exchange(true, false, false)),
            OK_KEEP_ALIVE
                + "HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 0\r\n\r\n");
    assertThat(w.text())
        .isEqualTo(
            "HTTP/1.0 200 OK\r\nContent-Length: 2\r\nConnection: keep-alive\r\n\r\nok"
                + "HTTP/1.0 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
    assertThat(w.ends()).isEqualTo(1);
  }

  @Test
  void aChunkedResponseIsDecodedAndEndsTheConnection() {
    Written w =
        responses(
            List.of(new Http10Exchange(true, true, false)),
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: keep-alive\r\n\r\n"
                + "5;ext=1\r\nhello\r\n1\r\n!\r\n0\r\nTrailer-A: b\r\n\r\n"
                + "HTTP/1.1 200 OK\r\n\r\nafter the close: dropped");
    assertThat(w.text()).isEqualTo("HTTP/1.0 200 OK\r\nConnection: close\r\n\r\nhello!");
    assertThat(w.ends()).isEqualTo(1);
  }

  @Test
  void interimResponsesAreDroppedForHttp10AndKeptForHttp11() {
    String cont = "HTTP/1.1 100 Continue\r\n\r\n";
    Written w10 = responses(List.of(new Http10Exchange(true, true, false)), cont + OK_KEEP_ALIVE);
    assertThat(w10.text())
        .isEqualTo("HTTP/1.0 200 OK\r\nContent-Length: 2\r\nConnection: keep-alive\r\n\r\nok");
    Written w11 = responses(List.of(new Http10Exchange(false, true, false)), cont + OK_KEEP_ALIVE);
    assertThat(w11.text()).isEqualTo(cont + OK_KEEP_ALIVE);
    assertThat(w11.ends()).isZero();
  }

  @Test
  void http11ResponsesPassUnchangedAndCloseEndsTheConnection() {
    String chunked = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n";
    String close = "HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 1\r\n\r\nx";
    Written w =
        responses(
            List.of(new Http10Exchange(false, true, false), new Http10Exchange(false, true, false)),
            chunked + close + "dropped");
    assertThat(w.text()).isEqualTo(chunked + close);
    assertThat(w.ends()).isEqualTo(1);
  }

  @Test
  void aHeadResponseToHttp10IsOnlyAHeadAndEndsTheConnection() {
    Written w =
        responses(
            List.of(new Http10Exchange(true, true, true)),
            "HTTP/1.1 200 OK\r\nContent-Length: 18\r\n\r\n{\"status\":\"alive\"}");
    assertThat(w.text())
        .isEqualTo("HTTP/1.0 200 OK\r\nContent-Length: 18\r\nConnection: close\r\n\r\n");
    assertThat(w.ends()).isEqualTo(1);
  }
}
