package io.millrace.pipeline;

/** Chosen when no other clause of the select can complete at once; its value may be null. */
record DefaultClause<T>(T value) implements SelectClause<T> {}
