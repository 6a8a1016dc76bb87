package dev.fmft.inference;

import java.time.Duration;
import java.time.Instant;
import java.time.ZonedDateTime;
import java.time.format.DateTimeFormatter;
import java.time.format.DateTimeFormatterBuilder;
import java.time.format.DateTimeParseException;
import java.time.temporal.ChronoField;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.OptionalInt;

/**
 * When the client tries a request again: the policy every client of the inference API implements
 * (api/vectors/README.md, "The retry policy every client implements").
 *
 * <ul>
 *   <li>Retried: a problem whose {@code retryable} is true, a connection that fails before any answer, and a 502,
 *       503 or 504 that is not a problem document. Nothing else.</li>
 *   <li>Before attempt {@code n + 1} the client waits {@code max(backoff, retryAfter)}, where {@code backoff} is
 *       {@code min(maxDelay, baseDelay * 2^(n-1)) * jitter} and {@code retryAfter} is the {@code Retry-After}
 *       header (seconds or an HTTP date), else the problem's {@code retryAfterSeconds}, else 0.</li>
 *   <li>A wait longer than {@code maxWait} is not waited: the error is raised as it is.</li>
 *   <li>After {@code maxAttempts} attempts in all, the last error is raised.</li>
 * </ul>
 *
 * @param maxAttempts the most HTTP requests one call makes, the first included; at least 1
 * @param baseDelay the backoff before the second attempt, doubled before each further one
 * @param maxDelay the longest backoff (before jitter)
 * @param maxWait the longest wait the client accepts; a longer one (a used-up quota asks for an hour) raises the
 *     error at once
 */
public record RetryPolicy(int maxAttempts, Duration baseDelay, Duration maxDelay, Duration maxWait) {

  /** 3 attempts, 0.5 s doubling up to 8 s, waiting at most 30 s: the values the shared vectors use. */
  public static final RetryPolicy DEFAULT =
      new RetryPolicy(3, Duration.ofMillis(500), Duration.ofSeconds(8), Duration.ofSeconds(30));

  /** One attempt: no retry at all. */
  public static final RetryPolicy NONE = new RetryPolicy(1, Duration.ZERO, Duration.ZERO, Duration.ZERO);

  public RetryPolicy {
    List<String> problems = new ArrayList<>();
    if (maxAttempts < 1) problems.add("maxAttempts must be at least 1, got " + maxAttempts);
    checkDuration(problems, "baseDelay", baseDelay);
    checkDuration(problems, "maxDelay", maxDelay);
    checkDuration(problems, "maxWait", maxWait);
    if (!problems.isEmpty()) {
      throw new IllegalArgumentException("Invalid RetryPolicy:\n- " + String.join("\n- ", problems));
    }
  }

  private static void checkDuration(List<String> problems, String name, Duration value) {
    if (value == null) problems.add(name + " must be given");
    else if (value.isNegative()) problems.add(name + " must not be negative, got " + value);
  }

  /**
   * The backoff before attempt {@code attemptsMade + 1}: {@code min(maxDelay, baseDelay * 2^(attemptsMade-1)) *
   * jitter}.
   *
   * @param attemptsMade the attempts made so far, at least 1
   * @param jitter the factor in [0, 1] that spreads the retries of many clients (full jitter); 1 turns it off
   */
  public Duration backoff(int attemptsMade, double jitter) {
    if (attemptsMade < 1) throw new IllegalArgumentException("attemptsMade must be at least 1, got " + attemptsMade);
    if (!(jitter >= 0 && jitter <= 1)) throw new IllegalArgumentException("jitter must be in [0, 1], got " + jitter);
    // In double nanoseconds: exact for every delay this API sees, and 2^n cannot overflow. Rounded down, so that
    // a jitter below 1 never reaches the cap.
    double exponential = baseDelay.toNanos() * Math.pow(2, attemptsMade - 1);
    double capped = Math.min(maxDelay.toNanos(), exponential);
    return Duration.ofNanos((long) Math.floor(capped * jitter));
  }

  /**
   * The wait before attempt {@code attemptsMade + 1} of a retryable failure, or empty when the client must not
   * retry: {@code maxAttempts} are made, or the wait is longer than {@code maxWait}.
   *
   * @param attemptsMade the attempts made so far, at least 1
   * @param retryAfter what the server asked for ({@link #retryAfter}); zero when it asked nothing
   * @param jitter the jitter factor in [0, 1]
   */
  public Optional<Duration> delayBeforeRetry(int attemptsMade, Duration retryAfter, double jitter) {
    if (attemptsMade >= maxAttempts) return Optional.empty();
    Duration backoff = backoff(attemptsMade, jitter);
    Duration wait = backoff.compareTo(retryAfter) >= 0 ? backoff : retryAfter;
    return wait.compareTo(maxWait) > 0 ? Optional.empty() : Optional.of(wait);
  }

  /**
   * How long the server asked the client to wait: the {@code Retry-After} header as delay-seconds or as an HTTP
   * date (RFC 9110, section 10.2.3; a date in the past is zero), else the problem's {@code retryAfterSeconds},
   * else zero. A header that is neither is ignored.
   *
   * @param header the {@code Retry-After} header, or null
   * @param problemSeconds the problem document's {@code retryAfterSeconds}
   * @param now the client's clock, against which an HTTP date is measured
   */
  public static Duration retryAfter(String header, OptionalInt problemSeconds, Instant now) {
    Optional<Duration> fromHeader = parseRetryAfter(header, now);
    if (fromHeader.isPresent()) return fromHeader.get();
    if (problemSeconds.isPresent() && problemSeconds.getAsInt() > 0) return Duration.ofSeconds(problemSeconds.getAsInt());
    return Duration.ZERO;
  }

  /** The header's wait, or empty when it is absent or neither delay-seconds nor an HTTP date. */
  static Optional<Duration> parseRetryAfter(String header, Instant now) {
    if (header == null) return Optional.empty();
    String value = header.trim();
    if (value.isEmpty()) return Optional.empty();
    if (value.chars().allMatch(c -> c >= '0' && c <= '9')) {
      // delay-seconds; more digits than a long holds is "very long", which maxWait then refuses.
      try {
        return Optional.of(Duration.ofSeconds(Long.parseLong(value)));
      } catch (NumberFormatException | ArithmeticException tooLong) {
        return Optional.of(Duration.ofSeconds(Long.MAX_VALUE));
      }
    }
    for (DateTimeFormatter format : HTTP_DATES) {
      try {
        Instant at = ZonedDateTime.parse(value, format).toInstant();
        Duration until = Duration.between(now, at);
        return Optional.of(until.isNegative() ? Duration.ZERO : until);
      } catch (DateTimeParseException notThisFormat) {
        // try the next format
      }
    }
    return Optional.empty();
  }

  /** IMF-fixdate, and the obsolete RFC 850 and asctime forms that RFC 9110 says a recipient must accept. */
  private static final List<DateTimeFormatter> HTTP_DATES = List.of(
      DateTimeFormatter.RFC_1123_DATE_TIME,
      new DateTimeFormatterBuilder()
          .appendPattern("EEEE, dd-MMM-")
          // Two-digit years: 70-99 are 1970-1999, the rest this century (RFC 850 dates predate 2070).
          .appendValueReduced(ChronoField.YEAR, 2, 2, 1970)
          .appendPattern(" HH:mm:ss zzz")
          .toFormatter(Locale.US),
      DateTimeFormatter.ofPattern("EEE MMM ppd HH:mm:ss yyyy", Locale.US).withZone(java.time.ZoneOffset.UTC));
}
