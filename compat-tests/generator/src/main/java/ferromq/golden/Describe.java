package ferromq.golden;

import com.alibaba.fastjson.JSON;
import com.alibaba.fastjson.parser.Feature;
import java.lang.reflect.Field;
import java.lang.reflect.Modifier;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.apache.rocketmq.common.message.Message;
import org.apache.rocketmq.common.message.MessageClientExt;
import org.apache.rocketmq.common.message.MessageDecoder;
import org.apache.rocketmq.common.message.MessageExt;
import org.apache.rocketmq.common.protocol.header.SendMessageRequestHeaderV2;
import org.apache.rocketmq.common.sysflag.MessageSysFlag;
import org.apache.rocketmq.remoting.CommandCustomHeader;
import org.apache.rocketmq.remoting.protocol.RemotingCommand;
import org.apache.rocketmq.remoting.protocol.SerializeType;

/**
 * Builds the hand-readable *.expected.json descriptions. Every decoded value is obtained
 * from the real RocketMQ 4.9.7 decoders (RemotingCommand.decode,
 * decodeCommandCustomHeader, MessageDecoder.decodes / decodeMessages); the byte offsets
 * come from a straightforward walk of the same bytes, and the walk is cross-checked
 * against the Java decoders (the generator fails if they disagree).
 */
final class Describe {
    private Describe() {
    }

    static final char[] HEX = "0123456789abcdef".toCharArray();

    static String hex(byte[] b) {
        char[] out = new char[b.length * 2];
        for (int i = 0; i < b.length; i++) {
            out[2 * i] = HEX[(b[i] >> 4) & 0xF];
            out[2 * i + 1] = HEX[b[i] & 0xF];
        }
        return new String(out);
    }

    static void check(boolean cond, String what) {
        if (!cond) {
            throw new IllegalStateException("self-check failed: " + what);
        }
    }

    /** Strict UTF-8 decoding; null if the bytes are not valid UTF-8 or hold control characters. */
    static String utf8OrNull(byte[] b) {
        try {
            String s = StandardCharsets.UTF_8.newDecoder()
                .onMalformedInput(CodingErrorAction.REPORT)
                .onUnmappableCharacter(CodingErrorAction.REPORT)
                .decode(ByteBuffer.wrap(b)).toString();
            for (int i = 0; i < s.length(); i++) {
                char c = s.charAt(i);
                if (c < 0x20 && c != '\n' && c != '\r' && c != '\t') {
                    return null;
                }
            }
            return s;
        } catch (CharacterCodingException e) {
            return null;
        }
    }

    static Object parseJsonOrdered(String text) {
        // OrderedField keeps the key order of the text (fastjson otherwise uses a HashMap)
        return JSON.parse(text, Feature.OrderedField);
    }

    static Map<String, Object> bodyInfo(byte[] body) {
        Map<String, Object> m = new LinkedHashMap<>();
        if (body == null) {
            m.put("body_present", false);
            m.put("body_length", 0);
            return m;
        }
        m.put("body_present", true);
        m.put("body_length", body.length);
        String utf8 = utf8OrNull(body);
        m.put("body_utf8", utf8);
        if (utf8 != null && (utf8.startsWith("{") || utf8.startsWith("["))) {
            m.put("body_json_parsed", parseJsonOrdered(utf8));
        }
        m.put("body_hex", hex(body));
        return m;
    }

    /** Non-static fields of a custom header (including super classes), sorted by name. */
    static Map<String, Object> headerFields(Object header) throws IllegalAccessException {
        Map<String, Object> m = new TreeMap<>();
        if (header == null) {
            return null;
        }
        for (Class<?> c = header.getClass(); c != Object.class; c = c.getSuperclass()) {
            for (Field f : c.getDeclaredFields()) {
                if (Modifier.isStatic(f.getModifiers())) {
                    continue;
                }
                f.setAccessible(true);
                Object v = f.get(header);
                m.put(f.getName(), v == null ? null : (v instanceof Number || v instanceof Boolean ? v : v.toString()));
            }
        }
        return m;
    }

    // ------------------------------------------------------------------------------------
    // Remoting frames
    // ------------------------------------------------------------------------------------

