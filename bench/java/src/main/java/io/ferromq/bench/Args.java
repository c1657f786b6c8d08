package io.ferromq.bench;

import java.util.HashMap;
import java.util.Map;

/** Minimal "-x value" option parser for the benchmark tools (short option letters only). */
final class Args {
    private final Map<String, String> values = new HashMap<>();

    Args(String[] argv, String known, String usage) {
        for (int i = 0; i < argv.length; i++) {
            String a = argv[i];
            if (!a.startsWith("-") || a.length() < 2 || i + 1 >= argv.length
                || known.indexOf(a.charAt(1)) < 0 || a.length() != 2) {
                System.err.println("bad argument '" + a + "'\nusage: " + usage);
                System.exit(2);
            }
            values.put(a.substring(1), argv[++i]);
        }
    }

    String get(String key, String def) {
        String v = values.get(key);
        return v == null ? def : v.trim();
    }

    int getInt(String key, int def) {
        return Integer.parseInt(get(key, Integer.toString(def)));
    }

    long getLong(String key, long def) {
        return Long.parseLong(get(key, Long.toString(def)));
    }
}
