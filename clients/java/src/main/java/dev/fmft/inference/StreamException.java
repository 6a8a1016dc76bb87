package dev.fmft.inference;

import dev.fmft.inference.model.Problem;
import java.util.List;

/**
 * A stream that failed after it started: its {@code error} event, raised as the problem it holds, with the tokens
 * received before it. The client never retries it (the tokens have been handed out); whether a new request may
 * succeed is {@link #isRetryable()}.
 */
public final class StreamException extends ApiException {
  private static final long serialVersionUID = 1L;

  private final List<String> tokens;

  StreamException(Problem problem, List<String> tokens) {
    super(problem.getStatus() == null ? 500 : problem.getStatus(), problem, null, null);
    this.tokens = List.copyOf(tokens);
  }

  /** The tokens received before the error event, in order. */
  public List<String> tokens() {
    return tokens;
  }
}
