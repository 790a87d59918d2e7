package io.millrace.ingest.store;

import java.net.URI;
import java.time.Duration;
import java.util.Locale;
import java.util.function.IntConsumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import software.amazon.awssdk.auth.credentials.AwsCredentialsProvider;
import software.amazon.awssdk.core.checksums.RequestChecksumCalculation;
import software.amazon.awssdk.core.checksums.ResponseChecksumValidation;
import software.amazon.awssdk.core.interceptor.Context;
import software.amazon.awssdk.core.interceptor.ExecutionAttributes;
import software.amazon.awssdk.core.interceptor.ExecutionInterceptor;
import software.amazon.awssdk.core.retry.RetryMode;
import software.amazon.awssdk.core.sync.RequestBody;
import software.amazon.awssdk.http.urlconnection.UrlConnectionHttpClient;
import software.amazon.awssdk.regions.Region;
import software.amazon.awssdk.services.s3.S3Client;
import software.amazon.awssdk.services.s3.S3Configuration;
import software.amazon.awssdk.services.s3.model.BucketAlreadyOwnedByYouException;
import software.amazon.awssdk.services.s3.model.NoSuchBucketException;
import software.amazon.awssdk.services.s3.model.PutObjectRequest;
import software.amazon.awssdk.services.s3.model.S3Exception;

/**
 * {@link ObjectStore} over the AWS SDK v2 S3 client, with one explicit HTTP client (the JDK's
 * URLConnection: no Netty, no Apache). Path-style addressing when an endpoint is given, so any
 * S3-compatible store works. The SDK's standard retry mode retries a few times itself; the worker
 * pipeline retries on top of that with its own backoff.
 *
 * <p>What a PUT costs (ADR 0004, BENCHMARKS.md U3): the SDK's defaults since 2.30 send every
 * PutObject as {@code aws-chunked} with a signature per chunk and a signed CRC32 trailer, and
 * validate response checksums. Here chunked encoding is off (the body goes as it is; over plain
 * HTTP its SHA-256 is signed in {@code x-amz-content-sha256}, so the store still checks its
 * integrity) and checksums are calculated and validated only when an operation requires them: 2.7×
 * less client CPU per PUT, 1.7× less on the store, and what older S3-compatible stores need (they
 * reject the trailers). Over {@code https://} the SDK sends {@code UNSIGNED-PAYLOAD} and TLS
 * protects the bytes. Connections are kept alive by the JDK's {@code http.keepAlive} cache; the
 * service raises {@code http.maxConnections} to the upload ceiling (see {@link
 * #keepAliveConnections}) so 64 uploads in flight do not churn connections.
 */
public final class S3Store implements ObjectStore {
  private static final Logger LOG = LoggerFactory.getLogger(S3Store.class);

  private final S3Client s3;
  private final SignedPut signed; // null: PUTs through the SDK
  private final String bucket;
  private volatile boolean conditionalWrites = true; // until the store says it has none

  /**
   * Creates the client.
   *
   * @param endpoint the endpoint, or null for AWS's own
   * @param region the region
   * @param bucket the bucket
   * @param credentials the credentials provider
   * @param attemptTimeout how long one HTTP attempt may take
   * @param onHttpStatus told the status of every HTTP response, retries by the SDK included
   */
  public S3Store(
      URI endpoint,
      String region,
      String bucket,
      AwsCredentialsProvider credentials,
      Duration attemptTimeout,
      IntConsumer onHttpStatus) {
    this(endpoint, region, bucket, credentials, attemptTimeout, onHttpStatus, PutClient.SIGNED);
  }

  /** How {@link #put} and {@link #putIfAbsent} send their requests. */
  /**
   * {@return whether the endpoint is AWS's own S3 ({@code *.amazonaws.com}, {@code
   * *.amazonaws.com.cn}), or none (the SDK's default, AWS)}
   */
  public static boolean awsItself(URI endpoint) {
    if (endpoint == null) {
      return true;
    }
    String host = endpoint.getHost() == null ? "" : endpoint.getHost().toLowerCase(Locale.ROOT);
    return host.endsWith(".amazonaws.com") || host.endsWith(".amazonaws.com.cn");
  }

  public enum PutClient {
    /** The SDK's {@code PutObject} (its whole request pipeline). */
    SDK,
    /** {@link SignedPut}: the same request signed by hand over {@code HttpURLConnection}. */
    SIGNED
  }

