package io.ferromq.interop;

import java.nio.charset.StandardCharsets;
import java.util.Random;

/** Message bodies for tests. */
public final class Bodies {
    private Bodies() {
    }

    /** {@code n} pseudo-random (incompressible) bytes, reproducible from {@code seed}. */
    public static byte[] random(int n, long seed) {
        byte[] b = new byte[n];
        new Random(seed).nextBytes(b);
        return b;
    }

    /** {@code n} bytes of repetitive text (compresses well). */
    public static byte[] compressible(int n) {
        byte[] unit = "The quick brown fox jumps over the lazy dog. 0123456789\n".getBytes(StandardCharsets.UTF_8);
        byte[] b = new byte[n];
        for (int i = 0; i < n; i++) {
            b[i] = unit[i % unit.length];
        }
        return b;
    }

    /** Every byte value 0..255, {@code rounds} times (NULs, high bytes, invalid UTF-8). */
    public static byte[] allByteValues(int rounds) {
        byte[] b = new byte[256 * rounds];
        for (int i = 0; i < b.length; i++) {
            b[i] = (byte) i;
        }
        return b;
    }
}
