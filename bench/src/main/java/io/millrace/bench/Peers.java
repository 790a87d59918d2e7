package io.millrace.bench;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import org.apache.pekko.actor.ActorSystem;
import reactor.core.scheduler.Scheduler;
import reactor.core.scheduler.Schedulers;

/** Set-up and tear-down of the peer libraries' runtimes, shared by the benchmarks and tests. */
final class Peers {
  private Peers() {}

  /**
   * A Pekko actor system whose stream buffers hold {@link Work#BUFFER} elements, like every other
   * implementation's (Pekko's own default is 16), and that logs only warnings.
   */
  static ActorSystem newActorSystem() {
    Config config =
        ConfigFactory.parseString(
                "pekko.loglevel = WARNING\n"
                    + "pekko.stdout-loglevel = WARNING\n"
                    + "pekko.log-dead-letters = off\n"
                    + "pekko.stream.materializer.initial-input-buffer-size = "
                    + Work.BUFFER
                    + "\n"
                    + "pekko.stream.materializer.max-input-buffer-size = "
                    + Work.BUFFER
                    + "\n")
            .withFallback(ConfigFactory.load());
    return ActorSystem.create("bench", config);
  }

  static void terminate(ActorSystem system) {
    if (system != null) {
      system.terminate();
      system.getWhenTerminated().toCompletableFuture().join();
    }
  }

  /** Reactor single-thread schedulers (platform threads, Reactor's own model), one per stage. */
  static Scheduler[] newSingles(int n) {
    Scheduler[] s = new Scheduler[n];
    for (int i = 0; i < n; i++) {
      s[i] = Schedulers.newSingle("bench-stage-" + i);
    }
    return s;
  }

  /**
   * Like {@link #newSingles} but each scheduler runs its tasks on one virtual thread (a
   * single-thread executor with a virtual-thread factory), so Reactor's stages share the carrier
   * threads the way Millrace's and Jox's do. Disposing a scheduler shuts its executor down.
   */
  static Scheduler[] newVirtualSingles(int n) {
    Scheduler[] s = new Scheduler[n];
    for (int i = 0; i < n; i++) {
      String name = "bench-vstage-" + i;
      s[i] =
          Schedulers.fromExecutorService(
              Executors.newSingleThreadExecutor(Thread.ofVirtual().name(name).factory()), name);
    }
    return s;
  }

  static void dispose(Scheduler... schedulers) {
    if (schedulers != null) {
      for (Scheduler s : schedulers) {
        if (s != null) {
          s.dispose();
        }
      }
    }
  }

  /** A Reactor scheduler that runs every task on a new virtual thread, so blocking is cheap. */
  static Scheduler virtualThreadScheduler(ExecutorService[] executorOut) {
    ExecutorService ex = Executors.newVirtualThreadPerTaskExecutor();
    executorOut[0] = ex;
    return Schedulers.fromExecutorService(ex, "bench-vt");
  }
}
