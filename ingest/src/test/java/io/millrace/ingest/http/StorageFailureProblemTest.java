package io.millrace.ingest.http;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

/** A failed write of the local log answers 503 with a problem naming the cause. */
class StorageFailureProblemTest {

  @Test
  void aFullDiskIs503DiskFullWithRetryAfterAndTheCauseInTheDetail() {
    Problems.Shape s =
        Problems.shape(new Problem.StorageFailed(true, "nothing was admitted: disk full"));
    assertThat(s.status()).isEqualTo(503);
    assertThat(s.slug()).isEqualTo("disk-full");
    assertThat(s.detail()).contains("disk full");
    assertThat(s.headers()).anyMatch(h -> h.name().equalsIgnoreCase("Retry-After"));
    String body =
        new String(
            Problems.body(s.status(), s.slug(), s.title(), s.detail()), StandardCharsets.UTF_8);
    assertThat(body).contains("urn:millrace:problem:disk-full").contains("\"status\":503");
  }

  @Test
  void anotherIoErrorIs503StorageError() {
    Problems.Shape s = Problems.shape(new Problem.StorageFailed(false, "I/O error"));
    assertThat(s.status()).isEqualTo(503);
    assertThat(s.slug()).isEqualTo("storage-error");
  }
}
