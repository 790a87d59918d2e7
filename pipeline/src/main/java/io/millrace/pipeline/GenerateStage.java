package io.millrace.pipeline;

/** An endless source ({@code Pipeline.generate}): runs until the run stops. */
final class GenerateStage implements StageBody {
  private final StageCounters st;
  private final ThrowingSupplier<?> supplier;
  private final Outlet out;

  GenerateStage(StageCounters st, ThrowingSupplier<?> supplier, Outlet out) {
    this.st = st;
    this.supplier = supplier;
    this.out = out;
  }

  @Override
  public void run() throws Exception {
    while (true) {
      Object v = supplier.get(); // may block: hand each element on at once
      st.in.lazySet(st.in.get() + 1);
      out.send(st, v);
    }
  }
}
