package ferromq.golden;

import java.util.Collection;
import java.util.Map;

/**
 * A tiny, deterministic, pretty-printing JSON writer used for the *.expected.json
 * descriptions. Maps are written in their iteration order (callers use LinkedHashMap
 * or TreeMap), so the output only depends on what the generator puts in.
 * Non-ASCII characters are written as UTF-8; control characters (such as the
 * \u0001 / \u0002 separators of RocketMQ property strings) are written as \\uXXXX.
 */
final class Json {
    private Json() {
    }

    static String write(Object value) {
        StringBuilder sb = new StringBuilder();
        write(sb, value, 0);
        sb.append('\n');
        return sb.toString();
    }

    private static void indent(StringBuilder sb, int level) {
        for (int i = 0; i < level; i++) {
            sb.append("  ");
        }
    }

    @SuppressWarnings("unchecked")
    private static void write(StringBuilder sb, Object value, int level) {
        if (value == null) {
            sb.append("null");
        } else if (value instanceof String) {
            string(sb, (String) value);
        } else if (value instanceof Boolean) {
            sb.append(value.toString());
        } else if (value instanceof Number) {
            sb.append(value.toString());
        } else if (value instanceof Character) {
            string(sb, value.toString());
        } else if (value instanceof Map) {
            Map<Object, Object> map = (Map<Object, Object>) value;
            if (map.isEmpty()) {
                sb.append("{}");
                return;
            }
            if (allScalars(map.values())) {
                StringBuilder inline = new StringBuilder("{");
                int j = 0;
                for (Map.Entry<Object, Object> e : map.entrySet()) {
                    string(inline, String.valueOf(e.getKey()));
                    inline.append(": ");
                    write(inline, e.getValue(), 0);
                    if (++j < map.size()) {
                        inline.append(", ");
                    }
                }
                inline.append('}');
                if (inline.length() <= 110) {
                    sb.append(inline);
                    return;
                }
            }
            sb.append("{\n");
            int i = 0;
            for (Map.Entry<Object, Object> e : map.entrySet()) {
                indent(sb, level + 1);
                string(sb, String.valueOf(e.getKey()));
                sb.append(": ");
                write(sb, e.getValue(), level + 1);
                if (++i < map.size()) {
                    sb.append(',');
                }
                sb.append('\n');
            }
            indent(sb, level);
            sb.append('}');
        } else if (value instanceof Collection) {
            Collection<Object> list = (Collection<Object>) value;
            if (list.isEmpty()) {
                sb.append("[]");
                return;
            }
            if (allScalars(list)) {
                StringBuilder inline = new StringBuilder("[");
                int j = 0;
                for (Object o : list) {
                    write(inline, o, 0);
                    if (++j < list.size()) {
                        inline.append(", ");
                    }
                }
                inline.append(']');
                if (inline.length() <= 100) {
                    sb.append(inline);
                    return;
                }
            }
            sb.append("[\n");
            int i = 0;
            for (Object o : list) {
                indent(sb, level + 1);
                write(sb, o, level + 1);
                if (++i < list.size()) {
                    sb.append(',');
                }
                sb.append('\n');
            }
            indent(sb, level);
            sb.append(']');
        } else if (value instanceof Enum) {
            string(sb, ((Enum<?>) value).name());
        } else {
            throw new IllegalArgumentException("unsupported JSON value type: " + value.getClass());
        }
    }

    private static boolean allScalars(Collection<Object> list) {
        for (Object o : list) {
            if (o != null && !(o instanceof String) && !(o instanceof Number) && !(o instanceof Boolean)) {
                return false;
            }
        }
        return true;
    }

    private static void string(StringBuilder sb, String s) {
        sb.append('"');
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            switch (c) {
                case '"':
                    sb.append("\\\"");
                    break;
                case '\\':
                    sb.append("\\\\");
                    break;
                case '\n':
                    sb.append("\\n");
                    break;
                case '\r':
                    sb.append("\\r");
                    break;
                case '\t':
                    sb.append("\\t");
                    break;
                default:
                    if (c < 0x20 || c == 0x7f) {
                        sb.append(String.format("\\u%04x", (int) c));
                    } else {
                        sb.append(c);
                    }
            }
        }
        sb.append('"');
    }
}
