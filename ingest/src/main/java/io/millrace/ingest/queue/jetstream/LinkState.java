package io.millrace.ingest.queue.jetstream;

import io.nats.client.Connection;
import io.nats.client.JetStream;
import io.nats.client.JetStreamSubscription;

/**
 * Everything the link knows at one moment, swapped as a whole (one atomic reference) by the threads
 * that learn something: the keeper (connected, provisioned), the publisher and the puller (the
 * stream or consumer went away). Ready exactly when there is no problem; a ready state always has a
 * connection and a JetStream context, so "not ready, no reason" cannot be expressed.
 *
 * @param connection the connection, null until the first connect succeeded; it reconnects by itself
 *     afterwards and is never replaced
 * @param js the JetStream context, null until provisioned once
 * @param sub this process's pull subscription (a role that stores), or null
 * @param problem why the queue cannot serve, or null when ready
 */
record LinkState(Connection connection, JetStream js, JetStreamSubscription sub, String problem) {

  LinkState {
    if (problem == null && (connection == null || js == null)) {
      throw new IllegalArgumentException("a ready state needs a connection and a context");
    }
  }

  /** {@return the state before the first connect} */
  static LinkState connecting() {
    return new LinkState(null, null, null, "connecting to NATS");
  }

  /** {@return whether the queue can serve (as far as provisioning goes)} */
  boolean ready() {
    return problem == null;
  }

  /** {@return this state, not ready for the given reason} */
  LinkState broken(String why) {
    return new LinkState(connection, js, sub, why);
  }

  /** {@return this state with a connection (still not ready: nothing is provisioned yet)} */
  LinkState connected(Connection c) {
    return new LinkState(c, js, sub, problem); // no connection before, so there is a problem
  }

  /** {@return a ready state: provisioned on this connection} */
  LinkState provisioned(JetStream context, JetStreamSubscription subscription) {
    return new LinkState(connection, context, subscription, null);
  }
}
