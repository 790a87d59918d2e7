package io.millrace.pipeline;

/**
 * One case of a {@link Select#select select}: receive from a channel ({@link
 * Channel#receiveClause()}), send to one ({@link Channel#sendClause(Object)}), or the default case
 * ({@link Select#defaultClause(Object)}).
 *
 * <p>A clause is an immutable description: creating one does nothing to its channel, and the same
 * clause may be passed to any number of selects, one after another or at once from several threads
 * (a send clause then sends its element once per select that chooses it).
 *
 * @param <T> what the select returns when it chooses this clause
 */
public sealed interface SelectClause<T> permits ReceiveClause, SendClause, DefaultClause {}
