package io.millrace.ingest.metrics;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import java.time.Duration;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** The status page's samples, taken by hand on a fake clock. */
class HistoryTest {
  @Test
  void ratesComeFromTheCountersGrowthBetweenSamples() {
    Metrics m = new Metrics();
    History h = new History(m, 3);
    History.Sample first = h.sample(10_000);
    assertThat(first.seq()).isEqualTo(1);
    assertThat(first.accepted()).isNaN(); // nothing to compare with yet
    m.payloadsAccepted.increment(500);
    m.payloadsStored.increment(100);
    m.response(202);
    m.response(202);
    m.response(429);
    m.response(400);
    m.response(503);
    History.Sample s = h.sample(12_000); // two seconds later
    assertThat(s.accepted()).isEqualTo(250);
    assertThat(s.stored()).isEqualTo(50);
    assertThat(s.r2xx()).isEqualTo(1);
    assertThat(s.r4xx()).isEqualTo(1); // 429 and 400
    assertThat(s.r429()).isEqualTo(0.5);
    assertThat(s.r5xx()).isEqualTo(0.5);
    assertThat(s.queuePayloads()).isNaN(); // no queue gauge registered here
  }

  @Test
  void latencyPercentilesComeFromTheBucketsOfTheLastFewSamplesOnly() {
    Metrics m = new Metrics();
    History h = new History(m, 300);
    h.sample(0);
    for (int i = 0; i < 99; i++) {
      m.uploadTime.record(Duration.ofMillis(20)); // the 10..25 ms bucket
    }
    m.uploadTime.record(Duration.ofSeconds(2)); // the 1..2.5 s bucket
    History.Sample s = h.sample(1000);
    assertThat(s.uploads()).isEqualTo(100);
    assertThat(s.uploadMeanMs()).isCloseTo((99 * 20 + 2000) / 100.0, within(0.01));
    assertThat(s.uploadP50Ms()).isBetween(10.0, 25.0);
    assertThat(s.uploadP99Ms()).isBetween(10.0, 25.0); // the 99th of 100 is still fast
    m.uploadTime.record(2, TimeUnit.SECONDS);
    assertThat(h.sample(2000).uploadP99Ms()).isBetween(1000.0, 2500.0);
    // once the window has passed them, old uploads no longer count
    for (int t = 3; t <= 3 + History.LATENCY_WINDOW; t++) {
      h.sample(t * 1000L);
    }
    assertThat(h.latest().uploadP99Ms()).isNaN();
    assertThat(h.latest().uploads()).isZero();
  }

  @Test
  void itKeepsTheLastSamplesAndHandsOutThoseAfterASequenceNumber() {
    History h = new History(new Metrics(), 3);
    for (int i = 1; i <= 5; i++) {
      h.sample(i * 1000L);
    }
    assertThat(h.since(0)).extracting(History.Sample::seq).containsExactly(3L, 4L, 5L);
    assertThat(h.since(4)).extracting(History.Sample::seq).containsExactly(5L);
    assertThat(h.since(5)).isEmpty();
  }

  @Test
  void theSamplerThreadSamplesEverySecondAndStopsOnClose() throws Exception {
    History h = new History(new Metrics(), 300);
    h.start(Duration.ofMillis(50), System::currentTimeMillis);
    Thread.sleep(400);
    h.close();
    long n = h.latest().seq();
    assertThat(n).isBetween(3L, 12L);
    Thread.sleep(200);
    assertThat(h.latest().seq()).isEqualTo(n);
  }
}
