package io.millrace.ingest;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.millrace.ingest.testing.TestSupport;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.KeyStore;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLParameters;
import javax.net.ssl.SSLSocket;
import javax.net.ssl.TrustManagerFactory;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * TLS on the listener with certificates made here by {@code openssl}: real clients over sockets
 * ({@link HttpClient}, and raw {@link SSLSocket}s for HTTP/1.0 and to see which certificate is
 * served), rotation of the files while the service runs, client certificates, and the start-up
 * errors for bad files. Every wait is bounded.
 */
@Timeout(180)
class TlsTest {
  static Path certs;

  @BeforeAll
  static void makeCertificates(@TempDir Path dir) throws Exception {
    certs = dir;
    for (String name : List.of("a", "b")) { // two server certificates, for 127.0.0.1
      openssl(
          "req",
          "-x509",
          "-newkey",
          "ec",
          "-pkeyopt",
          "ec_paramgen_curve:P-256",
          "-nodes",
          "-days",
          "2",
          "-subj",
          "/CN=server-" + name,
          "-addext",
          "subjectAltName=IP:127.0.0.1,DNS:localhost",
          "-keyout",
          name + ".key",
          "-out",
          name + ".crt");
    }
    openssl(
        "req",
        "-x509",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
        "-days",
        "2",
        "-subj",
        "/CN=client-ca",
        "-keyout",
        "ca.key",
        "-out",
        "ca.crt");
    openssl(
        "req",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
        "-subj",
        "/CN=client",
        "-keyout",
        "client.key",
        "-out",
        "client.csr");
    openssl(
        "x509",
        "-req",
        "-in",
        "client.csr",
        "-CA",
        "ca.crt",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-days",
        "2",
        "-out",
        "client.crt");
    openssl(
        "pkcs12",
        "-export",
        "-in",
        "client.crt",
        "-inkey",
        "client.key",
        "-out",
        "client.p12",
        "-passout",
        "pass:secret");
  }

  static void openssl(String... args) throws Exception {
    List<String> cmd = new ArrayList<>(List.of("openssl"));
    cmd.addAll(List.of(args));
    Process p = new ProcessBuilder(cmd).directory(certs.toFile()).redirectErrorStream(true).start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertThat(p.waitFor(60, TimeUnit.SECONDS)).isTrue();
    assertThat(p.exitValue()).as("%s: %s", cmd, out).isZero();
  }

  static IngestService start(Path dir, Path cert, Path key, Path ca) throws Exception {
    Map<String, String> env = new HashMap<>();
    env.put("MILLRACE_TLS_CERT", cert.toString());
    env.put("MILLRACE_TLS_KEY", key.toString());
    env.put("MILLRACE_TLS_RELOAD_MS", "100");
    if (ca != null) {
      env.put("MILLRACE_TLS_CLIENT_CA", ca.toString());
    }
    return IngestService.start(TestSupport.config(dir, env));
  }

  /** {@return a context trusting these certificates, presenting the client's if asked} */
  static SSLContext context(boolean clientCertificate, String... trusted) throws Exception {
    KeyStore trust = KeyStore.getInstance("PKCS12");
    trust.load(null, null);
    CertificateFactory cf = CertificateFactory.getInstance("X.509");
    for (String t : trusted) {
      try (InputStream in = Files.newInputStream(certs.resolve(t + ".crt"))) {
        trust.setCertificateEntry(t, cf.generateCertificate(in));
      }
    }
    TrustManagerFactory tmf = TrustManagerFactory.getInstance("PKIX");
    tmf.init(trust);
    KeyManagerFactory kmf = null;
    if (clientCertificate) {
      KeyStore ks = KeyStore.getInstance("PKCS12");
      try (InputStream in = Files.newInputStream(certs.resolve("client.p12"))) {
        ks.load(in, "secret".toCharArray());
      }
      kmf = KeyManagerFactory.getInstance("PKIX");
      kmf.init(ks, "secret".toCharArray());
    }
    SSLContext ctx = SSLContext.getInstance("TLS");
    ctx.init(kmf == null ? null : kmf.getKeyManagers(), tmf.getTrustManagers(), null);
    return ctx;
  }

  static HttpResponse<String> get(SSLContext ctx, int port, String path) throws Exception {
    HttpClient http =
        HttpClient.newBuilder()
            .sslContext(ctx)
            .version(HttpClient.Version.HTTP_1_1)
            .connectTimeout(Duration.ofSeconds(10))
            .build();
    return http.send(
        HttpRequest.newBuilder(URI.create("https://127.0.0.1:" + port + path))
            .timeout(Duration.ofSeconds(10))
            .build(),
        HttpResponse.BodyHandlers.ofString());
  }

  /** One raw request over TLS; {@return the answer, read to the server's close} */
  static String raw(SSLContext ctx, int port, String request, String... alpn) throws Exception {
    try (SSLSocket s =
        (SSLSocket) ctx.getSocketFactory().createSocket(InetAddress.getLoopbackAddress(), port)) {
      s.setSoTimeout(5000);
      SSLParameters p = s.getSSLParameters();
      p.setApplicationProtocols(alpn);
      s.setSSLParameters(p);
      s.getOutputStream().write(request.getBytes(StandardCharsets.ISO_8859_1));
      s.getOutputStream().flush();
      ByteArrayOutputStream got = new ByteArrayOutputStream();
      s.getInputStream().transferTo(got); // to the close: a timeout fails the test
      return got.toString(StandardCharsets.ISO_8859_1);
    }
  }

