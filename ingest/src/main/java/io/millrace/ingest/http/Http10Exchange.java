package io.millrace.ingest.http;

/**
 * One request on a connection that began with HTTP/1.0, as {@link Http10Requests} read it: how its
 * response must be written ({@link Http10Responses}).
 *
 * @param http10 the request was HTTP/1.0: the response is written as HTTP/1.0
 * @param keepAlive the client may send another request on this connection after the response
 * @param head the request was {@code HEAD}: its response has no body, whatever its headers say
 */
record Http10Exchange(boolean http10, boolean keepAlive, boolean head) {
  /** What a response with no recorded request is written as: HTTP/1.1, as Helidon wrote it. */
  static final Http10Exchange UNRECORDED = new Http10Exchange(false, true, false);
}
