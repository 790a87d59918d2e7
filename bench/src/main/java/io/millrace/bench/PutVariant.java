package io.millrace.bench;

import io.millrace.ingest.store.S3Store;
import java.net.URI;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import software.amazon.awssdk.auth.credentials.AwsBasicCredentials;
import software.amazon.awssdk.auth.credentials.StaticCredentialsProvider;
import software.amazon.awssdk.core.checksums.RequestChecksumCalculation;
import software.amazon.awssdk.core.checksums.ResponseChecksumValidation;
import software.amazon.awssdk.core.interceptor.Context;
import software.amazon.awssdk.core.interceptor.ExecutionAttributes;
import software.amazon.awssdk.core.interceptor.ExecutionInterceptor;
import software.amazon.awssdk.core.retry.RetryMode;
import software.amazon.awssdk.http.apache.ApacheHttpClient;
import software.amazon.awssdk.http.urlconnection.UrlConnectionHttpClient;
import software.amazon.awssdk.regions.Region;
import software.amazon.awssdk.services.s3.S3Client;
import software.amazon.awssdk.services.s3.S3Configuration;

/**
 * One way of configuring the S3 client for {@link PutHarness}. {@code today} is the service's
 * S3Store as it is (URLConnection client, standard retries, 10 s attempt timeout, an interceptor
 * that sees every status); each other variant changes only what its flags say.
 *
 * @param name the variant's name on the command line
 * @param description what it changes
 * @param apache Apache's HTTP client (64 connections) instead of the JDK's URLConnection
 * @param keepAlive64 {@code -Dhttp.maxConnections=64}: the JDK keeps up to 64 idle connections per
 *     host instead of 5, so 64 workers reuse theirs
 * @param checksumsWhenRequired request checksums and response validation only where an operation
 *     requires them (PutObject does not), instead of a CRC32 on every PUT
 * @param store run the service's {@link S3Store} with that PUT client (the other flags only
 *     describe it), or null for a bare SDK client
 * @param unchunked {@code S3Configuration.chunkedEncodingEnabled(false)}: the body goes as it is,
 *     signed by one SHA-256 in {@code x-amz-content-sha256}, instead of aws-chunked encoding with a
 *     signature per chunk (and, with checksums on, a CRC32 trailer and its signature). Over plain
 *     HTTP the SDK signs the payload either way; over HTTPS it sends {@code UNSIGNED-PAYLOAD}
 */
record PutVariant(
    String name,
    String description,
    boolean apache,
    boolean keepAlive64,
    boolean checksumsWhenRequired,
    boolean unchunked,
    S3Store.PutClient store) {

  PutVariant(
      String name,
      String description,
      boolean apache,
      boolean keepAlive64,
      boolean checksumsWhenRequired,
      boolean unchunked) {
    this(name, description, apache, keepAlive64, checksumsWhenRequired, unchunked, null);
  }

  static final Map<String, PutVariant> ALL = new LinkedHashMap<>();

  static {
    for (PutVariant v :
        List.of(
            new PutVariant("today", "S3Store as it is", false, false, false, false),
            new PutVariant("checksums", "+ checksums WHEN_REQUIRED", false, false, true, false),
            new PutVariant("unchunked", "+ chunked encoding off", false, false, true, true),
            new PutVariant(
                "keepalive", "today + http.maxConnections=64", false, true, false, false),
            new PutVariant("tuned-urlconn", "all three, URLConnection", false, true, true, true),
            new PutVariant("apache", "today on Apache, 64 connections", true, false, false, false),
            new PutVariant("tuned-apache", "all, Apache 64 connections", true, false, true, true),
            new PutVariant(
                "s3store-sdk",
                "S3Store, PUTs through the SDK (tuned-urlconn)",
                false,
                true,
                true,
                true,
                S3Store.PutClient.SDK),
            new PutVariant(
                "s3store-signed",
                "S3Store, PUTs signed by hand over HttpURLConnection",
                false,
                true,
                true,
                true,
                S3Store.PutClient.SIGNED))) {
      ALL.put(v.name(), v);
    }
  }

  /** {@return the JVM flags this variant needs} */
  List<String> jvmArgs() {
    List<String> args = new ArrayList<>();
    if (keepAlive64) {
      args.add("-Dhttp.maxConnections=64");
    }
    return args;
  }

  /** {@return the service's store, for the variants that run it, else null} */
  S3Store store(URI endpoint, String accessKey, String secret) {
    if (store == null) {
      return null;
    }
    return new S3Store(
        endpoint,
        "us-east-1",
        PutHarness.BUCKET,
        StaticCredentialsProvider.create(AwsBasicCredentials.create(accessKey, secret)),
        Duration.ofSeconds(10),
        status -> {},
        store);
  }

  /** {@return a client configured as this variant says} */
  S3Client client(URI endpoint, String accessKey, String secret) {
    Duration attempt = Duration.ofSeconds(10);
    var b =
        S3Client.builder()
            .region(Region.US_EAST_1)
            .credentialsProvider(
                StaticCredentialsProvider.create(AwsBasicCredentials.create(accessKey, secret)))
            .endpointOverride(endpoint)
            .forcePathStyle(true)
            .overrideConfiguration(
                o ->
                    o.retryStrategy(RetryMode.STANDARD)
                        .addExecutionInterceptor(
                            new ExecutionInterceptor() {
                              @Override
                              public void afterTransmission(
                                  Context.AfterTransmission context, ExecutionAttributes a) {
                                context.httpResponse().statusCode(); // as S3Store's metrics hook
                              }
                            })
                        .apiCallAttemptTimeout(attempt)
                        .apiCallTimeout(attempt.multipliedBy(3)));
    if (apache) {
      b.httpClientBuilder(
          ApacheHttpClient.builder()
              .maxConnections(64)
              .connectionTimeout(Duration.ofSeconds(2))
              .socketTimeout(attempt));
    } else {
      b.httpClientBuilder(
          UrlConnectionHttpClient.builder()
              .connectionTimeout(Duration.ofSeconds(2))
              .socketTimeout(attempt));
    }
    if (checksumsWhenRequired) {
      b.requestChecksumCalculation(RequestChecksumCalculation.WHEN_REQUIRED)
          .responseChecksumValidation(ResponseChecksumValidation.WHEN_REQUIRED);
    }
    if (unchunked) {
      b.serviceConfiguration(S3Configuration.builder().chunkedEncodingEnabled(false).build());
    }
    return b.build();
  }

  @Override
  public String toString() {
    return name;
  }
}
