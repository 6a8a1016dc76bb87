package dev.fmft.inference;

import java.util.List;

/**
 * No usable answer: the connection failed or broke, the client was interrupted, or the answer could not be read.
 * A connection that fails before any answer is retried by the client's {@link RetryPolicy}; this exception is
 * what remains when the policy gives up.
 */
public final class TransportException extends InferenceException {
  private static final long serialVersionUID = 1L;

  private final boolean beforeAnswer;
  private final List<String> tokens;

  TransportException(String message, Throwable cause, boolean beforeAnswer, List<String> tokens) {
    super(message, cause);
    this.beforeAnswer = beforeAnswer;
    this.tokens = List.copyOf(tokens);
  }

  /** True when the request got no answer at all, so trying it again is safe and may succeed. */
  @Override
  public boolean isRetryable() {
    return beforeAnswer;
  }

  /** For a stream that broke after it started, the tokens received before it broke; empty otherwise. */
  public List<String> tokens() {
    return tokens;
  }
}