    static Map<String, Object> frame(String fixture, byte[] frame, String producedBy, String codeMeaning,
        Class<? extends CommandCustomHeader> headerClass, List<String> notes) throws Exception {
        Map<String, Object> d = new LinkedHashMap<>();
        d.put("fixture", fixture);
        d.put("kind", "remoting frame (4-byte total length prefix included)");
        d.put("produced_by", producedBy);
        d.put("frame_length", frame.length);

        ByteBuffer bb = ByteBuffer.wrap(frame);
        int total = bb.getInt(0);
        check(total == frame.length - 4, "total length prefix == file size - 4");
        d.put("total_length_prefix", total);
        int headerLenField = bb.getInt(4);
        int serializeByte = (headerLenField >>> 24) & 0xFF;
        int headerLen = headerLenField & 0xFFFFFF;
        SerializeType st = SerializeType.valueOf((byte) serializeByte);
        Map<String, Object> hlf = new LinkedHashMap<>();
        hlf.put("offset", 4);
        hlf.put("raw_hex", hex(Arrays.copyOfRange(frame, 4, 8)));
        hlf.put("serialize_type_byte", serializeByte);
        hlf.put("serialize_type", st.name());
        hlf.put("header_length", headerLen);
        d.put("header_length_field", hlf);
        int bodyOffset = 8 + headerLen;
        int bodyLen = frame.length - bodyOffset;
        d.put("header_offset", 8);
        d.put("header_length", headerLen);
        d.put("body_offset", bodyOffset);
        d.put("body_length", bodyLen);

        byte[] headerBytes = Arrays.copyOfRange(frame, 8, bodyOffset);
        List<List<String>> wireOrder = new ArrayList<>();
        if (st == SerializeType.JSON) {
            String text = new String(headerBytes, StandardCharsets.UTF_8);
            d.put("header_json_text", text);
            @SuppressWarnings("unchecked")
            Map<String, Object> parsed = (Map<String, Object>) parseJsonOrdered(text);
            d.put("header_json_top_level_key_order", new ArrayList<>(parsed.keySet()));
            Object ext = parsed.get("extFields");
            if (ext instanceof Map) {
                for (Map.Entry<?, ?> e : ((Map<?, ?>) ext).entrySet()) {
                    wireOrder.add(Arrays.asList(String.valueOf(e.getKey()), String.valueOf(e.getValue())));
                }
            }
        } else {
            d.put("header_rocketmq", rocketmqHeader(frame, 8, headerLen, wireOrder));
        }
        d.put("header_hex", hex(headerBytes));

        // authoritative decode with the real RemotingCommand (it expects the frame without the prefix)
        RemotingCommand cmd = RemotingCommand.decode(Arrays.copyOfRange(frame, 4, frame.length));
        Map<String, Object> dec = new LinkedHashMap<>();
        dec.put("code", cmd.getCode());
        dec.put("code_meaning", codeMeaning);
        dec.put("language", cmd.getLanguage().name());
        dec.put("language_code_byte", (int) cmd.getLanguage().getCode());
        dec.put("version", cmd.getVersion());
        dec.put("opaque", cmd.getOpaque());
        dec.put("flag", cmd.getFlag());
        dec.put("flag_is_response", cmd.isResponseType());
        dec.put("flag_is_oneway", cmd.isOnewayRPC());
        dec.put("remark", cmd.getRemark());
        dec.put("serializeTypeCurrentRPC", cmd.getSerializeTypeCurrentRPC().name());
        HashMap<String, String> ext = cmd.getExtFields();
        dec.put("extFields_present", ext != null);
        dec.put("extFields_sorted", ext == null ? null : new TreeMap<>(ext));
        dec.put("extFields_wire_order", wireOrder);
        d.put("decoded", dec);
        // cross-check: wire-order list and Java's map hold the same entries
        Map<String, String> fromWire = new HashMap<>();
        for (List<String> kv : wireOrder) {
            fromWire.put(kv.get(0), kv.get(1));
        }
        check(fromWire.equals(ext == null ? new HashMap<String, String>() : ext), fixture + ": extFields wire walk == Java decode");

        if (headerClass != null) {
            CommandCustomHeader h = cmd.decodeCommandCustomHeader(headerClass);
            Map<String, Object> ch = new LinkedHashMap<>();
            ch.put("class", headerClass.getName());
            ch.put("fields", headerFields(h));
            if (h instanceof SendMessageRequestHeaderV2) {
                ch.put("as_v1 (SendMessageRequestHeaderV2.createSendMessageRequestHeaderV1)",
                    headerFields(SendMessageRequestHeaderV2.createSendMessageRequestHeaderV1((SendMessageRequestHeaderV2) h)));
            }
            d.put("custom_header", ch);
        }
        byte[] body = cmd.getBody();
        if (body != null) {
            check(Arrays.equals(body, Arrays.copyOfRange(frame, bodyOffset, frame.length)), "body slice");
        }
        d.put("body", bodyInfo(body));
        if (notes != null && !notes.isEmpty()) {
            d.put("notes", notes);
        }
        return d;
    }

