package dev.fmft.inference;

import java.time.Duration;

/** How the client waits between attempts; tests replace it to record the waits instead of sleeping. */
@FunctionalInterface
public interface Sleeper {

  /** {@link Thread#sleep}. */
  Sleeper SYSTEM = duration -> Thread.sleep(duration.toMillis(), duration.toNanosPart() % 1_000_000);

  /** Waits {@code duration}. */
  void sleep(Duration duration) throws InterruptedException;
}
