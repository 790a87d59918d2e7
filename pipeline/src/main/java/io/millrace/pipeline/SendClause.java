package io.millrace.pipeline;

import java.util.Objects;
import java.util.function.Supplier;

/**
 * Send {@code value} to {@code channel}; the select then returns {@code onSent}'s value or null.
 */
record SendClause<E, T>(Channel<E> channel, E value, Supplier<? extends T> onSent)
    implements SelectClause<T> {
  SendClause {
    Objects.requireNonNull(channel, "channel");
    Objects.requireNonNull(value, "value");
  }
}