  /** {@return the subject of the certificate a new handshake gets} */
  static String servedSubject(int port) throws Exception {
    SSLContext ctx = context(false, "a", "b");
    try (SSLSocket s =
        (SSLSocket) ctx.getSocketFactory().createSocket(InetAddress.getLoopbackAddress(), port)) {
      s.setSoTimeout(5000);
      s.startHandshake();
      return ((X509Certificate) s.getSession().getPeerCertificates()[0])
          .getSubjectX500Principal()
          .getName();
    }
  }

  @Test
  void servesHttpsAndHttp10OverTlsWithAndWithoutAlpn(@TempDir Path dir) throws Exception {
    try (IngestService s = start(dir, certs.resolve("a.crt"), certs.resolve("a.key"), null)) {
      SSLContext ctx = context(false, "a");
      HttpResponse<String> r = get(ctx, s.port(), "/healthz");
      assertThat(r.statusCode()).isEqualTo(200);
      assertThat(r.body()).isEqualTo("{\"status\":\"alive\"}");
      for (String[] alpn : new String[][] {{}, {"http/1.1"}, {"http/1.0"}}) {
        String answer = raw(ctx, s.port(), "GET /healthz HTTP/1.0\r\n\r\n", alpn);
        assertThat(answer).as("ALPN %s", List.of(alpn)).startsWith("HTTP/1.0 200 OK\r\n");
        assertThat(answer).endsWith("{\"status\":\"alive\"}");
      }
      // plain HTTP on the TLS port gets no answer
      assertThatThrownBy(
              () ->
                  HttpClient.newHttpClient()
                      .send(
                          HttpRequest.newBuilder(
                                  URI.create("http://127.0.0.1:" + s.port() + "/healthz"))
                              .timeout(Duration.ofSeconds(10))
                              .build(),
                          HttpResponse.BodyHandlers.ofString()))
          .isInstanceOf(IOException.class);
    }
  }

  @Test
  void replacedFilesAreServedWithoutARestart(@TempDir Path dir) throws Exception {
    Path cert = dir.resolve("tls/server.crt");
    Path key = dir.resolve("tls/server.key");
    Files.createDirectories(cert.getParent());
    Files.copy(certs.resolve("a.crt"), cert);
    Files.copy(certs.resolve("a.key"), key);
    try (IngestService s = start(dir.resolve("data"), cert, key, null)) {
      assertThat(servedSubject(s.port())).isEqualTo("CN=server-a");
      // a rotation half done: the new certificate with the old key is not taken
      Files.copy(certs.resolve("b.crt"), cert, StandardCopyOption.REPLACE_EXISTING);
      Thread.sleep(500); // several checks
      assertThat(servedSubject(s.port())).isEqualTo("CN=server-a");
      assertThat(get(context(false, "a"), s.port(), "/healthz").statusCode()).isEqualTo(200);
      // then the key: the pair is served
      Path tmp = dir.resolve("tls/server.key.new");
      Files.copy(certs.resolve("b.key"), tmp);
      Files.move(tmp, key, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
      Awaitility.await()
          .atMost(Duration.ofSeconds(10))
          .pollInterval(Duration.ofMillis(100))
          .until(() -> servedSubject(s.port()).equals("CN=server-b"));
      assertThat(get(context(false, "b"), s.port(), "/healthz").statusCode()).isEqualTo(200);
    }
  }

  @Test
  void withAClientCaAClientWithoutACertificateIsRefused(@TempDir Path dir) throws Exception {
    try (IngestService s =
        start(dir, certs.resolve("a.crt"), certs.resolve("a.key"), certs.resolve("ca.crt"))) {
      assertThatThrownBy(() -> get(context(false, "a"), s.port(), "/healthz"))
          .isInstanceOf(IOException.class);
      HttpResponse<String> r = get(context(true, "a"), s.port(), "/healthz");
      assertThat(r.statusCode()).isEqualTo(200);
    }
  }

  @Test
  void badFilesStopTheStartWithAMessageNamingTheFile(@TempDir Path dir) throws Exception {
    Path garbage = Files.writeString(dir.resolve("garbage.pem"), "not a pem file\n");
    Path missing = dir.resolve("missing.crt");
    record Case(Path cert, Path key, Path ca, String variable, Path named, String says) {}
    List<Case> cases =
        List.of(
            new Case(
                missing, certs.resolve("a.key"), null, "MILLRACE_TLS_CERT", missing, "no such"),
            new Case(
                certs.resolve("a.crt"),
                garbage,
                null,
                "MILLRACE_TLS_KEY",
                garbage,
                "no private key"),
            new Case(
                garbage,
                certs.resolve("a.key"),
                null,
                "MILLRACE_TLS_CERT",
                garbage,
                "no PEM certificate"),
            new Case(
                certs.resolve("a.crt"),
                certs.resolve("b.key"),
                null,
                "MILLRACE_TLS_KEY",
                certs.resolve("b.key"),
                "is not the private key"),
            new Case(
                certs.resolve("a.crt"),
                certs.resolve("a.key"),
                garbage,
                "MILLRACE_TLS_CLIENT_CA",
                garbage,
                "no PEM certificate"));
    int i = 0;
    for (Case c : cases) {
      Path data = dir.resolve("data-" + i++);
      assertThatThrownBy(() -> start(data, c.cert(), c.key(), c.ca()).close())
          .as("%s", c)
          .isInstanceOf(IOException.class)
          .hasMessageContaining(c.variable() + "=" + c.named())
          .hasMessageContaining(c.says());
    }
  }
}
