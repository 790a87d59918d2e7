package io.millrace.examples;

import static org.assertj.core.api.Assertions.assertThat;

import io.millrace.pipeline.NoLeakedRunThreads;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;

@Timeout(30)
@ExtendWith(NoLeakedRunThreads.class)
class ProducerSinkTest {

  @Test
  void theSinkGetsEveryWordInOrderAndTheRunHasEndedWhenForEachReturns() {
    List<String> lines = new CopyOnWriteArrayList<>();
    ProducerSink.run(lines::add);
    assertThat(NoLeakedRunThreads.liveRunThreads()).isZero();
    assertThat(lines).containsExactly("FOO", "BAR", "BAX", "done: the sink received 3 of 3 words");
  }
}
