package dev.fmft.inference;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.time.Instant;
import java.util.Optional;
import java.util.OptionalInt;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

class RetryPolicyTest {

  private static final RetryPolicy POLICY = new RetryPolicy(10, Duration.ofMillis(500), Duration.ofSeconds(8), Duration.ofSeconds(30));
  private static final Instant NOW = Instant.parse("2026-03-01T12:00:00Z");

  @Test
  void backoffDoublesUpToMaxDelay() {
    double[] expected = {0.5, 1, 2, 4, 8, 8, 8};
    for (int n = 1; n <= expected.length; n++) {
      assertEquals(seconds(expected[n - 1]), POLICY.backoff(n, 1.0), "backoff after " + n + " attempts");
    }
    assertEquals(Duration.ofSeconds(8), POLICY.backoff(5000, 1.0), "no overflow after many attempts");
  }

  @Test
  void fullJitterStaysWithinZeroAndTheCap() {
    SplittableRandom random = new SplittableRandom(42);
    for (int n = 1; n <= 8; n++) {
      Duration cap = POLICY.backoff(n, 1.0);
      Duration smallest = cap;
      Duration largest = Duration.ZERO;
      for (int i = 0; i < 2000; i++) {
        Duration backoff = POLICY.backoff(n, random.nextDouble());
        assertTrue(!backoff.isNegative() && backoff.compareTo(cap) < 0, backoff + " in [0, " + cap + ")");
        if (backoff.compareTo(smallest) < 0) smallest = backoff;
        if (backoff.compareTo(largest) > 0) largest = backoff;
      }
      // Uniform over [0, cap): 2000 samples reach both ends of it.
      assertTrue(smallest.compareTo(cap.dividedBy(20)) < 0, "smallest " + smallest + " of cap " + cap);
      assertTrue(largest.compareTo(cap.multipliedBy(19).dividedBy(20)) > 0, "largest " + largest + " of cap " + cap);
    }
    assertEquals(Duration.ZERO, POLICY.backoff(3, 0.0), "a jitter of 0 waits nothing");
    assertTrue(POLICY.backoff(6, Math.nextDown(1.0)).compareTo(Duration.ofSeconds(8)) < 0, "a jitter just below 1 stays below the cap");
  }

  @Test
  void refusesAJitterOutsideZeroToOne() {
    assertThrows(IllegalArgumentException.class, () -> POLICY.backoff(1, -0.1));
    assertThrows(IllegalArgumentException.class, () -> POLICY.backoff(1, 1.5));
    assertThrows(IllegalArgumentException.class, () -> POLICY.backoff(1, Double.NaN));
  }

  @Test
  void waitsTheLongerOfBackoffAndRetryAfter() {
    assertEquals(Optional.of(Duration.ofSeconds(2)), POLICY.delayBeforeRetry(1, Duration.ofSeconds(2), 1.0));
    assertEquals(Optional.of(Duration.ofSeconds(4)), POLICY.delayBeforeRetry(4, Duration.ofSeconds(1), 1.0));
    // With jitter, Retry-After is still the least wait.
    assertEquals(Optional.of(Duration.ofSeconds(1)), POLICY.delayBeforeRetry(2, Duration.ofSeconds(1), 0.0));
  }

  @Test
  void refusesAWaitLongerThanMaxWait() {
    assertEquals(Optional.empty(), POLICY.delayBeforeRetry(1, Duration.ofSeconds(3600), 1.0), "a used-up quota's hour");
    assertEquals(Optional.empty(), POLICY.delayBeforeRetry(1, Duration.ofSeconds(30).plusNanos(1), 1.0), "just over maxWait");
    assertEquals(Optional.of(Duration.ofSeconds(30)), POLICY.delayBeforeRetry(1, Duration.ofSeconds(30), 1.0), "exactly maxWait is waited");
    RetryPolicy shortWait = new RetryPolicy(10, Duration.ofSeconds(1), Duration.ofSeconds(60), Duration.ofSeconds(5));
    assertEquals(Optional.of(Duration.ofSeconds(4)), shortWait.delayBeforeRetry(3, Duration.ZERO, 1.0));
    assertEquals(Optional.empty(), shortWait.delayBeforeRetry(4, Duration.ZERO, 1.0), "the backoff itself outgrows maxWait");
  }

  @Test
  void stopsAfterMaxAttempts() {
    RetryPolicy three = new RetryPolicy(3, Duration.ofMillis(500), Duration.ofSeconds(8), Duration.ofSeconds(30));
    assertTrue(three.delayBeforeRetry(2, Duration.ZERO, 1.0).isPresent());
    assertEquals(Optional.empty(), three.delayBeforeRetry(3, Duration.ZERO, 1.0));
    assertEquals(Optional.empty(), RetryPolicy.NONE.delayBeforeRetry(1, Duration.ZERO, 1.0));
  }

  @Test
  void retryAfterInSeconds() {
    assertEquals(Duration.ofSeconds(4), RetryPolicy.retryAfter("4", OptionalInt.of(1), NOW), "the header before the problem");
    assertEquals(Duration.ofSeconds(0), RetryPolicy.retryAfter("0", OptionalInt.of(1), NOW));
    assertEquals(Duration.ofSeconds(120), RetryPolicy.retryAfter(" 120 ", OptionalInt.empty(), NOW));
    assertEquals(Duration.ofSeconds(Long.MAX_VALUE), RetryPolicy.retryAfter("99999999999999999999999", OptionalInt.empty(), NOW));
  }

  @Test
  void retryAfterAsAnHttpDate() {
    assertEquals(Duration.ofSeconds(90), RetryPolicy.retryAfter("Sun, 01 Mar 2026 12:01:30 GMT", OptionalInt.of(1), NOW), "IMF-fixdate");
    assertEquals(Duration.ofSeconds(90), RetryPolicy.retryAfter("Sunday, 01-Mar-26 12:01:30 GMT", OptionalInt.empty(), NOW), "RFC 850");
    assertEquals(Duration.ofSeconds(90), RetryPolicy.retryAfter("Sun Mar  1 12:01:30 2026", OptionalInt.empty(), NOW), "asctime");
    assertEquals(Duration.ZERO, RetryPolicy.retryAfter("Sun, 01 Mar 2026 11:00:00 GMT", OptionalInt.of(7), NOW), "a date in the past is no wait");
  }

  @Test
  void retryAfterFallsBackToTheProblemThenZero() {
    assertEquals(Duration.ofSeconds(2), RetryPolicy.retryAfter(null, OptionalInt.of(2), NOW));
    assertEquals(Duration.ofSeconds(2), RetryPolicy.retryAfter("soon", OptionalInt.of(2), NOW), "a header that is neither form");
    assertEquals(Duration.ofSeconds(2), RetryPolicy.retryAfter("-5", OptionalInt.of(2), NOW), "negative seconds are not delay-seconds");
    assertEquals(Duration.ZERO, RetryPolicy.retryAfter(null, OptionalInt.empty(), NOW));
  }

  @Test
  void validatesEverySettingAtOnce() {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> new RetryPolicy(0, Duration.ofSeconds(-1), null, Duration.ofSeconds(-2)));
    assertTrue(e.getMessage().contains("maxAttempts must be at least 1"), e.getMessage());
    assertTrue(e.getMessage().contains("baseDelay must not be negative"), e.getMessage());
    assertTrue(e.getMessage().contains("maxDelay must be given"), e.getMessage());
    assertTrue(e.getMessage().contains("maxWait must not be negative"), e.getMessage());
  }

  private static Duration seconds(double s) {
    return Duration.ofNanos(Math.round(s * 1e9));
  }
}
