package io.millrace.ingest.store;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.HttpURLConnection;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.time.ZoneOffset;
import java.time.ZonedDateTime;
import java.time.format.DateTimeFormatter;
import java.util.HexFormat;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.IntConsumer;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;
import software.amazon.awssdk.auth.credentials.AwsCredentials;
import software.amazon.awssdk.auth.credentials.AwsCredentialsProvider;
import software.amazon.awssdk.auth.credentials.AwsSessionCredentials;
import software.amazon.awssdk.awscore.exception.AwsErrorDetails;
import software.amazon.awssdk.core.exception.ApiCallAttemptTimeoutException;
import software.amazon.awssdk.core.exception.SdkClientException;
import software.amazon.awssdk.services.s3.model.S3Exception;

/**
 * One S3 {@code PutObject}, signed with AWS Signature Version 4 by hand and sent over the JDK's
 * {@link HttpURLConnection}: the same request the SDK sends with chunked encoding off and checksums
 * {@code WHEN_REQUIRED}, without the SDK's per-request pipeline (interceptors, endpoint rules,
 * marshalling, the signer's generic machinery), which is most of a small PUT's client CPU
 * (BENCHMARKS.md U6, ADR 0008).
 *
 * <p>What it sends: {@code PUT /bucket/key} (path style, an endpoint given) or {@code PUT /key} on
 * {@code bucket.s3.region.amazonaws.com} (AWS, virtual-hosted style); {@code Content-Type}, {@code
 * Content-Encoding}, {@code If-None-Match} when asked, {@code x-amz-date}, {@code
 * x-amz-security-token} for session credentials, and {@code x-amz-content-sha256}: the body's
 * SHA-256 over plain HTTP (the store checks the body against it), {@code UNSIGNED-PAYLOAD} over
 * HTTPS (TLS protects the bytes; what the SDK sends there too). All of those headers are signed.
 *
 * <p>Failures are the SDK's types, so callers classify them as they do the SDK's: an HTTP error is
 * an {@link S3Exception} with the status, the store's error code and message (from its XML body);
 * an attempt that runs past its timeout is an {@link ApiCallAttemptTimeoutException} (the
 * connection is closed under it); any other I/O failure is an {@link SdkClientException} with the
 * cause. Every HTTP status is reported to {@code onHttpStatus}. 5xx, throttling answers and I/O
 * failures are tried again up to {@link #ATTEMPTS} times in all, with the SDK standard mode's
 * backoff (full jitter, 100 ms base, 1 s for throttling, 20 s cap); 500, 502, 503 and 504 count as
 * 5xx here, as in the SDK; 501 and 4xx are not tried again.
 */
final class SignedPut implements AutoCloseable {
  /** Attempts per call, as the SDK's standard retry mode. */
  static final int ATTEMPTS = 3;

  private static final DateTimeFormatter AMZ_DATE =
      DateTimeFormatter.ofPattern("yyyyMMdd'T'HHmmss'Z'");
  private static final HexFormat HEX = HexFormat.of();
  private static final String UNSIGNED = "UNSIGNED-PAYLOAD";
  private static final Pattern CODE = Pattern.compile("<Code>([^<]*)</Code>");
  private static final Pattern MESSAGE = Pattern.compile("<Message>([^<]*)</Message>");
  private static final Pattern REQUEST_ID = Pattern.compile("<RequestId>([^<]*)</RequestId>");

  private final String scheme;
  private final String host; // as the Host header carries it (port when not the default)
  private final String authority; // host[:port] for the URL
  private final String pathPrefix; // "/bucket" (path style) or "" (virtual-hosted)
  private final String region;
  private final AwsCredentialsProvider credentials;
  private final Duration connectTimeout;
  private final Duration attemptTimeout;
  private final IntConsumer onHttpStatus;
  private final ScheduledExecutorService watchdog;
  private volatile SigningKey signingKey; // one a day per secret key

  private record SigningKey(String date, String accessKey, String secret, byte[] key) {}

