package io.ferromq.interop;

import static org.junit.jupiter.api.Assertions.fail;

import java.time.Duration;
import java.util.function.BooleanSupplier;
import java.util.function.Supplier;

/** Polls a condition until it holds or a deadline passes; never a blind sleep. */
public final class Await {
    private static final long POLL_MS = 50;

    private Await() {
    }

    public static void until(String what, Duration timeout, BooleanSupplier condition) {
        until(what, timeout, condition, () -> "");
    }

    /** Fails with {@code what} and {@code state.get()} if {@code condition} is still false at the deadline. */
    public static void until(String what, Duration timeout, BooleanSupplier condition, Supplier<String> state) {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (true) {
            if (condition.getAsBoolean()) {
                return;
            }
            if (System.nanoTime() - deadline > 0) {
                fail("timed out after " + timeout.getSeconds() + " s waiting for " + what + stateSuffix(state));
            }
            try {
                Thread.sleep(POLL_MS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                fail("interrupted while waiting for " + what + stateSuffix(state));
            }
        }
    }

    /**
     * Waits until {@code condition} has held continuously (every poll) for {@code hold}: for
     * states that can be observed half-way through being built, such as a consumer's rebalance
     * adding queues one by one.
     */
    public static void stable(String what, Duration timeout, Duration hold, BooleanSupplier condition,
                              Supplier<String> state) {
        long[] since = {-1};
        until(what + " (holding for " + hold.toMillis() + " ms)", timeout, () -> {
            if (!condition.getAsBoolean()) {
                since[0] = -1;
                return false;
            }
            long now = System.nanoTime();
            if (since[0] < 0) {
                since[0] = now;
            }
            return now - since[0] >= hold.toNanos();
        }, state);
    }

    /**
     * Watches {@code violation} for {@code period} and fails as soon as it holds: for asserting
     * that something does not happen (a message that must never be delivered) over a bounded
     * observation window.
     */
    public static void never(String what, Duration period, BooleanSupplier violation, Supplier<String> state) {
        long deadline = System.nanoTime() + period.toNanos();
        while (true) {
            if (violation.getAsBoolean()) {
                fail(what + stateSuffix(state));
            }
            if (System.nanoTime() - deadline > 0) {
                return;
            }
            try {
                Thread.sleep(POLL_MS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                fail("interrupted while watching that " + what + " does not happen" + stateSuffix(state));
            }
        }
    }

    private static String stateSuffix(Supplier<String> state) {
        String s;
        try {
            s = state.get();
        } catch (RuntimeException e) {
            s = "(state unavailable: " + e + ")";
        }
        return s == null || s.isEmpty() ? "" : "; state: " + s;
    }
}
