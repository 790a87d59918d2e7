package io.millrace.ingest.workers;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.UncheckedIOException;
import java.net.ConnectException;
import java.net.SocketTimeoutException;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import software.amazon.awssdk.awscore.exception.AwsErrorDetails;
import software.amazon.awssdk.core.exception.ApiCallAttemptTimeoutException;
import software.amazon.awssdk.core.exception.ApiCallTimeoutException;
import software.amazon.awssdk.core.exception.SdkClientException;
import software.amazon.awssdk.services.s3.model.S3Exception;

class UploadOutcomeTest {
  private static S3Exception s3(int status, String code) {
    return (S3Exception)
        S3Exception.builder()
            .statusCode(status)
            .awsErrorDetails(AwsErrorDetails.builder().errorCode(code).build())
            .build();
  }

  @Test
  void classifiesWhatTheSdkThrows() {
    assertThat(UploadOutcome.of(null)).isEqualTo(UploadOutcome.OK);
    assertThat(UploadOutcome.of(s3(503, "SlowDown"))).isEqualTo(UploadOutcome.THROTTLED);
    assertThat(UploadOutcome.of(s3(503, "ServiceUnavailable"))).isEqualTo(UploadOutcome.THROTTLED);
    assertThat(UploadOutcome.of(s3(429, "TooManyRequests"))).isEqualTo(UploadOutcome.THROTTLED);
    assertThat(UploadOutcome.of(s3(400, "Throttling"))).isEqualTo(UploadOutcome.THROTTLED);
    assertThat(UploadOutcome.of(s3(500, "InternalError"))).isEqualTo(UploadOutcome.SERVER_ERROR);
    assertThat(UploadOutcome.of(s3(502, "BadGateway"))).isEqualTo(UploadOutcome.SERVER_ERROR);
    assertThat(UploadOutcome.of(s3(403, "AccessDenied"))).isEqualTo(UploadOutcome.IGNORED);
    assertThat(UploadOutcome.of(s3(404, "NoSuchBucket"))).isEqualTo(UploadOutcome.IGNORED);
    assertThat(
            UploadOutcome.of(
                ApiCallAttemptTimeoutException.create(Duration.ofSeconds(1).toMillis())))
        .isEqualTo(UploadOutcome.TIMEOUT);
    assertThat(UploadOutcome.of(ApiCallTimeoutException.create(1000)))
        .isEqualTo(UploadOutcome.TIMEOUT);
    assertThat(
            UploadOutcome.of(
                SdkClientException.create(
                    "read", new UncheckedIOException(new SocketTimeoutException("read")))))
        .isEqualTo(UploadOutcome.TIMEOUT);
    assertThat(UploadOutcome.of(SdkClientException.create("x", new ConnectException("refused"))))
        .isEqualTo(UploadOutcome.IGNORED);
    assertThat(UploadOutcome.of(new InterruptedException())).isEqualTo(UploadOutcome.IGNORED);
  }

  @Test
  void onlyTimeoutsServerErrorsAndThrottlingAreBackPressure() {
    assertThat(UploadOutcome.values())
        .filteredOn(UploadOutcome::backPressure)
        .containsExactly(
            UploadOutcome.TIMEOUT, UploadOutcome.SERVER_ERROR, UploadOutcome.THROTTLED);
  }
}