  /**
   * @param endpoint the store's endpoint ({@code http://host:port}), or null for AWS's own
   * @param region the region
   * @param bucket the bucket
   * @param credentials where the key pair comes from (asked per request; providers cache)
   * @param connectTimeout how long a connection may take to open
   * @param attemptTimeout how long one attempt may take, all of it
   * @param onHttpStatus told every HTTP status, retried attempts included
   */
  SignedPut(
      URI endpoint,
      String region,
      String bucket,
      AwsCredentialsProvider credentials,
      Duration connectTimeout,
      Duration attemptTimeout,
      IntConsumer onHttpStatus) {
    URI base =
        endpoint != null
            ? endpoint
            : URI.create(
                bucket.contains(".")
                    ? "https://s3." + region + ".amazonaws.com"
                    : "https://" + bucket + ".s3." + region + ".amazonaws.com");
    boolean pathStyle = endpoint != null || bucket.contains(".");
    this.scheme = base.getScheme().toLowerCase(java.util.Locale.ROOT);
    if (!scheme.equals("http") && !scheme.equals("https")) {
      throw new IllegalArgumentException("the S3 endpoint must be http:// or https://: " + base);
    }
    int port = base.getPort();
    boolean defaultPort =
        port == -1
            || (scheme.equals("http") && port == 80)
            || (scheme.equals("https") && port == 443);
    this.host = defaultPort ? base.getHost() : base.getHost() + ":" + port;
    this.authority = port == -1 ? base.getHost() : base.getHost() + ":" + port;
    String basePath = base.getRawPath() == null ? "" : base.getRawPath();
    if (basePath.endsWith("/")) {
      basePath = basePath.substring(0, basePath.length() - 1);
    }
    this.pathPrefix = basePath + (pathStyle ? "/" + encodePath(bucket) : "");
    this.region = region;
    this.credentials = credentials;
    this.connectTimeout = connectTimeout;
    this.attemptTimeout = attemptTimeout;
    this.onHttpStatus = onHttpStatus;
    this.watchdog =
        Executors.newSingleThreadScheduledExecutor(
            r -> {
              Thread t = new Thread(r, "s3-put-timeouts");
              t.setDaemon(true);
              return t;
            });
  }

  /**
   * Stores one object, trying again as the class says.
   *
   * @return true if stored; false only with {@code ifNoneMatch} and a {@code 412}: the key is taken
   * @throws S3Exception an HTTP error the retries did not get past (4xx at once)
   * @throws ApiCallAttemptTimeoutException the last attempt timed out
   * @throws SdkClientException the last attempt failed on I/O
   * @throws InterruptedException interrupted while waiting to try again
   */
  boolean put(
      String key, byte[] body, String contentType, String contentEncoding, boolean ifNoneMatch)
      throws InterruptedException {
    String payloadHash = scheme.equals("https") ? UNSIGNED : HEX.formatHex(sha256(body));
    for (int attempt = 1; ; attempt++) {
      try {
        return attempt(key, body, contentType, contentEncoding, ifNoneMatch, payloadHash);
      } catch (S3Exception e) {
        if (!retryable(e) || attempt >= ATTEMPTS) {
          throw e;
        }
        backoff(attempt, e.isThrottlingException() || e.statusCode() == 503);
      } catch (SdkClientException e) {
        if (attempt >= ATTEMPTS || Thread.currentThread().isInterrupted()) {
          throw e;
        }
        backoff(attempt, false);
      }
    }
  }

  /** As the SDK's standard mode: 500, 502, 503, 504 and throttling answers; not 501 or 4xx. */
  private static boolean retryable(S3Exception e) {
    int s = e.statusCode();
    return e.isThrottlingException() || s == 500 || s == 502 || s == 503 || s == 504;
  }

  private static void backoff(int attempt, boolean throttled) throws InterruptedException {
    long base = throttled ? 1_000L : 100L;
    long ceiling = Math.min(20_000L, base << (attempt - 1));
    Thread.sleep(ThreadLocalRandom.current().nextLong(ceiling + 1));
  }

