package io.millrace.pipeline;

import static org.junit.platform.engine.discovery.DiscoverySelectors.selectClass;

import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.platform.testkit.engine.EngineTestKit;
import org.junit.platform.testkit.engine.EventConditions;
import org.junit.platform.testkit.engine.TestExecutionResultConditions;

/** The leak check itself can fail: a test that walks away from a running pipeline is failed. */
class NoLeakedRunThreadsTest {

  @Test
  void aTestThatLeavesARunGoingIsFailedAndOneThatJoinsPasses() {
    EngineTestKit.engine("junit-jupiter")
        .selectors(selectClass(LeakyTests.class))
        .configurationParameter("junit.jupiter.conditions.deactivate", "*")
        .execute()
        .testEvents()
        .assertThatEvents()
        .haveExactly(
            1,
            EventConditions.event(
                EventConditions.test("walksAway"),
                EventConditions.finishedWithFailure(
                    TestExecutionResultConditions.message(
                        m -> m.contains("left pipeline run threads alive")))))
        .haveExactly(
            1,
            EventConditions.event(
                EventConditions.test("joins"), EventConditions.finishedSuccessfully()));
  }

  /** Run only through the test kit above (it is a nested class without @Nested). */
  @ExtendWith(NoLeakedRunThreads.class)
  @org.junit.jupiter.api.condition.EnabledIfSystemProperty(
      named = "never.set",
      matches = "x",
      disabledReason = "run by NoLeakedRunThreadsTest")
  static class LeakyTests {
    @Test
    void walksAway() throws Exception {
      RunHandle<Integer> h = Pipeline.generate(() -> 1).start(i -> Thread.sleep(1));
      Thread.sleep(20);
      // no join: the extension must notice; end the run so nothing outlives the suite
      Thread.ofVirtual()
          .start(
              () -> {
                try {
                  Thread.sleep(700);
                } catch (InterruptedException e) {
                  Thread.currentThread().interrupt();
                }
                h.cancel();
              });
    }

    @Test
    void joins() {
      Pipeline.from(List.of(1, 2, 3)).map(i -> i).withTimeout(Duration.ofSeconds(5)).toList();
    }
  }
}
