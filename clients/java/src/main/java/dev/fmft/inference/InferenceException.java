package dev.fmft.inference;

/**
 * A call to the inference API that failed: {@link ApiException} (the API answered with an error),
 * {@link StreamException} (a stream failed after it started) or {@link TransportException} (no usable answer).
 */
public abstract class InferenceException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  InferenceException(String message, Throwable cause) {
    super(message, cause);
  }

  /** Whether the same request may succeed later. */
  public abstract boolean isRetryable();
}
