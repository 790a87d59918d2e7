package io.millrace.ingest.workers;

import java.net.SocketTimeoutException;
import java.net.http.HttpTimeoutException;
import software.amazon.awssdk.awscore.exception.AwsServiceException;
import software.amazon.awssdk.core.exception.AbortedException;
import software.amazon.awssdk.core.exception.ApiCallAttemptTimeoutException;
import software.amazon.awssdk.core.exception.ApiCallTimeoutException;
import software.amazon.awssdk.core.exception.SdkInterruptedException;

/** How an upload ended, as far as {@link AdaptiveConcurrency} is concerned. */
public enum UploadOutcome {
  /** Stored; its latency counts towards the RTT estimate. */
  OK,
  /** The attempt or the call timed out: back-pressure. */
  TIMEOUT,
  /** A 5xx other than a throttling answer: back-pressure. */
  SERVER_ERROR,
  /** 503 SlowDown, 429 or another "slow down" answer: back-pressure. */
  THROTTLED,
  /**
   * Failed in a way that says nothing about the store's load (a 4xx, a refused or reset connection,
   * an interrupted or cancelled call): neither its latency nor its failure counts.
   */
  IGNORED;

  boolean backPressure() {
    return this == TIMEOUT || this == SERVER_ERROR || this == THROTTLED;
  }

  /**
   * Classifies what an upload through the AWS SDK threw.
   *
   * @param failure what the call threw, or null if it returned normally
   * @return {@link #OK} for null; {@link #THROTTLED} for a service error the SDK calls throttling
   *     (429, {@code SlowDown}, {@code Throttling}...) or any 503; {@link #SERVER_ERROR} for other
   *     5xx; {@link #TIMEOUT} when a timeout (the SDK's call or attempt timeout, a socket or HTTP
   *     timeout) is in the cause chain; {@link #IGNORED} for everything else
   */
  public static UploadOutcome of(Throwable failure) {
    if (failure == null) {
      return OK;
    }
    if (failure instanceof AwsServiceException ase) {
      if (ase.isThrottlingException() || ase.statusCode() == 503) {
        return THROTTLED;
      }
      return ase.statusCode() >= 500 ? SERVER_ERROR : IGNORED;
    }
    Throwable t = failure;
    for (int depth = 0; t != null && depth < 16; depth++, t = t.getCause()) {
      if (t instanceof InterruptedException
          || t instanceof SdkInterruptedException
          || t instanceof AbortedException) {
        return IGNORED;
      }
      if (t instanceof ApiCallAttemptTimeoutException
          || t instanceof ApiCallTimeoutException
          || t instanceof SocketTimeoutException
          || t instanceof HttpTimeoutException) {
        return TIMEOUT;
      }
    }
    return IGNORED;
  }
}
