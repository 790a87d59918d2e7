package io.millrace.pipeline;

import java.time.Duration;
import java.util.concurrent.atomic.AtomicReference;

/** Runs a test body with a hard time limit; on timeout, fails with a dump of every run thread. */
final class Bounded {
  private Bounded() {}

  @FunctionalInterface
  interface Body {
    void run() throws Throwable;
  }

  static void within(Duration limit, Body body) {
    AtomicReference<Throwable> failure = new AtomicReference<>();
    Thread t =
        Thread.ofPlatform()
            .name("bounded-test-body")
            .start(
                () -> {
                  try {
                    body.run();
                  } catch (Throwable e) {
                    failure.set(e);
                  }
                });
    try {
      t.join(limit);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new AssertionError("interrupted", e);
    }
    if (t.isAlive()) {
      StringBuilder sb = new StringBuilder("test body still running after " + limit + "\n");
      sb.append("body thread:");
      for (StackTraceElement e : t.getStackTrace()) {
        sb.append("\n    at ").append(e);
      }
      sb.append("\nrun threads:").append(NoLeakedRunThreads.dumpRunThreads());
      t.interrupt();
      throw new AssertionError(sb.toString());
    }
    Throwable f = failure.get();
    if (f instanceof Error e) {
      throw e;
    }
    if (f instanceof RuntimeException e) {
      throw e;
    }
    if (f != null) {
      throw new AssertionError(f);
    }
  }
}