  /**
   * Creates the client.
   *
   * @param endpoint the endpoint, or null for AWS's own
   * @param region the region
   * @param bucket the bucket
   * @param credentials the credentials provider
   * @param attemptTimeout how long one HTTP attempt may take
   * @param onHttpStatus told the status of every HTTP response, retries included
   * @param putClient what sends the PUTs (every other request goes through the SDK)
   */
  public S3Store(
      URI endpoint,
      String region,
      String bucket,
      AwsCredentialsProvider credentials,
      Duration attemptTimeout,
      IntConsumer onHttpStatus,
      PutClient putClient) {
    this.bucket = bucket;
    this.signed =
        putClient == PutClient.SIGNED
            ? new SignedPut(
                endpoint,
                region,
                bucket,
                credentials,
                Duration.ofSeconds(2),
                attemptTimeout,
                onHttpStatus)
            : null;
    var builder =
        S3Client.builder()
            .region(Region.of(region))
            .credentialsProvider(credentials)
            .httpClientBuilder(
                UrlConnectionHttpClient.builder()
                    .connectionTimeout(Duration.ofSeconds(2))
                    .socketTimeout(attemptTimeout))
            .overrideConfiguration(
                o ->
                    o.retryStrategy(RetryMode.STANDARD)
                        .addExecutionInterceptor(
                            new ExecutionInterceptor() {
                              @Override
                              public void afterTransmission(
                                  Context.AfterTransmission context,
                                  ExecutionAttributes attributes) {
                                onHttpStatus.accept(context.httpResponse().statusCode());
                              }
                            })
                        .apiCallAttemptTimeout(attemptTimeout)
                        .apiCallTimeout(attemptTimeout.multipliedBy(3)))
            .serviceConfiguration(S3Configuration.builder().chunkedEncodingEnabled(false).build())
            .requestChecksumCalculation(RequestChecksumCalculation.WHEN_REQUIRED)
            .responseChecksumValidation(ResponseChecksumValidation.WHEN_REQUIRED);
    if (endpoint != null) {
      builder.endpointOverride(endpoint).forcePathStyle(true);
    }
    this.s3 = builder.build();
  }

  /** Creates the bucket unless it exists (the embedded store starts empty). */
  public void createBucketIfMissing() {
    try {
      s3.headBucket(b -> b.bucket(bucket));
    } catch (NoSuchBucketException e) {
      try {
        s3.createBucket(b -> b.bucket(bucket));
      } catch (BucketAlreadyOwnedByYouException raced) {
        // someone else made it: fine
      }
    }
  }

  /**
   * Lets the JDK's HTTP keep-alive cache hold {@code connections} idle connections per destination
   * (its default is 5), unless {@code http.maxConnections} is set already. Call before the first
   * request; the JDK reads the property once.
   *
   * @param connections how many uploads may be in flight at once
   */
  public static void keepAliveConnections(int connections) {
    if (System.getProperty("http.maxConnections") == null) {
      System.setProperty("http.maxConnections", Integer.toString(Math.max(5, connections)));
    }
  }

  @Override
  public void put(String key, byte[] body, String contentType, String contentEncoding)
      throws InterruptedException {
    if (signed != null) {
      signed.put(key, body, contentType, contentEncoding, false);
      return;
    }
    PutObjectRequest.Builder request =
        PutObjectRequest.builder().bucket(bucket).key(key).contentType(contentType);
    if (contentEncoding != null) {
      request.contentEncoding(contentEncoding);
    }
    s3.putObject(request.build(), RequestBody.fromBytes(body));
  }

  /**
   * {@inheritDoc}
   *
   * <p>Sends {@code If-None-Match: *}; a {@code 412 Precondition Failed} means the key is taken. A
   * store that answers {@code 501 Not Implemented} (no conditional writes) gets plain PUTs from
   * then on (logged once).
   */
  @Override
  public boolean putIfAbsent(String key, byte[] body, String contentType, String contentEncoding)
      throws InterruptedException {
    if (!conditionalWrites) {
      put(key, body, contentType, contentEncoding);
      return true;
    }
    if (signed != null) {
      try {
        return signed.put(key, body, contentType, contentEncoding, true);
      } catch (S3Exception e) {
        if (e.statusCode() != 501) {
          throw e;
        }
        return plainFromNowOn(e, key, body, contentType, contentEncoding);
      }
    }
    PutObjectRequest.Builder request =
        PutObjectRequest.builder()
            .bucket(bucket)
            .key(key)
            .contentType(contentType)
            .ifNoneMatch("*");
    if (contentEncoding != null) {
      request.contentEncoding(contentEncoding);
    }
    try {
      s3.putObject(request.build(), RequestBody.fromBytes(body));
      return true;
    } catch (S3Exception e) {
      if (e.statusCode() == 412) {
        return false;
      }
      if (e.statusCode() == 501) {
        return plainFromNowOn(e, key, body, contentType, contentEncoding);
      }
      throw e;
    }
  }

  /** The store answered 501 to a conditional write: plain PUTs from now on, this one first. */
  private boolean plainFromNowOn(
      S3Exception notImplemented,
      String key,
      byte[] body,
      String contentType,
      String contentEncoding)
      throws InterruptedException {
    conditionalWrites = false;
    LOG.warn(
        "the store does not support conditional writes (If-None-Match: *): {}; using plain PUTs",
        notImplemented.toString());
    put(key, body, contentType, contentEncoding);
    return true;
  }

  @Override
  public boolean reachable() {
    try {
      s3.headBucket(
          b ->
              b.bucket(bucket)
                  .overrideConfiguration(
                      o ->
                          o.apiCallTimeout(Duration.ofSeconds(2))
                              .apiCallAttemptTimeout(Duration.ofSeconds(2))));
      return true;
    } catch (RuntimeException e) {
      return false;
    }
  }

  /** {@return the underlying client, for reading back in tests and tools} */
  public S3Client client() {
    return s3;
  }

  @Override
  public void close() {
    if (signed != null) {
      signed.close();
    }
    s3.close();
  }
}