  private boolean attempt(
      String key,
      byte[] body,
      String contentType,
      String contentEncoding,
      boolean ifNoneMatch,
      String payloadHash) {
    String path = pathPrefix + "/" + encodePath(key);
    AwsCredentials id = credentials.resolveCredentials();
    String token = id instanceof AwsSessionCredentials s ? s.sessionToken() : null;
    String amzDate = AMZ_DATE.format(ZonedDateTime.now(ZoneOffset.UTC));
    String date = amzDate.substring(0, 8);

    // canonical headers, sorted by name
    StringBuilder canonical = new StringBuilder(256);
    StringBuilder signed = new StringBuilder(128);
    if (contentEncoding != null) {
      header(canonical, signed, "content-encoding", contentEncoding);
    }
    header(canonical, signed, "content-type", contentType);
    header(canonical, signed, "host", host);
    if (ifNoneMatch) {
      header(canonical, signed, "if-none-match", "*");
    }
    header(canonical, signed, "x-amz-content-sha256", payloadHash);
    header(canonical, signed, "x-amz-date", amzDate);
    if (token != null) {
      header(canonical, signed, "x-amz-security-token", token);
    }
    String signedHeaders = signed.toString();
    String request =
        "PUT\n" + path + "\n\n" + canonical + "\n" + signedHeaders + "\n" + payloadHash;
    String scope = date + "/" + region + "/s3/aws4_request";
    String toSign =
        "AWS4-HMAC-SHA256\n"
            + amzDate
            + "\n"
            + scope
            + "\n"
            + HEX.formatHex(sha256(request.getBytes(StandardCharsets.UTF_8)));
    String signature =
        HEX.formatHex(
            hmac(
                signingKey(date, id.accessKeyId(), id.secretAccessKey()),
                toSign.getBytes(StandardCharsets.UTF_8)));
    String authorization =
        "AWS4-HMAC-SHA256 Credential="
            + id.accessKeyId()
            + "/"
            + scope
            + ", SignedHeaders="
            + signedHeaders
            + ", Signature="
            + signature;

    HttpURLConnection c;
    try {
      c =
          (HttpURLConnection)
              URI.create(scheme + "://" + authority + path).toURL().openConnection();
    } catch (IOException | IllegalArgumentException e) {
      throw SdkClientException.create("cannot open a connection for " + key + ": " + e, e);
    }
    AtomicBoolean timedOut = new AtomicBoolean();
    ScheduledFuture<?> timer =
        watchdog.schedule(
            () -> {
              timedOut.set(true);
              c.disconnect();
            },
            attemptTimeout.toMillis(),
            TimeUnit.MILLISECONDS);
    try {
      c.setRequestMethod("PUT");
      c.setDoOutput(true);
      c.setUseCaches(false);
      c.setInstanceFollowRedirects(false);
      c.setConnectTimeout((int) Math.min(Integer.MAX_VALUE, connectTimeout.toMillis()));
      c.setReadTimeout((int) Math.min(Integer.MAX_VALUE, attemptTimeout.toMillis()));
      c.setFixedLengthStreamingMode(body.length);
      c.setRequestProperty("Authorization", authorization);
      c.setRequestProperty("Content-Type", contentType);
      if (contentEncoding != null) {
        c.setRequestProperty("Content-Encoding", contentEncoding);
      }
      if (ifNoneMatch) {
        c.setRequestProperty("If-None-Match", "*");
      }
      c.setRequestProperty("x-amz-content-sha256", payloadHash);
      c.setRequestProperty("x-amz-date", amzDate);
      if (token != null) {
        c.setRequestProperty("x-amz-security-token", token);
      }
      c.setRequestProperty("Accept", "*/*");
      try (OutputStream out = c.getOutputStream()) {
        out.write(body);
      }
      int status = c.getResponseCode();
      onHttpStatus.accept(status);
      if (status >= 200 && status < 300) {
        drain(c.getInputStream());
        return true;
      }
      String text = errorBody(c);
      if (ifNoneMatch && status == 412) {
        return false;
      }
      throw serviceError(status, text, c.getHeaderField("x-amz-request-id"));
    } catch (IOException e) {
      if (timedOut.get()) {
        throw ApiCallAttemptTimeoutException.create(attemptTimeout.toMillis());
      }
      throw SdkClientException.create("PUT " + key + " failed: " + e, e);
    } finally {
      timer.cancel(false);
      if (timedOut.get()) {
        c.disconnect();
      }
    }
  }

