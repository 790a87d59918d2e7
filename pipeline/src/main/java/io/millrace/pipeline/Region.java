package io.millrace.pipeline;

import java.util.List;
import java.util.Set;
import java.util.concurrent.CancellationException;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * The stages upstream of a stage that may end the run early without failing it ({@code take},
 * {@code takeWhile}, each input of {@code zip}): when that stage has what it needs it {@link #cut}s
 * its region, which stops every thread of the region the way a run's stop does (fails its buffers,
 * interrupts its threads), but the run goes on and what those threads throw from then on is
 * dropped: it is a consequence of the cut. Regions nest (a {@code take} upstream of a {@code
 * take}); cutting one cuts those inside it.
 *
 * <p>Thread-safety: the children are added while the run is wired, before any thread is forked;
 * threads and buffers are added by any thread of the run. A thread added concurrently with {@link
 * #cut} is either seen by its iteration and interrupted, or sees {@link #isCut} when it begins and
 * does nothing (both are sequentially consistent accesses), as for {@link RunScope}'s stop; a
 * buffer likewise is either failed by the cut or fails itself when registered.
 */
final class Region {
  private final Region parent;
  private final List<Region> children = new CopyOnWriteArrayList<>();
  private final Set<Thread> threads = ConcurrentHashMap.newKeySet();
  private final List<Channel<?>> channels = new CopyOnWriteArrayList<>();
  private final String what;
  private volatile CancellationException cutCause; // null until cut

  /**
   * Creates a region inside {@code parent} ({@code null}: directly in the run).
   *
   * @param what the stage that cuts it, for the message its buffers fail with
   */
  Region(Region parent, String what) {
    this.parent = parent;
    this.what = what;
    if (parent != null) {
      parent.children.add(this);
    }
  }

  /** {@return whether this region or one around it was cut} */
  boolean isCut() {
    for (Region r = this; r != null; r = r.parent) {
      if (r.cutCause != null) {
        return true;
      }
    }
    return false;
  }

  void addThread(Thread t) {
    threads.add(t);
  }

  void removeThread(Thread t) {
    threads.remove(t);
  }

  /** Makes {@code ch} a buffer of this region: failed when the region is cut. */
  void register(Channel<?> ch) {
    channels.add(ch);
    CancellationException c = cutCauseHere();
    if (c != null) {
      ch.fail(c);
    }
  }

  private CancellationException cutCauseHere() {
    for (Region r = this; r != null; r = r.parent) {
      CancellationException c = r.cutCause;
      if (c != null) {
        return c;
      }
    }
    return null;
  }

  /**
   * Stops every thread of this region and those inside it: fails their buffers, interrupts their
   * threads. Idempotent; returns at once (the run still waits for those threads to end).
   */
  void cut() {
    if (cutCause != null) {
      return;
    }
    cutCause = new CancellationException("upstream of " + what + " stopped: it has what it needs");
    for (Channel<?> ch : channels) {
      ch.fail(cutCause);
    }
    for (Thread t : threads) {
      t.interrupt();
    }
    for (Region child : children) {
      child.cut();
    }
  }
}
