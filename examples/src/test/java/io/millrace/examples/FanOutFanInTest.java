package io.millrace.examples;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowable;

import io.millrace.pipeline.NoLeakedRunThreads;
import io.millrace.pipeline.PipelineException;
import java.io.IOException;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;

@Timeout(30)
@ExtendWith(NoLeakedRunThreads.class)
class FanOutFanInTest {

  private static final List<String> TITLED =
      List.of("Hello", "World", "Foo", "Bar", "Bax", "Millrace", "Pipeline", "Channel", "Gopher");

  @Test
  void everyWordGoesThroughOneOfOneWorkerPerCoreAndComesOutInTitleCase() throws Exception {
    List<String> lines = new CopyOnWriteArrayList<>();
    FanOutFanIn.Outcome o = FanOutFanIn.run(lines::add);
    int cores = Runtime.getRuntime().availableProcessors();

    assertThat(o.titled()).containsExactlyInAnyOrderElementsOf(TITLED);
    assertThat(o.perWorker()).hasSize(cores);
    assertThat(o.perWorker().keySet())
        .containsExactlyElementsOf(
            IntStream.rangeClosed(1, cores).mapToObj(i -> "to-lower-" + i).toList());
    assertThat(o.perWorker().values().stream().mapToLong(Long::longValue).sum()).isEqualTo(9);

    assertThat(lines.get(0))
        .isEqualTo(
            "fan-out to "
                + cores
                + " to-lower workers (one per core: "
                + cores
                + "), fan-in by merge, then to-title");
    assertThat(lines.subList(1, 10)).containsExactlyElementsOf(o.titled());
    assertThat(lines.get(10)).isEqualTo("9 words in, 9 through the workers: " + o.perWorker());
    assertThat(lines).hasSize(11);
  }

  @Test
  void theWorkersRunAtTheSameTime() throws Exception {
    int workers = 3;
    CountDownLatch allBusy = new CountDownLatch(workers);
    FanOutFanIn.Outcome o =
        FanOutFanIn.run(
            line -> {},
            FanOutFanIn.WORDS,
            workers,
            word -> {
              allBusy.countDown();
              // a worker runs one call at a time, so this passes only if 3 workers are busy at once
              if (!allBusy.await(10, TimeUnit.SECONDS)) {
                throw new AssertionError("the workers did not all run at the same time");
              }
              return FanOutFanIn.toLower(word);
            });
    assertThat(o.titled()).containsExactlyInAnyOrderElementsOf(TITLED);
    assertThat(o.perWorker()).hasSize(workers).allSatisfy((name, n) -> assertThat(n).isPositive());
  }

  @Test
  void aFailingWorkerFailsTheRunNamingItsStageAndTheProducerIsReleased() {
    List<String> many =
        IntStream.range(0, 2_000).mapToObj(i -> i == 50 ? "BOOM" : "W" + i).toList();
    Throwable thrown =
        catchThrowable(
            () ->
                FanOutFanIn.run(
                    line -> {},
                    many,
                    2,
                    word -> {
                      if (word.equals("BOOM")) {
                        throw new IOException("cannot lower " + word);
                      }
                      return FanOutFanIn.toLower(word);
                    }));
    // returning at all means the producer, blocked on the full shared channel, was released
    assertThat(thrown)
        .isInstanceOf(PipelineException.class)
        .hasMessageMatching("stage 'to-lower-[12]' failed: .*")
        .hasRootCauseMessage("cannot lower BOOM");
  }

  @Test
  void toTitleUpperCasesTheFirstLetterOnly() {
    assertThat(FanOutFanIn.toTitle("millrace")).isEqualTo("Millrace");
    assertThat(FanOutFanIn.toTitle("")).isEmpty();
  }
}