  /** Builds the service error the SDK would have thrown for that answer. */
  static S3Exception serviceError(int status, String body, String requestId) {
    String code = first(CODE, body);
    String message = first(MESSAGE, body);
    if (requestId == null) {
      requestId = first(REQUEST_ID, body);
    }
    AwsErrorDetails details =
        AwsErrorDetails.builder().errorCode(code).errorMessage(message).serviceName("S3").build();
    return (S3Exception)
        S3Exception.builder()
            .statusCode(status)
            .requestId(requestId)
            .awsErrorDetails(details)
            .message(
                (message == null ? "HTTP " + status : message)
                    + " (Service: S3, Status Code: "
                    + status
                    + (code == null ? "" : ", Error Code: " + code)
                    + (requestId == null ? "" : ", Request ID: " + requestId)
                    + ")")
            .build();
  }

  private static String first(Pattern p, String text) {
    if (text == null) {
      return null;
    }
    Matcher m = p.matcher(text);
    return m.find() ? unescape(m.group(1)) : null;
  }

  private static String unescape(String s) {
    return s.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&apos;", "'")
        .replace("&amp;", "&");
  }

  private static String errorBody(HttpURLConnection c) throws IOException {
    InputStream in = c.getErrorStream();
    if (in == null) {
      return "";
    }
    try (in) {
      return new String(in.readNBytes(64 * 1024), StandardCharsets.UTF_8);
    }
  }

  private static void drain(InputStream in) throws IOException {
    try (in) {
      in.transferTo(OutputStream.nullOutputStream());
    }
  }

  private static void header(StringBuilder canonical, StringBuilder signed, String n, String v) {
    canonical.append(n).append(':').append(v.strip()).append('\n');
    if (!signed.isEmpty()) {
      signed.append(';');
    }
    signed.append(n);
  }

  private byte[] signingKey(String date, String accessKey, String secret) {
    SigningKey k = signingKey;
    if (k == null
        || !k.date.equals(date)
        || !k.accessKey.equals(accessKey)
        || !k.secret.equals(secret)) {
      byte[] kDate = hmac(("AWS4" + secret).getBytes(StandardCharsets.UTF_8), bytes(date));
      byte[] kRegion = hmac(kDate, bytes(region));
      byte[] kService = hmac(kRegion, bytes("s3"));
      k = new SigningKey(date, accessKey, secret, hmac(kService, bytes("aws4_request")));
      signingKey = k;
    }
    return k.key;
  }

  private static byte[] bytes(String s) {
    return s.getBytes(StandardCharsets.UTF_8);
  }

  static byte[] sha256(byte[] data) {
    try {
      return MessageDigest.getInstance("SHA-256").digest(data);
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }

  private static byte[] hmac(byte[] key, byte[] data) {
    try {
      Mac mac = Mac.getInstance("HmacSHA256");
      mac.init(new SecretKeySpec(key, "HmacSHA256"));
      return mac.doFinal(data);
    } catch (java.security.GeneralSecurityException e) {
      throw new IllegalStateException(e);
    }
  }

  /**
   * Encodes an object key (or bucket) for the URL path and the canonical request alike: RFC 3986
   * unreserved characters and {@code /} as they are, every other UTF-8 byte as {@code %XX}.
   */
  static String encodePath(String s) {
    byte[] b = s.getBytes(StandardCharsets.UTF_8);
    StringBuilder sb = null;
    for (int i = 0; i < b.length; i++) {
      int c = b[i] & 0xff;
      boolean keep =
          (c >= 'A' && c <= 'Z')
              || (c >= 'a' && c <= 'z')
              || (c >= '0' && c <= '9')
              || c == '-'
              || c == '_'
              || c == '.'
              || c == '~'
              || c == '/';
      if (sb == null) {
        if (keep) {
          continue;
        }
        sb = new StringBuilder(b.length + 16);
        sb.append(s, 0, i); // all ASCII so far: bytes and chars line up
      }
      if (keep) {
        sb.append((char) c);
      } else {
        sb.append('%').append(Character.toUpperCase(Character.forDigit(c >> 4, 16)));
        sb.append(Character.toUpperCase(Character.forDigit(c & 0xf, 16)));
      }
    }
    return sb == null ? s : sb.toString();
  }

  @Override
  public void close() {
    watchdog.shutdownNow();
  }
}
