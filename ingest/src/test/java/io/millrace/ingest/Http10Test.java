package io.millrace.ingest;

import static io.millrace.ingest.testing.TestSupport.utf8;
import static org.assertj.core.api.Assertions.assertThat;

import io.millrace.ingest.testing.TestSupport;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetAddress;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * HTTP/1.0 as clients send it (curl --http1.0, ab, nginx's default proxy_pass) and {@code
 * Connection: close} on HTTP/1.1, over raw sockets: every byte of the answer is checked, and
 * whether the server closes the socket. Each read waits at most {@link #READ_TIMEOUT_MS}; a socket
 * the server should have closed but did not fails the test instead of hanging it.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@Timeout(120)
class Http10Test {
  static final int READ_TIMEOUT_MS = 5000;

  IngestService service;
  int port;

  @BeforeAll
  void start(@TempDir Path dir) throws Exception {
    service = IngestService.start(TestSupport.config(dir, Map.of()));
    port = service.port();
  }

  @AfterAll
  void stop() {
    if (service != null) {
      service.shutdown();
    }
  }

  /** What came back on one socket: the bytes, and whether the server closed it. */
  record Exchange(String text, boolean closedByServer) {
    List<Response> responses() {
      List<Response> out = new ArrayList<>();
      String rest = text;
      while (!rest.isEmpty()) {
        int end = rest.indexOf("\r\n\r\n");
        assertThat(end).as("a complete head in %s", rest).isPositive();
        String head = rest.substring(0, end);
        Matcher m = Pattern.compile("(?im)^content-length: *(\\d+)").matcher(head);
        int length = m.find() ? Integer.parseInt(m.group(1)) : rest.length() - end - 4;
        out.add(new Response(head, rest.substring(end + 4, end + 4 + length)));
        rest = rest.substring(end + 4 + length);
      }
      return out;
    }
  }

  record Response(String head, String body) {
    String statusLine() {
      return head.substring(0, head.indexOf("\r\n") < 0 ? head.length() : head.indexOf("\r\n"));
    }

    List<String> header(String name) {
      List<String> values = new ArrayList<>();
      for (String line : head.split("\r\n")) {
        int colon = line.indexOf(':');
        if (colon > 0 && line.substring(0, colon).trim().equalsIgnoreCase(name)) {
          values.add(line.substring(colon + 1).trim());
        }
      }
      return values;
    }
  }

  /** Sends {@code request} and reads until the server closes or {@code expect} bytes came. */
  Exchange send(String request, int expectResponses) throws IOException {
    try (Socket s = new Socket(InetAddress.getLoopbackAddress(), port)) {
      s.setSoTimeout(READ_TIMEOUT_MS);
      s.getOutputStream().write(request.getBytes(StandardCharsets.ISO_8859_1));
      s.getOutputStream().flush();
      InputStream in = s.getInputStream();
      ByteArrayOutputStream got = new ByteArrayOutputStream();
      byte[] buf = new byte[8192];
      while (true) {
        int n;
        try {
          n = in.read(buf);
        } catch (SocketTimeoutException open) {
          return new Exchange(got.toString(StandardCharsets.ISO_8859_1), false);
        }
        if (n < 0) {
          return new Exchange(got.toString(StandardCharsets.ISO_8859_1), true);
        }
        got.write(buf, 0, n);
        Exchange sofar = new Exchange(got.toString(StandardCharsets.ISO_8859_1), false);
        if (expectResponses > 0 && complete(sofar) == expectResponses) {
          return sofar;
        }
      }
    }
  }

  private static int complete(Exchange e) {
    try {
      return e.responses().size();
    } catch (AssertionError | StringIndexOutOfBoundsException partial) {
      return -1;
    }
  }

  @Test
  void anHttp10RequestGetsAnHttp10AnswerAndTheSocketIsClosed() throws Exception {
    Exchange e = send("GET /healthz HTTP/1.0\r\n\r\n", 0);
    assertThat(e.closedByServer()).as("server closed the socket: %s", e).isTrue();
    List<Response> r = e.responses();
    assertThat(r).hasSize(1);
    assertThat(r.get(0).statusLine()).isEqualTo("HTTP/1.0 200 OK");
    assertThat(r.get(0).header("Connection")).containsExactly("close");
    assertThat(r.get(0).header("Content-Length")).containsExactly("18");
    assertThat(r.get(0).body()).isEqualTo("{\"status\":\"alive\"}");
  }

  @Test
  void anHttp10PostWithoutHostAndWithExpectIsAccepted() throws Exception {
    String body = "{\"payloads\":[{\"a\":1},{\"b\":2}]}";
    Exchange e =
        send(
            "POST /v1/payloads HTTP/1.0\r\nContent-Type: application/json\r\n"
                + "Expect: 100-continue\r\nContent-Length: "
                + utf8(body).length
                + "\r\n\r\n"
                + body,
            0);
    assertThat(e.closedByServer()).isTrue();
    assertThat(e.text()).doesNotContain("100 Continue");
    Response r = e.responses().get(0);
    assertThat(r.statusLine()).isEqualTo("HTTP/1.0 202 Accepted");
    assertThat(r.body()).isEqualTo("{\"accepted\":2}");
  }

  @Test
  void http10KeepAliveServesSeveralRequestsOnOneSocketThenClosesWhenAsked() throws Exception {
    String body = "{\"payloads\":[1,2,3]}";
    String post =
        "POST /v1/payloads HTTP/1.0\r\nConnection: Keep-Alive\r\nContent-Type: application/json\r\n"
            + "Content-Length: "
            + body.length()
            + "\r\n\r\n"
            + body;
    // pipelined: all in one write, the last one without keep-alive
    Exchange e =
        send(
            "GET /healthz HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"
                + post
                + "GET /nothing-here HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"
                + post
                + "GET /readyz HTTP/1.0\r\n\r\n",
            0);
    assertThat(e.closedByServer()).as("closed after the last: %s", e).isTrue();
    List<Response> r = e.responses();
    assertThat(r)
        .extracting(Response::statusLine)
        .containsExactly(
            "HTTP/1.0 200 OK",
            "HTTP/1.0 202 Accepted",
            "HTTP/1.0 404 Not Found",
            "HTTP/1.0 202 Accepted",
            "HTTP/1.0 200 OK");
    for (int i = 0; i < 4; i++) {
      assertThat(r.get(i).header("Connection")).as("response %d", i).containsExactly("keep-alive");
      assertThat(r.get(i).header("Content-Length")).hasSize(1);
      assertThat(r.get(i).header("Transfer-Encoding")).isEmpty();
    }
    assertThat(r.get(4).header("Connection")).containsExactly("close");
  }

  @Test
  void http10KeepAliveLeavesTheSocketOpen() throws Exception {
    Exchange e = send("GET /healthz HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", 1);
    assertThat(e.closedByServer()).isFalse();
    assertThat(e.responses().get(0).header("Connection")).containsExactly("keep-alive");
  }

  @Test
  void aHeadRequestOverHttp10GetsOnlyAHead() throws Exception {
    Exchange e =
        send(
            "HEAD /healthz HTTP/1.0\r\nConnection: keep-alive\r\n\r\nGET /healthz HTTP/1.0\r\n\r\n",
            0);
    assertThat(e.closedByServer()).isTrue();
    assertThat(e.text()).startsWith("HTTP/1.0 200 OK\r\n").endsWith("\r\n\r\n");
    assertThat(e.text()).doesNotContain("alive");
  }

  @Test
  void http11ConnectionCloseClosesTheSocket() throws Exception {
    Exchange e = send("GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", 0);
    assertThat(e.closedByServer()).as("server closed the socket: %s", e).isTrue();
    assertThat(e.responses().get(0).statusLine()).isEqualTo("HTTP/1.1 200 OK");
    assertThat(e.responses().get(0).header("Connection")).containsExactly("close");
  }

  @Test
  void http11KeepsTheSocketOpenAndAnswersAsBefore() throws Exception {
    Exchange e =
        send("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\nGET /readyz HTTP/1.1\r\nHost: x\r\n\r\n", 2);
    assertThat(e.closedByServer()).isFalse();
    assertThat(e.responses())
        .extracting(Response::statusLine)
        .containsExactly("HTTP/1.1 200 OK", "HTTP/1.1 200 OK");
  }

  /**
   * HTTP/1.1 {@code HEAD} (RFC 9110 section 9.3.2): the head a {@code GET} would get, its {@code
   * Content-Length} included, and no body, so that the next response on a kept-alive socket is read
   * where it starts. Pipelined on one socket, then a {@code GET} that closes it.
   */
  @Test
  void http11HeadAnswersHaveTheGetsLengthAndNoBody() throws Exception {
    List<String> paths = List.of("/healthz", "/readyz", "/", "/openapi.yaml", "/nothing-here");
    StringBuilder heads = new StringBuilder();
    for (String path : paths) {
      heads.append("HEAD ").append(path).append(" HTTP/1.1\r\nHost: x\r\n\r\n");
    }
    Exchange e = send(heads + "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", 0);
    assertThat(e.closedByServer()).as("closed after the GET: %s", e).isTrue();
    String rest = e.text();
    for (String path : paths) {
      int end = rest.indexOf("\r\n\r\n");
      assertThat(end).as("a head for HEAD %s in %s", path, rest).isPositive();
      Response head = new Response(rest.substring(0, end), "");
      rest = rest.substring(end + 4);
      assertThat(rest).as("what follows the HEAD %s answer", path).startsWith("HTTP/1.1 ");
      Exchange get = send("GET " + path + " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", 0);
      Response full = get.responses().get(0);
      assertThat(head.statusLine()).as("HEAD %s", path).isEqualTo(full.statusLine());
      assertThat(head.header("Content-Length"))
          .as("HEAD %s: the length a GET gets", path)
          .containsExactly(Integer.toString(full.body().length()));
      assertThat(head.header("Content-Type")).isEqualTo(full.header("Content-Type"));
    }
    List<Response> last = new Exchange(rest, true).responses();
    assertThat(last).hasSize(1);
    assertThat(last.get(0).body()).isEqualTo("{\"status\":\"alive\"}");
  }

  @Test
  void anUnknownVersionIsClosedWithoutAnAnswerAsBefore() throws Exception {
    Exchange e = send("GET /healthz HTTP/0.9\r\n\r\n", 0);
    assertThat(e.closedByServer()).isTrue();
    assertThat(e.text()).isEmpty();
  }
}
