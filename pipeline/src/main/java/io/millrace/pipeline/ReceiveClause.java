package io.millrace.pipeline;

import java.util.Objects;

/** Receive from {@code channel}, then map the element with {@code fn} (identity if null). */
record ReceiveClause<E, T>(Channel<E> channel, ThrowingFunction<? super E, ? extends T> fn)
    implements SelectClause<T> {
  ReceiveClause {
    Objects.requireNonNull(channel, "channel");
  }
}