    private static Map<String, Object> fieldAt(int offset, int size, String name, Object value) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("offset", offset);
        m.put("size", size);
        m.put("field", name);
        m.put("value", value);
        return m;
    }

    /** Walks a ROCKETMQ binary header; offsets are absolute within the frame file. */
    static Map<String, Object> rocketmqHeader(byte[] frame, int start, int len, List<List<String>> wireOrder) {
        ByteBuffer bb = ByteBuffer.wrap(frame);
        bb.position(start);
        List<Object> fields = new ArrayList<>();
        int p = start;
        fields.add(fieldAt(p, 2, "code (i16)", (int) bb.getShort()));
        p += 2;
        fields.add(fieldAt(p, 1, "language (u8 LanguageCode)", (int) bb.get()));
        p += 1;
        fields.add(fieldAt(p, 2, "version (i16)", (int) bb.getShort()));
        p += 2;
        fields.add(fieldAt(p, 4, "opaque (i32)", bb.getInt()));
        p += 4;
        fields.add(fieldAt(p, 4, "flag (i32)", bb.getInt()));
        p += 4;
        int remarkLen = bb.getInt();
        fields.add(fieldAt(p, 4, "remark length (i32)", remarkLen));
        p += 4;
        if (remarkLen > 0) {
            byte[] r = new byte[remarkLen];
            bb.get(r);
            fields.add(fieldAt(p, remarkLen, "remark (UTF-8)", new String(r, StandardCharsets.UTF_8)));
            p += remarkLen;
        }
        int extLen = bb.getInt();
        fields.add(fieldAt(p, 4, "extFields length (i32, bytes)", extLen));
        p += 4;
        int end = p + extLen;
        List<Object> entries = new ArrayList<>();
        while (p < end) {
            Map<String, Object> e = new LinkedHashMap<>();
            e.put("offset", p);
            int kl = bb.getShort();
            byte[] k = new byte[kl];
            bb.get(k);
            int vl = bb.getInt();
            byte[] v = new byte[vl];
            bb.get(v);
            String ks = new String(k, StandardCharsets.UTF_8);
            String vs = new String(v, StandardCharsets.UTF_8);
            e.put("key_length (i16)", kl);
            e.put("key", ks);
            e.put("value_length (i32)", vl);
            e.put("value", vs);
            entries.add(e);
            wireOrder.add(Arrays.asList(ks, vs));
            p += 2 + kl + 4 + vl;
        }
        check(p == start + len, "ROCKETMQ header walk ends exactly at header end");
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("layout", "code:i16 | language:u8 | version:i16 | opaque:i32 | flag:i32 | remarkLen:i32 | remark | extLen:i32 | {keyLen:i16 key valLen:i32 val}*  (all big-endian)");
        m.put("fields", fields);
        m.put("extFields_entries", entries);
        return m;
    }

    // ------------------------------------------------------------------------------------
    // Stored messages (commit-log / pull-response encoding)
    // ------------------------------------------------------------------------------------

    static List<String> sysFlagNames(int f) {
        List<String> n = new ArrayList<>();
        if ((f & MessageSysFlag.COMPRESSED_FLAG) != 0) n.add("COMPRESSED_FLAG(0x1)");
        if ((f & MessageSysFlag.MULTI_TAGS_FLAG) != 0) n.add("MULTI_TAGS_FLAG(0x2)");
        int tx = MessageSysFlag.getTransactionValue(f);
        if (tx == MessageSysFlag.TRANSACTION_PREPARED_TYPE) n.add("TRANSACTION_PREPARED_TYPE(0x4)");
        if (tx == MessageSysFlag.TRANSACTION_COMMIT_TYPE) n.add("TRANSACTION_COMMIT_TYPE(0x8)");
        if (tx == MessageSysFlag.TRANSACTION_ROLLBACK_TYPE) n.add("TRANSACTION_ROLLBACK_TYPE(0xc)");
        if ((f & MessageSysFlag.BORNHOST_V6_FLAG) != 0) n.add("BORNHOST_V6_FLAG(0x10)");
        if ((f & MessageSysFlag.STOREHOSTADDRESS_V6_FLAG) != 0) n.add("STOREHOSTADDRESS_V6_FLAG(0x20)");
        if ((f & MessageSysFlag.NEED_UNWRAP_FLAG) != 0) n.add("NEED_UNWRAP_FLAG(0x40)");
        if ((f & MessageSysFlag.INNER_BATCH_FLAG) != 0) n.add("INNER_BATCH_FLAG(0x80)");
        int ct = (f & MessageSysFlag.COMPRESSION_TYPE_COMPARATOR) >> 8;
        if (ct != 0) n.add("COMPRESSION_TYPE=" + ct + " (1=LZ4, 2=ZSTD, 3=ZLIB; bits 8..10)");
        return n;
    }

    /** Property string split in its own order (MessageDecoder's map is a HashMap). */
    static List<List<String>> propertiesInOrder(String s) {
        List<List<String>> out = new ArrayList<>();
        if (s.isEmpty()) {
            return out;
        }
        for (String kv : s.split(String.valueOf(MessageDecoder.PROPERTY_SEPARATOR), -1)) {
            int i = kv.indexOf(MessageDecoder.NAME_VALUE_SEPARATOR);
            out.add(Arrays.asList(kv.substring(0, i), kv.substring(i + 1)));
        }
        return out;
    }

    static String host(InetSocketAddress a) {
        String ip = a.getAddress().getHostAddress();
        return (ip.contains(":") ? "[" + ip + "]" : ip) + ":" + a.getPort();
    }

    static Map<String, Object> storedMessages(String fixture, byte[] data, String producedBy,
        List<Map<String, Object>> inputs, List<String> notes) {
        Map<String, Object> d = new LinkedHashMap<>();
        d.put("fixture", fixture);
        d.put("kind", "concatenated stored messages (commit-log encoding = PULL_MESSAGE response body)");
        d.put("produced_by", producedBy);
        d.put("total_length", data.length);
        d.put("layout", "totalSize:i32 | magic:i32 | bodyCRC:i32 | queueId:i32 | flag:i32 | queueOffset:i64 | commitLogOffset:i64 | sysFlag:i32 | bornTimestamp:i64 | bornHost:(4|16 ip bytes + i32 port) | storeTimestamp:i64 | storeHost:(4|16 + i32) | reconsumeTimes:i32 | preparedTransactionOffset:i64 | bodyLen:i32 body | topicLen:u8 topic | propsLen:i16 props  (big-endian)");

        // authoritative decode (client side: decompresses the body, msgId = offset msg id)
        List<MessageExt> decoded = MessageDecoder.decodes(ByteBuffer.wrap(data), true);
        List<Object> msgs = new ArrayList<>();
        ByteBuffer bb = ByteBuffer.wrap(data);
        int pos = 0;
        int idx = 0;
        while (pos < data.length) {
            MessageExt mx = decoded.get(idx);
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("index", idx);
            if (inputs != null && idx < inputs.size()) {
                m.put("input", inputs.get(idx));
            }
            m.put("start_offset", pos);
            List<Object> f = new ArrayList<>();
            int p = pos;
            int totalSize = bb.getInt(p);
            f.add(fieldAt(p, 4, "totalSize", totalSize));
            p += 4;
            int magic = bb.getInt(p);
            f.add(fieldAt(p, 4, "magicCode", magic + " (0x" + Integer.toHexString(magic) + ")"));
            p += 4;
            f.add(fieldAt(p, 4, "bodyCRC", bb.getInt(p)));
            check(bb.getInt(p) == mx.getBodyCRC(), "bodyCRC");
            p += 4;
            f.add(fieldAt(p, 4, "queueId", bb.getInt(p)));
            check(bb.getInt(p) == mx.getQueueId(), "queueId");
            p += 4;
            f.add(fieldAt(p, 4, "flag", bb.getInt(p)));
            check(bb.getInt(p) == mx.getFlag(), "flag");
            p += 4;
            f.add(fieldAt(p, 8, "queueOffset", bb.getLong(p)));
            check(bb.getLong(p) == mx.getQueueOffset(), "queueOffset");
            p += 8;
            f.add(fieldAt(p, 8, "commitLogOffset", bb.getLong(p)));
            check(bb.getLong(p) == mx.getCommitLogOffset(), "commitLogOffset");
            p += 8;
            int sysFlag = bb.getInt(p);
            f.add(fieldAt(p, 4, "sysFlag", sysFlag + " (0x" + Integer.toHexString(sysFlag) + ") " + sysFlagNames(sysFlag)));
            check(sysFlag == mx.getSysFlag(), "sysFlag");
            p += 4;
            f.add(fieldAt(p, 8, "bornTimestamp", bb.getLong(p)));
            check(bb.getLong(p) == mx.getBornTimestamp(), "bornTimestamp");
            p += 8;
            int bornIpLen = (sysFlag & MessageSysFlag.BORNHOST_V6_FLAG) == 0 ? 4 : 16;
            f.add(fieldAt(p, bornIpLen + 4, "bornHost", host((InetSocketAddress) mx.getBornHost())
                + " (ip bytes " + hex(Arrays.copyOfRange(data, p, p + bornIpLen)) + ", port " + bb.getInt(p + bornIpLen) + ")"));
            p += bornIpLen + 4;
            f.add(fieldAt(p, 8, "storeTimestamp", bb.getLong(p)));
            check(bb.getLong(p) == mx.getStoreTimestamp(), "storeTimestamp");
            p += 8;
            int storeIpLen = (sysFlag & MessageSysFlag.STOREHOSTADDRESS_V6_FLAG) == 0 ? 4 : 16;
            f.add(fieldAt(p, storeIpLen + 4, "storeHost", host((InetSocketAddress) mx.getStoreHost())
                + " (ip bytes " + hex(Arrays.copyOfRange(data, p, p + storeIpLen)) + ", port " + bb.getInt(p + storeIpLen) + ")"));
            p += storeIpLen + 4;
            f.add(fieldAt(p, 4, "reconsumeTimes", bb.getInt(p)));
            check(bb.getInt(p) == mx.getReconsumeTimes(), "reconsumeTimes");
            p += 4;
            f.add(fieldAt(p, 8, "preparedTransactionOffset", bb.getLong(p)));
            check(bb.getLong(p) == mx.getPreparedTransactionOffset(), "preparedTransactionOffset");
            p += 8;
            int bodyLen = bb.getInt(p);
            f.add(fieldAt(p, 4, "bodyLength", bodyLen));
            p += 4;
            byte[] stored = Arrays.copyOfRange(data, p, p + bodyLen);
            Map<String, Object> body = new LinkedHashMap<>();
            body.put("stored_utf8", utf8OrNull(stored));
            body.put("stored_hex", hex(stored));
            f.add(fieldAt(p, bodyLen, "body (as stored)", body));
            p += bodyLen;
            int topicLen = data[p] & 0xFF;
            f.add(fieldAt(p, 1, "topicLength (u8)", topicLen));
            p += 1;
            String topic = new String(data, p, topicLen, StandardCharsets.UTF_8);
            f.add(fieldAt(p, topicLen, "topic", topic));
            check(topic.equals(mx.getTopic()), "topic");
            p += topicLen;
            int propsLen = bb.getShort(p);
            f.add(fieldAt(p, 2, "propertiesLength (i16)", propsLen));
            p += 2;
            String props = new String(data, p, propsLen, StandardCharsets.UTF_8);
            f.add(fieldAt(p, propsLen, "properties (name\\u0001value joined by \\u0002)", props));
            p += propsLen;
            check(p - pos == totalSize, "message walk length == totalSize");
            m.put("fields", f);
            m.put("end_offset_exclusive", p);
            m.put("properties_in_string_order", propertiesInOrder(props));
            m.put("properties_map_sorted", mx.getProperties() == null ? new TreeMap<String, String>() : new TreeMap<>(mx.getProperties()));
            byte[] clientBody = mx.getBody();
            Map<String, Object> cb = new LinkedHashMap<>();
            cb.put("length", clientBody == null ? 0 : clientBody.length);
            cb.put("utf8", clientBody == null ? null : utf8OrNull(clientBody));
            cb.put("hex", clientBody == null ? null : hex(clientBody));
            m.put("body_as_seen_by_client (decompressed when COMPRESSED_FLAG)", cb);
            String offsetMsgId = mx instanceof MessageClientExt ? ((MessageClientExt) mx).getOffsetMsgId() : mx.getMsgId();
            m.put("offsetMsgId (storeHost ip + port + commitLogOffset, upper-case hex)", offsetMsgId);
            m.put("msgId_seen_by_client (MessageClientExt.getMsgId: UNIQ_KEY if present, else offsetMsgId)", mx.getMsgId());
            msgs.add(m);
            pos = p;
            idx++;
        }
        check(idx == decoded.size(), "message count");
        d.put("message_count", idx);
        d.put("messages", msgs);
        if (notes != null && !notes.isEmpty()) {
            d.put("notes", notes);
        }
        return d;
    }

    /** Body of SEND_BATCH_MESSAGE: MessageDecoder.encodeMessages layout. */
    static Map<String, Object> batchMessages(String fixture, byte[] data, String producedBy, List<String> notes) throws Exception {
        Map<String, Object> d = new LinkedHashMap<>();
        d.put("fixture", fixture);
        d.put("kind", "SEND_BATCH_MESSAGE body (MessageDecoder.encodeMessages layout)");
        d.put("produced_by", producedBy);
        d.put("total_length", data.length);
        d.put("layout", "{ totalSize:i32 | magicCode:i32 (=0) | bodyCRC:i32 (=0) | flag:i32 | bodyLen:i32 body | propsLen:i16 props }*  (big-endian, no topic)");
        List<Message> decoded = MessageDecoder.decodeMessages(ByteBuffer.wrap(data));
        ByteBuffer bb = ByteBuffer.wrap(data);
        List<Object> msgs = new ArrayList<>();
        int pos = 0;
        int idx = 0;
        while (pos < data.length) {
            Message mx = decoded.get(idx);
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("index", idx);
            m.put("start_offset", pos);
            List<Object> f = new ArrayList<>();
            int p = pos;
            int total = bb.getInt(p);
            f.add(fieldAt(p, 4, "totalSize", total));
            p += 4;
            f.add(fieldAt(p, 4, "magicCode", bb.getInt(p)));
            p += 4;
            f.add(fieldAt(p, 4, "bodyCRC", bb.getInt(p)));
            p += 4;
            f.add(fieldAt(p, 4, "flag", bb.getInt(p)));
            check(bb.getInt(p) == mx.getFlag(), "batch flag");
            p += 4;
            int bl = bb.getInt(p);
            f.add(fieldAt(p, 4, "bodyLength", bl));
            p += 4;
            byte[] body = Arrays.copyOfRange(data, p, p + bl);
            check(Arrays.equals(body, mx.getBody()), "batch body");
            f.add(fieldAt(p, bl, "body", utf8OrNull(body)));
            p += bl;
            int pl = bb.getShort(p);
            f.add(fieldAt(p, 2, "propertiesLength (i16)", pl));
            p += 2;
            String props = new String(data, p, pl, StandardCharsets.UTF_8);
            f.add(fieldAt(p, pl, "properties", props));
            p += pl;
            check(p - pos == total, "batch walk == totalSize");
            m.put("fields", f);
            m.put("properties_in_string_order", propertiesInOrder(props));
            m.put("properties_map_sorted", new TreeMap<>(mx.getProperties()));
            msgs.add(m);
            pos = p;
            idx++;
        }
        d.put("message_count", idx);
        d.put("messages", msgs);
        if (notes != null && !notes.isEmpty()) {
            d.put("notes", notes);
        }
        return d;
    }

    /** A JSON body file. */
    static Map<String, Object> jsonBody(String fixture, byte[] data, String producedBy, List<String> notes) {
        Map<String, Object> d = new LinkedHashMap<>();
        d.put("fixture", fixture);
        d.put("kind", "JSON body (UTF-8, no trailing newline)");
        d.put("produced_by", producedBy);
        d.put("length", data.length);
        String raw = new String(data, StandardCharsets.UTF_8);
        d.put("raw", raw);
        d.put("parsed (key order as in raw)", parseJsonOrdered(raw));
        if (notes != null && !notes.isEmpty()) {
            d.put("notes", notes);
        }
        return d;
    }
}
