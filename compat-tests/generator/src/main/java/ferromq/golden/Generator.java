package ferromq.golden;

import com.alibaba.fastjson.serializer.SerializerFeature;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Supplier;
import org.apache.rocketmq.common.DataVersion;
import org.apache.rocketmq.common.MQVersion;
import org.apache.rocketmq.common.MixAll;
import org.apache.rocketmq.common.TopicConfig;
import org.apache.rocketmq.common.UtilAll;
import org.apache.rocketmq.common.compression.CompressionType;
import org.apache.rocketmq.common.compression.CompressorFactory;
import org.apache.rocketmq.common.consumer.ConsumeFromWhere;
import org.apache.rocketmq.common.constant.PermName;
import org.apache.rocketmq.common.filter.FilterAPI;
import org.apache.rocketmq.common.message.Message;
import org.apache.rocketmq.common.message.MessageAccessor;
import org.apache.rocketmq.common.message.MessageBatch;
import org.apache.rocketmq.common.message.MessageConst;
import org.apache.rocketmq.common.message.MessageDecoder;
import org.apache.rocketmq.common.message.MessageExt;
import org.apache.rocketmq.common.protocol.RequestCode;
import org.apache.rocketmq.common.protocol.ResponseCode;
import org.apache.rocketmq.common.protocol.body.KVTable;
import org.apache.rocketmq.common.protocol.body.RegisterBrokerBody;
import org.apache.rocketmq.common.protocol.body.TopicConfigSerializeWrapper;
import org.apache.rocketmq.common.protocol.header.SendMessageRequestHeader;
import org.apache.rocketmq.common.protocol.header.SendMessageRequestHeaderV2;
import org.apache.rocketmq.common.protocol.header.SendMessageResponseHeader;
import org.apache.rocketmq.common.protocol.header.namesrv.GetRouteInfoRequestHeader;
import org.apache.rocketmq.common.protocol.header.namesrv.RegisterBrokerRequestHeader;
import org.apache.rocketmq.common.protocol.header.namesrv.RegisterBrokerResponseHeader;
import org.apache.rocketmq.common.protocol.heartbeat.ConsumeType;
import org.apache.rocketmq.common.protocol.heartbeat.ConsumerData;
import org.apache.rocketmq.common.protocol.heartbeat.HeartbeatData;
import org.apache.rocketmq.common.protocol.heartbeat.MessageModel;
import org.apache.rocketmq.common.protocol.heartbeat.ProducerData;
import org.apache.rocketmq.common.protocol.heartbeat.SubscriptionData;
import org.apache.rocketmq.common.protocol.route.BrokerData;
import org.apache.rocketmq.common.protocol.route.QueueData;
import org.apache.rocketmq.common.protocol.route.TopicRouteData;
import org.apache.rocketmq.common.sysflag.MessageSysFlag;
import org.apache.rocketmq.remoting.protocol.RemotingCommand;
import org.apache.rocketmq.remoting.protocol.SerializeType;

/**
 * Writes ferromq's golden vectors using the real Apache RocketMQ 4.9.7 classes.
 *
 * Usage: Generator OUTPUT_DIR
 *
 * Everything is fixed (timestamps, opaques, ids, bodies), so two runs write identical
 * files. The only ordering that is not chosen by this program is java.util.HashMap /
 * HashSet / ConcurrentHashMap iteration order (extFields, message properties, tagsSet,
 * subscription sets, topicConfigTable), which is a deterministic function of the keys'
 * String.hashCode() on a given JDK, but is NOT something a reimplementation may rely on.
 */
public final class Generator {

    // ---- fixed values ----------------------------------------------------------------
    static final long BORN_TS = 1700000000123L;          // 2023-11-14T22:13:20.123Z
    static final int OPAQUE_SEND = 1001;
    static final int OPAQUE_BATCH = 1002;
    static final int OPAQUE_REGISTER = 2001;
    static final int OPAQUE_REGISTER_COMPRESSED = 2002;
    static final int OPAQUE_HEARTBEAT = 3001;
    static final int OPAQUE_ROUTE = 4001;
    static final String UNIQ_KEY_SEND = "7F000001000A18B4AAC2000000000001";
    static final byte[] SEND_BODY = "Hello golden".getBytes(StandardCharsets.UTF_8);
    static final String BROKER_ADDR = "127.0.0.1:10911";
    static final String HA_ADDR = "127.0.0.1:10912";
    static final long COMMIT_LOG_OFFSET = 1234L;

    private static Path outDir;
    private static final List<String> WRITTEN = new ArrayList<>();

    private Generator() {
    }

    public static void main(String[] args) throws Exception {
        if (args.length != 1) {
            System.err.println("usage: Generator OUTPUT_DIR");
            System.exit(2);
        }
        // What a real 4.9.7 client/broker/namesrv does first thing (MQClientAPIImpl static init,
        // BrokerStartup, NamesrvStartup): every RemotingCommand then carries version = V4_9_7.
        System.setProperty(RemotingCommand.REMOTING_VERSION_KEY, Integer.toString(MQVersion.CURRENT_VERSION));

        outDir = Paths.get(args[0]).toAbsolutePath().normalize();
        Files.createDirectories(outDir);

        sendRequests();
        sendResponses();
        batchSend();
        pullBodies();
        heartbeat();
        topicRoute();
        registerBroker();

        System.out.println("wrote " + WRITTEN.size() + " files to " + outDir);
        for (String w : WRITTEN) {
            System.out.println("  " + w);
        }
    }

    // ---- helpers -----------------------------------------------------------------------

    static void write(String name, byte[] data) throws IOException {
        Files.write(outDir.resolve(name), data);
        WRITTEN.add(name);
    }

    static void writeExpected(String fixtureName, Map<String, Object> desc) throws IOException {
        String base = fixtureName.substring(0, fixtureName.lastIndexOf('.'));
        String name = base + ".expected.json";
        Files.write(outDir.resolve(name), Json.write(desc).getBytes(StandardCharsets.UTF_8));
        WRITTEN.add(name);
    }

    /** RemotingCommand.encode() drained to bytes: [total len][serialize type|header len][header][body]. */
    static byte[] encode(RemotingCommand cmd) {
        ByteBuffer b = cmd.encode();
        byte[] out = new byte[b.remaining()];
        b.get(out);
        return out;
    }

    /** Exactly what NettyEncoder.encode() writes to the socket in 4.9.7 (fastEncodeHeader + body). */
    static byte[] nettyWire(RemotingCommand cmd) {
        ByteBuf out = Unpooled.buffer();
        cmd.fastEncodeHeader(out);
        if (cmd.getBody() != null) {
            out.writeBytes(cmd.getBody());
        }
        byte[] b = new byte[out.readableBytes()];
        out.readBytes(b);
        return b;
    }

    static InetSocketAddress v4(int a, int b, int c, int d, int port) throws IOException {
        return new InetSocketAddress(InetAddress.getByAddress(new byte[] {(byte) a, (byte) b, (byte) c, (byte) d}), port);
    }

    static InetSocketAddress v6(String literal, int port) throws IOException {
        // a literal: no name lookup happens
        InetAddress a = InetAddress.getByName(literal);
        Describe.check(a.getAddress().length == 16, "v6 literal");
        return new InetSocketAddress(a, port);
    }

    static List<String> notes(String... n) {
        return new ArrayList<>(Arrays.asList(n));
    }

    // ---- SEND_MESSAGE_V2 ---------------------------------------------------------------

    static Message sendMessage() {
        // Message(topic, tags, keys, flag, body, waitStoreMsgOK) puts TAGS, KEYS and WAIT=true
        Message msg = new Message("TopicGolden", "TagA", "golden-key-1", 0, SEND_BODY, true);
        // the producer's MessageClientIDSetter.setUniqID, with a fixed id instead of a time-based one
        MessageAccessor.putProperty(msg, MessageConst.PROPERTY_UNIQ_CLIENT_MESSAGE_ID_KEYIDX, UNIQ_KEY_SEND);
        return msg;
    }

    /** Mirrors DefaultMQProducerImpl.sendKernelImpl (4.9.7) with fixed values. */
    static SendMessageRequestHeader sendHeaderV1(Message msg, boolean batch) {
        SendMessageRequestHeader h = new SendMessageRequestHeader();
        h.setProducerGroup("PG_golden");
        h.setTopic(msg.getTopic());
        h.setDefaultTopic("TBW102");
        h.setDefaultTopicQueueNums(4);
        h.setQueueId(2);
        h.setSysFlag(0);
        h.setBornTimestamp(BORN_TS);
        h.setFlag(msg.getFlag());
        h.setProperties(MessageDecoder.messageProperties2String(msg.getProperties()));
        h.setReconsumeTimes(0);
        h.setUnitMode(false);
        h.setBatch(batch);
        h.setBname("broker-a"); // 4.9.7 sets requestHeader.setBname(mq.getBrokerName()) -> V2 field "n"
        return h;
    }

    static RemotingCommand sendRequest(SerializeType st) {
        SendMessageRequestHeaderV2 v2 = SendMessageRequestHeaderV2.createSendMessageRequestHeaderV2(sendHeaderV1(sendMessage(), false));
        RemotingCommand cmd = RemotingCommand.createRequestCommand(RequestCode.SEND_MESSAGE_V2, v2);
        cmd.setBody(SEND_BODY);
        cmd.setOpaque(OPAQUE_SEND);
        cmd.setSerializeTypeCurrentRPC(st);
        return cmd;
    }

    static void sendRequests() throws Exception {
        String sendProps = MessageDecoder.messageProperties2String(sendMessage().getProperties());
        String call = "RemotingCommand.createRequestCommand(RequestCode.SEND_MESSAGE_V2 /*310*/, "
            + "SendMessageRequestHeaderV2.createSendMessageRequestHeaderV2(v1Header)); setBody(\"Hello golden\"); setOpaque(1001); ";
        List<String> common = notes(
            "v1 header: producerGroup=PG_golden topic=TopicGolden defaultTopic=TBW102 defaultTopicQueueNums=4 queueId=2 sysFlag=0 bornTimestamp=" + BORN_TS
                + " flag=0 properties=messageProperties2String({TAGS=TagA, KEYS=golden-key-1, WAIT=true, UNIQ_KEY=" + UNIQ_KEY_SEND + "}) reconsumeTimes=0 unitMode=false batch=false bname=broker-a (as DefaultMQProducerImpl 4.9.7 sets it)",
            "properties string (order = the HashMap iteration order of Message.properties): " + sendProps.replace('\u0001', '=').replace('\u0002', ';'),
            "SendMessageRequestHeaderV2 field names: a=producerGroup b=topic c=defaultTopic d=defaultTopicQueueNums e=queueId f=sysFlag g=bornTimestamp h=flag i=properties j=reconsumeTimes k=unitMode l=maxReconsumeTimes(null here, so absent) m=batch n=brokerName(bname); the inherited RpcRequestHeader.bname field stays null in V2 and is not sent",
            "version = MQVersion.CURRENT_VERSION (V4_9_7 ordinal), set through System property rocketmq.remoting.version exactly like MQClientAPIImpl does");

        byte[] json = encode(sendRequest(SerializeType.JSON));
        Describe.check(Arrays.equals(json, nettyWire(sendRequest(SerializeType.JSON))), "JSON: encode() == NettyEncoder bytes");
        write("send_v2_request_json.bin", json);
        List<String> n = new ArrayList<>(common);
        n.add("for JSON headers RemotingCommand.encode() and NettyEncoder (fastEncodeHeader) produce identical bytes (checked by the generator)");
        writeExpected("send_v2_request_json.bin", Describe.frame("send_v2_request_json.bin", json,
            call + "setSerializeTypeCurrentRPC(SerializeType.JSON); encode()", "SEND_MESSAGE_V2 request", SendMessageRequestHeaderV2.class, n));

        byte[] rmq = encode(sendRequest(SerializeType.ROCKETMQ));
        write("send_v2_request_rocketmq.bin", rmq);
        n = new ArrayList<>(common);
        n.add("RemotingCommand.encode() path: makeCustomHeaderToNet() copies the header fields into the extFields HashMap, and RocketMQSerializable.mapSerialize writes them in HashMap iteration order");
        n.add("see send_v2_request_rocketmq_wire.bin for what NettyEncoder really puts on the socket (FastCodesHeader order a..n)");
        writeExpected("send_v2_request_rocketmq.bin", Describe.frame("send_v2_request_rocketmq.bin", rmq,
            call + "setSerializeTypeCurrentRPC(SerializeType.ROCKETMQ); encode()", "SEND_MESSAGE_V2 request", SendMessageRequestHeaderV2.class, n));

        byte[] rmqWire = nettyWire(sendRequest(SerializeType.ROCKETMQ));
        write("send_v2_request_rocketmq_wire.bin", rmqWire);
        n = new ArrayList<>(common);
        n.add("NettyEncoder path (RemotingCommand.fastEncodeHeader): SendMessageRequestHeaderV2 implements FastCodesHeader, so its encode(ByteBuf) writes the fields a,b,c,...,n in that order (null ones skipped) and makeCustomHeaderToNet() is NOT called");
        n.add(Arrays.equals(rmq, rmqWire)
            ? "this file is byte-identical to send_v2_request_rocketmq.bin: the HashMap iteration order of the one-letter keys a..n happens to be a..n too (compare send_response_rocketmq*.bin, where the two paths differ)"
            : "same entries as send_v2_request_rocketmq.bin, different order");
        writeExpected("send_v2_request_rocketmq_wire.bin", Describe.frame("send_v2_request_rocketmq_wire.bin", rmqWire,
            call + "setSerializeTypeCurrentRPC(SerializeType.ROCKETMQ); NettyEncoder: fastEncodeHeader(out) + out.writeBytes(body)",
            "SEND_MESSAGE_V2 request", SendMessageRequestHeaderV2.class, n));
    }

    // ---- send response -----------------------------------------------------------------

    static String offsetMsgId(InetSocketAddress storeHost, long commitLogOffset) {
        ByteBuffer addr = MessageExt.socketAddress2ByteBuffer(storeHost);
        int len = addr.limit() == 8 ? 16 : 28;
        return MessageDecoder.createMessageId(ByteBuffer.allocate(len), addr, commitLogOffset);
    }

    /** Mirrors SendMessageProcessor.preSend + handlePutMessageResult + NettyRemotingAbstract's response callback. */
    static RemotingCommand sendResponse(SerializeType requestSerializeType) throws Exception {
        RemotingCommand response = RemotingCommand.createResponseCommand(SendMessageResponseHeader.class);
        SendMessageResponseHeader rh = (SendMessageResponseHeader) response.readCustomHeader();
        response.setOpaque(OPAQUE_SEND);
        response.addExtField(MessageConst.PROPERTY_MSG_REGION, MixAll.DEFAULT_TRACE_REGION_ID); // BrokerConfig.regionId default
        response.addExtField(MessageConst.PROPERTY_TRACE_SWITCH, String.valueOf(true));         // BrokerConfig.traceOn default
        response.setCode(-1);
        // handlePutMessageResult, PUT_OK:
        response.setCode(ResponseCode.SUCCESS);
        response.setRemark(null);
        rh.setMsgId(offsetMsgId(v4(127, 0, 0, 1, 10911), COMMIT_LOG_OFFSET));
        rh.setQueueId(2);
        rh.setQueueOffset(7L);
        // NettyRemotingAbstract.processRequestCommand callback:
        response.setOpaque(OPAQUE_SEND);
        response.markResponseType();
        response.setSerializeTypeCurrentRPC(requestSerializeType);
        return response;
    }

    static void sendResponses() throws Exception {
        InetSocketAddress sh = v4(127, 0, 0, 1, 10911);
        String id = offsetMsgId(sh, COMMIT_LOG_OFFSET);
        Describe.check(id.equals(MessageDecoder.createMessageId(sh, COMMIT_LOG_OFFSET)), "both createMessageId overloads agree for IPv4");
        String call = "RemotingCommand.createResponseCommand(SendMessageResponseHeader.class); setOpaque(1001); addExtField(\"MSG_REGION\",\"DefaultRegion\"); addExtField(\"TRACE_ON\",\"true\"); "
            + "setCode(SUCCESS=0); setRemark(null); header msgId=createMessageId(127.0.0.1:10911, 1234), queueId=2, queueOffset=7, transactionId=null; markResponseType(); ";
        List<String> common = notes(
            "SendMessageProcessor.preSend (4.9.7) adds MSG_REGION=brokerConfig.getRegionId() (default \"DefaultRegion\") and TRACE_ON=String.valueOf(brokerConfig.isTraceOn()) (default \"true\") with response.addExtField BEFORE the header is filled; on PUT_OK remark is reset to null",
            "msgId = offset message id: hex(upper) of storeHost ip(4) + port(i32) + commitLogOffset(i64) = " + id,
            "createResponseCommand sets flag bit 0 (response) itself; NettyRemotingAbstract sets it again plus opaque and serializeTypeCurrentRPC = the request's");

        byte[] json = encode(sendResponse(SerializeType.JSON));
        Describe.check(Arrays.equals(json, nettyWire(sendResponse(SerializeType.JSON))), "JSON response: encode() == NettyEncoder bytes");
        write("send_response_json.bin", json);
        writeExpected("send_response_json.bin", Describe.frame("send_response_json.bin", json,
            call + "setSerializeTypeCurrentRPC(JSON); encode()", "response to SEND_MESSAGE_V2 (code 0 = SUCCESS)", SendMessageResponseHeader.class, common));

        byte[] rmq = encode(sendResponse(SerializeType.ROCKETMQ));
        write("send_response_rocketmq.bin", rmq);
        List<String> n = new ArrayList<>(common);
        n.add("encode() path: all 5 entries come from the extFields HashMap (iteration order)");
        writeExpected("send_response_rocketmq.bin", Describe.frame("send_response_rocketmq.bin", rmq,
            call + "setSerializeTypeCurrentRPC(ROCKETMQ); encode()", "response to SEND_MESSAGE_V2 (code 0 = SUCCESS)", SendMessageResponseHeader.class, n));

        byte[] rmqWire = nettyWire(sendResponse(SerializeType.ROCKETMQ));
        write("send_response_rocketmq_wire.bin", rmqWire);
        n = new ArrayList<>(common);
        n.add("NettyEncoder path: SendMessageResponseHeader is a FastCodesHeader: msgId, queueId, queueOffset (transactionId null -> skipped) are written first, then the extFields map (MSG_REGION, TRACE_ON in HashMap order)");
        writeExpected("send_response_rocketmq_wire.bin", Describe.frame("send_response_rocketmq_wire.bin", rmqWire,
            call + "setSerializeTypeCurrentRPC(ROCKETMQ); NettyEncoder: fastEncodeHeader(out)", "response to SEND_MESSAGE_V2 (code 0 = SUCCESS)", SendMessageResponseHeader.class, n));
    }

    // ---- SEND_BATCH_MESSAGE ------------------------------------------------------------

    static void batchSend() throws Exception {
        Message m1 = new Message("TopicGolden", "TagA", "batch-key-1", 0, "batch body 1".getBytes(StandardCharsets.UTF_8), true);
        Message m2 = new Message("TopicGolden", "TagB", "batch-key-2", 0, "batch body 2".getBytes(StandardCharsets.UTF_8), true);
        MessageAccessor.putProperty(m1, MessageConst.PROPERTY_UNIQ_CLIENT_MESSAGE_ID_KEYIDX, "7F000001000A18B4AAC2000000000011");
        MessageAccessor.putProperty(m2, MessageConst.PROPERTY_UNIQ_CLIENT_MESSAGE_ID_KEYIDX, "7F000001000A18B4AAC2000000000012");
        MessageBatch batch = MessageBatch.generateFromList(Arrays.asList(m1, m2));
        byte[] body = batch.encode(); // == MessageDecoder.encodeMessages(messages)
        Describe.check(Arrays.equals(body, MessageDecoder.encodeMessages(Arrays.asList(m1, m2))), "MessageBatch.encode == encodeMessages");
        batch.setBody(body);
        write("send_batch_body.bin", body);
        writeExpected("send_batch_body.bin", Describe.batchMessages("send_batch_body.bin", body,
            "MessageBatch.generateFromList([m1, m2]).encode() == MessageDecoder.encodeMessages([m1, m2]); m_i = new Message(\"TopicGolden\", \"TagA|TagB\", \"batch-key-i\", 0, \"batch body i\", true) + UNIQ_KEY",
            notes("the per-message topic is not encoded (it is the frame's topic); magicCode and bodyCRC are written as 0 by encodeMessage")));

        SendMessageRequestHeaderV2 v2 = SendMessageRequestHeaderV2.createSendMessageRequestHeaderV2(sendHeaderV1(batch, true));
        RemotingCommand cmd = RemotingCommand.createRequestCommand(RequestCode.SEND_BATCH_MESSAGE, v2);
        cmd.setBody(body);
        cmd.setOpaque(OPAQUE_BATCH);
        cmd.setSerializeTypeCurrentRPC(SerializeType.JSON);
        byte[] frame = encode(cmd);
        write("send_batch_request_json.bin", frame);
        writeExpected("send_batch_request_json.bin", Describe.frame("send_batch_request_json.bin", frame,
            "RemotingCommand.createRequestCommand(RequestCode.SEND_BATCH_MESSAGE /*320*/, V2 header with batch=true, properties=messageProperties2String(batch.getProperties())); setBody(send_batch_body.bin); setOpaque(1002); JSON; encode()",
            "SEND_BATCH_MESSAGE request", SendMessageRequestHeaderV2.class,
            notes("a MessageBatch's own properties are only WAIT=true (generateFromList copies waitStoreMsgOK of the first message; no UNIQ_KEY on the batch itself)", "body == send_batch_body.bin")));
    }

    // ---- stored messages / pull response body -----------------------------------------

    static MessageExt storedMessage(String topic, int queueId, int flag, long queueOffset, long commitLogOffset, int sysFlag,
        long bornTs, InetSocketAddress bornHost, long storeTs, InetSocketAddress storeHost, int reconsumeTimes,
        long preparedTxOffset, byte[] storedBody, Map<String, String> props) {
        MessageExt m = new MessageExt();
        m.setTopic(topic);
        m.setQueueId(queueId);
        m.setFlag(flag);
        m.setQueueOffset(queueOffset);
        m.setCommitLogOffset(commitLogOffset);
        m.setSysFlag(sysFlag);
        m.setBornTimestamp(bornTs);
        m.setBornHost(bornHost);
        m.setStoreTimestamp(storeTs);
        m.setStoreHost(storeHost);
        m.setReconsumeTimes(reconsumeTimes);
        m.setPreparedTransactionOffset(preparedTxOffset);
        m.setBody(storedBody);
        m.setBodyCRC(UtilAll.crc32(storedBody)); // CommitLog.asyncPutMessage: msg.setBodyCRC(UtilAll.crc32(msg.getBody()))
        if (props != null) {
            MessageAccessor.setProperties(m, props);
        }
        return m;
    }

    static Map<String, Object> input(MessageExt m, String rawBodyText, String how) {
        Map<String, Object> i = new LinkedHashMap<>();
        i.put("topic", m.getTopic());
        i.put("queueId", m.getQueueId());
        i.put("flag", m.getFlag());
        i.put("queueOffset", m.getQueueOffset());
        i.put("commitLogOffset", m.getCommitLogOffset());
        i.put("sysFlag", m.getSysFlag());
        i.put("bornTimestamp", m.getBornTimestamp());
        i.put("bornHost", Describe.host((InetSocketAddress) m.getBornHost()));
        i.put("storeTimestamp", m.getStoreTimestamp());
        i.put("storeHost", Describe.host((InetSocketAddress) m.getStoreHost()));
        i.put("reconsumeTimes", m.getReconsumeTimes());
        i.put("preparedTransactionOffset", m.getPreparedTransactionOffset());
        i.put("bodyCRC (UtilAll.crc32 of the stored body, as CommitLog computes it)", m.getBodyCRC());
        i.put("uncompressed_body_utf8", rawBodyText);
        i.put("body_note", how);
        return i;
    }

    static byte[] concat(List<byte[]> parts) {
        int n = 0;
        for (byte[] p : parts) {
            n += p.length;
        }
        byte[] out = new byte[n];
        int pos = 0;
        for (byte[] p : parts) {
            System.arraycopy(p, 0, out, pos, p.length);
            pos += p.length;
        }
        return out;
    }

    static String repeat(String s, int n) {
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < n; i++) {
            sb.append(s);
        }
        return sb.toString();
    }

    static void pullBodies() throws Exception {
        InetSocketAddress storeHost = v4(127, 0, 0, 1, 10911);
        String topic = "TopicGolden";

        // (a) plain message, IPv4 hosts, tags/keys/user properties (one non-ASCII value)
        Map<String, String> pa = new HashMap<>();
        pa.put(MessageConst.PROPERTY_TAGS, "TagA");
        pa.put(MessageConst.PROPERTY_KEYS, "golden-key-1 golden-key-2");
        pa.put(MessageConst.PROPERTY_UNIQ_CLIENT_MESSAGE_ID_KEYIDX, "7F000001000A18B4AAC20000000000A1");
        pa.put(MessageConst.PROPERTY_CLUSTER, "DefaultCluster");
        pa.put("color", "blue");
        pa.put("greeting", "h\u00e9llo w\u00f6rld");
        String bodyA = "Hello golden";
        MessageExt a = storedMessage(topic, 2, 0, 7L, COMMIT_LOG_OFFSET, 0,
            BORN_TS, v4(127, 0, 0, 1, 51234), BORN_TS + 5, storeHost, 0, 0L,
            bodyA.getBytes(StandardCharsets.UTF_8), pa);
        byte[] ea = MessageDecoder.encode(a, false);

        // (b) compressed body (COMPRESSED_FLAG only = legacy / pre-4.9.5 style, zlib level 5 via UtilAll.compress)
        String bodyB = repeat("Compressed golden body. ", 16);
        byte[] rawB = bodyB.getBytes(StandardCharsets.UTF_8);
        byte[] zB = UtilAll.compress(rawB, 5);
        Describe.check(Arrays.equals(zB, CompressorFactory.getCompressor(CompressionType.ZLIB).compress(rawB, 5)), "UtilAll.compress == ZlibCompressor.compress");
        Map<String, String> pb = new HashMap<>();
        pb.put(MessageConst.PROPERTY_TAGS, "TagB");
        pb.put(MessageConst.PROPERTY_UNIQ_CLIENT_MESSAGE_ID_KEYIDX, "7F000001000A18B4AAC20000000000B2");
        pb.put(MessageConst.PROPERTY_CLUSTER, "DefaultCluster");
        long offB = COMMIT_LOG_OFFSET + ea.length + 1000; // other queues' messages sit in between in the commit log
        MessageExt b = storedMessage(topic, 2, 8, 8L, offB, MessageSysFlag.COMPRESSED_FLAG,
            BORN_TS + 1000, v4(10, 0, 0, 7, 40001), BORN_TS + 1012, storeHost, 1, 123456789L, zB, pb);
        byte[] eb = MessageDecoder.encode(b, false);

        // (c) IPv6 born host (BORNHOST_V6_FLAG), IPv4 store host
        Map<String, String> pc = new HashMap<>();
        pc.put(MessageConst.PROPERTY_TAGS, "TagA");
        pc.put(MessageConst.PROPERTY_UNIQ_CLIENT_MESSAGE_ID_KEYIDX, "7F000001000A18B4AAC20000000000C3");
        pc.put(MessageConst.PROPERTY_CLUSTER, "DefaultCluster");
        String bodyC = "IPv6 born host";
        long offC = 4294967296L + 42L; // > 2^32, exercises the full i64
        MessageExt c = storedMessage(topic, 2, 1, 9L, offC, MessageSysFlag.BORNHOST_V6_FLAG,
            BORN_TS + 2000, v6("2001:db8:85a3::8a2e:370:7334", 5555), BORN_TS + 2031, storeHost, 3, 987654321012L,
            bodyC.getBytes(StandardCharsets.UTF_8), pc);
        byte[] ec = MessageDecoder.encode(c, false);

        byte[] all = concat(Arrays.asList(ea, eb, ec));
        write("pull_response_body.bin", all);
        List<Map<String, Object>> inputs = Arrays.asList(
            input(a, bodyA, "stored as is"),
            input(b, bodyB, "stored body = UtilAll.compress(utf8(uncompressed_body_utf8), 5) (zlib stream, 78 5e header); the client inflates it because of COMPRESSED_FLAG"),
            input(c, bodyC, "stored as is"));
        writeExpected("pull_response_body.bin", Describe.storedMessages("pull_response_body.bin", all,
            "concat(MessageDecoder.encode(msgA, false), MessageDecoder.encode(msgB, false), MessageDecoder.encode(msgC, false)) with MessageExt fields set explicitly (see each message's input)",
            inputs,
            notes("MessageDecoder.encode(MessageExt, needCompress) writes the same 17-field layout CommitLog.MessageExtEncoder.encode + DefaultAppendMessageCallback.doAppend store (and PullMessageProcessor copies those stored bytes verbatim into the pull response body)",
                "differences between the two encoders: (1) encode() writes messageProperties2String(getProperties()) (HashMap order) while the commit log writes msgInner.getPropertiesString() built by the broker (WAIT removed, CLUSTER added); (2) encode(msg, true) compresses the body itself when COMPRESSED_FLAG is set, the broker stores the client-compressed body as received (these fixtures pass needCompress=false and a pre-compressed body); (3) encode() trusts getBodyCRC() and getStoreSize() (if >0 it sizes the buffer from it), the broker computes bodyCRC=UtilAll.crc32(body) and the length itself; (4) the commit log fills queueOffset/commitLogOffset/storeTimestamp at append time; (5) encode() writes bodyLength from body.length and would NPE on a null body, the commit log writes 0; (6) encode() does no properties/topic length checks (casts to short / byte)",
                "bodyCRC = UtilAll.crc32 = CRC32 & 0x7FFFFFFF (top bit cleared) of the STORED (possibly compressed) body",
                "topic length is ONE byte; properties length is a signed i16; magic code 0xdaa320a7 = -626843481 (MESSAGE_MAGIC_CODE, v1 format)",
                "offsetMsgId is what MessageDecoder.decode computes from storeHost + commitLogOffset; a client's MessageExt.getMsgId() returns UNIQ_KEY instead when that property exists",
                "message (c): sysFlag BORNHOST_V6_FLAG -> bornHost is 16 ip bytes + 4 port bytes; storeHost stays 4+4 because STOREHOSTADDRESS_V6_FLAG is not set",
                "properties_map_sorted is what MessageDecoder.decode produced (a HashMap; shown sorted); properties_in_string_order is the raw order in the bytes")));

        // extra: 4.9.7-producer compression flags, both hosts IPv6, empty properties
        String bodyD = repeat("zlib typed body ", 12);
        byte[] rawD = bodyD.getBytes(StandardCharsets.UTF_8);
        int sysD = MessageSysFlag.COMPRESSED_FLAG | CompressionType.ZLIB.getCompressionFlag();
        byte[] zD = CompressorFactory.getCompressor(MessageSysFlag.getCompressionType(sysD)).compress(rawD, 5);
        Map<String, String> pd = new HashMap<>();
        pd.put(MessageConst.PROPERTY_TAGS, "TagD");
        pd.put(MessageConst.PROPERTY_UNIQ_CLIENT_MESSAGE_ID_KEYIDX, "7F000001000A18B4AAC20000000000D4");
        pd.put(MessageConst.PROPERTY_CLUSTER, "DefaultCluster");
        MessageExt d = storedMessage(topic, 3, 0, 100L, 777777L, sysD,
            BORN_TS + 3000, v4(192, 0, 2, 10, 40002), BORN_TS + 3003, storeHost, 0, 0L, zD, pd);
        byte[] ed = MessageDecoder.encode(d, false);
        int sysE = MessageSysFlag.BORNHOST_V6_FLAG | MessageSysFlag.STOREHOSTADDRESS_V6_FLAG;
        String bodyE = "both hosts IPv6, no properties";
        MessageExt e = storedMessage(topic, 3, 0, 101L, 888888L, sysE,
            BORN_TS + 4000, v6("::1", 5555), BORN_TS + 4004, v6("fe80::1:2:3:4", 10911), 0, 0L,
            bodyE.getBytes(StandardCharsets.UTF_8), null);
        byte[] ee = MessageDecoder.encode(e, false);
        byte[] extra = concat(Arrays.asList(ed, ee));
        write("pull_response_body_extra.bin", extra);
        writeExpected("pull_response_body_extra.bin", Describe.storedMessages("pull_response_body_extra.bin", extra,
            "concat(MessageDecoder.encode(msgD, false), MessageDecoder.encode(msgE, false))",
            Arrays.asList(
                input(d, bodyD, "sysFlag = COMPRESSED_FLAG | COMPRESSION_ZLIB_TYPE (0x301): what a 4.9.7 DefaultMQProducerImpl sets (sysFlag |= compressType.getCompressionFlag()); body = ZlibCompressor.compress(raw, 5)"),
                input(e, bodyE, "no properties at all: propertiesLength = 0")),
            notes("compression type lives in sysFlag bits 8..10 (1=LZ4, 2=ZSTD, 3=ZLIB); 0 with COMPRESSED_FLAG means ZLIB (older clients)",
                "message E: BORNHOST_V6_FLAG|STOREHOSTADDRESS_V6_FLAG (0x30): both hosts are 16+4 bytes and the offset msgId is 28 bytes = 56 hex chars")));
    }

    // ---- heartbeat ---------------------------------------------------------------------

    static HeartbeatData heartbeatData() throws Exception {
        HeartbeatData hb = new HeartbeatData();
        hb.setClientID("127.0.0.1@golden");
        ProducerData pd = new ProducerData();
        pd.setGroupName("PG_golden");
        hb.getProducerDataSet().add(pd);
        ConsumerData cd = new ConsumerData();
        cd.setGroupName("CG_golden");
        cd.setConsumeType(ConsumeType.CONSUME_PASSIVELY);
        cd.setMessageModel(MessageModel.CLUSTERING);
        cd.setConsumeFromWhere(ConsumeFromWhere.CONSUME_FROM_FIRST_OFFSET);
        cd.setUnitMode(false);
        SubscriptionData s1 = FilterAPI.buildSubscriptionData("TopicGolden", "TagA || TagB");
        s1.setSubVersion(1700000000001L);
        SubscriptionData s2 = FilterAPI.buildSubscriptionData(MixAll.getRetryTopic("CG_golden"), SubscriptionData.SUB_ALL);
        s2.setSubVersion(1700000000002L);
        cd.getSubscriptionDataSet().add(s1);
        cd.getSubscriptionDataSet().add(s2);
        hb.getConsumerDataSet().add(cd);
        return hb;
    }

    static void heartbeat() throws Exception {
        byte[] body = heartbeatData().encode();
        write("heartbeat_body.json", body);
        writeExpected("heartbeat_body.json", Describe.jsonBody("heartbeat_body.json", body,
            "HeartbeatData.encode() (RemotingSerializable -> fastjson JSON.toJSONString(obj, false))",
            notes("clientID=127.0.0.1@golden; producer PG_golden; consumer CG_golden CONSUME_PASSIVELY/CLUSTERING/CONSUME_FROM_FIRST_OFFSET; subscriptions FilterAPI.buildSubscriptionData(\"TopicGolden\", \"TagA || TagB\") (subVersion fixed 1700000000001) and (\"%RETRY%CG_golden\", \"*\") (subVersion fixed 1700000000002)",
                "fastjson sorts bean properties alphabetically; enums are written by name; sets are JSON arrays in HashSet iteration order",
                "codeSet holds String.hashCode() of each tag (TagA, TagB)",
                "SubscriptionData.filterClassSource is @JSONField(serialize=false) and never appears; classFilterMode=false, expressionType=TAG are written")));

        RemotingCommand cmd = RemotingCommand.createRequestCommand(RequestCode.HEART_BEAT, null);
        cmd.setBody(body);
        cmd.setOpaque(OPAQUE_HEARTBEAT);
        cmd.setSerializeTypeCurrentRPC(SerializeType.JSON);
        byte[] frame = encode(cmd);
        write("heartbeat_request.bin", frame);
        writeExpected("heartbeat_request.bin", Describe.frame("heartbeat_request.bin", frame,
            "RemotingCommand.createRequestCommand(RequestCode.HEART_BEAT /*34*/, null); setBody(heartbeat_body.json); setOpaque(3001); JSON; encode()",
            "HEART_BEAT request", null,
            notes("no custom header -> extFields stays null and fastjson omits the key entirely (compare register_broker_response.bin, where an all-null header gives \"extFields\":{})")));
    }

    // ---- topic route -------------------------------------------------------------------

    static TopicRouteData topicRouteData() {
        QueueData qd = new QueueData();
        qd.setBrokerName("broker-a");
        qd.setReadQueueNums(4);
        qd.setWriteQueueNums(4);
        qd.setPerm(PermName.PERM_READ | PermName.PERM_WRITE);
        qd.setTopicSysFlag(0);
        HashMap<Long, String> addrs = new HashMap<>();
        addrs.put(0L, BROKER_ADDR);
        addrs.put(1L, "127.0.0.1:10921");
        BrokerData bd = new BrokerData("DefaultCluster", "broker-a", addrs);
        TopicRouteData trd = new TopicRouteData();
        trd.setQueueDatas(new ArrayList<>(Collections.singletonList(qd)));
        trd.setBrokerDatas(new ArrayList<>(Collections.singletonList(bd)));
        trd.setFilterServerTable(new HashMap<String, List<String>>());
        return trd;
    }

    static byte[] standardRouteJson(TopicRouteData trd) {
        // DefaultRequestProcessor.getRouteInfoByTopic (4.9.7) when request.getVersion() >= V4_9_4 or acceptStandardJsonOnly
        return trd.encode(SerializerFeature.BrowserCompatible, SerializerFeature.QuoteFieldNames,
            SerializerFeature.SkipTransientField, SerializerFeature.MapSortField);
    }

    static void topicRoute() throws Exception {
        byte[] legacy = topicRouteData().encode();
        write("topic_route_body.json", legacy);
        String legacyText = new String(legacy, StandardCharsets.UTF_8);
        boolean unquoted = legacyText.contains("{0:") || legacyText.contains(",1:");
        writeExpected("topic_route_body.json", Describe.jsonBody("topic_route_body.json", legacy,
            "TopicRouteData.encode() (plain RemotingSerializable / fastjson defaults)",
            notes("brokerAddrs is HashMap<Long,String>: fastjson writes the Long keys " + (unquoted ? "UNQUOTED (e.g. {0:\"127.0.0.1:10911\",1:...}), which is not standard JSON" : "quoted"),
                "a 4.9.7 namesrv sends THIS form only to clients whose request version < V4_9_4 and that did not set acceptStandardJsonOnly; see topic_route_body_standard.json for what a 4.9.7 client receives",
                "orderTopicConf is null and therefore omitted; filterServerTable is an empty object")));

        byte[] std = standardRouteJson(topicRouteData());
        write("topic_route_body_standard.json", std);
        writeExpected("topic_route_body_standard.json", Describe.jsonBody("topic_route_body_standard.json", std,
            "TopicRouteData.encode(SerializerFeature.BrowserCompatible, QuoteFieldNames, SkipTransientField, MapSortField)",
            notes("DefaultRequestProcessor.getRouteInfoByTopic (4.9.7): used when request.getVersion() >= Version.V4_9_4.ordinal() or header acceptStandardJsonOnly=true, i.e. for every 4.9.7 client",
                "map keys are quoted strings here; BrowserCompatible would also \\u-escape non-ASCII and write longs beyond 2^53 as strings")));

        GetRouteInfoRequestHeader rh = new GetRouteInfoRequestHeader();
        rh.setTopic("TopicGolden");
        RemotingCommand req = RemotingCommand.createRequestCommand(RequestCode.GET_ROUTEINFO_BY_TOPIC, rh);
        req.setOpaque(OPAQUE_ROUTE);
        req.setSerializeTypeCurrentRPC(SerializeType.JSON);
        byte[] reqFrame = encode(req);
        write("get_route_request.bin", reqFrame);
        writeExpected("get_route_request.bin", Describe.frame("get_route_request.bin", reqFrame,
            "RemotingCommand.createRequestCommand(RequestCode.GET_ROUTEINFO_BY_TOPIC /*105*/, GetRouteInfoRequestHeader{topic=TopicGolden}); setOpaque(4001); JSON; encode()",
            "GET_ROUTEINFO_BY_TOPIC request", GetRouteInfoRequestHeader.class,
            notes("acceptStandardJsonOnly is null -> not sent; version=V4_9_7 so the namesrv answers with standard JSON anyway")));

        RemotingCommand resp = RemotingCommand.createResponseCommand(null);
        resp.setBody(std);
        resp.setCode(ResponseCode.SUCCESS);
        resp.setRemark(null);
        resp.setOpaque(OPAQUE_ROUTE);
        resp.markResponseType();
        resp.setSerializeTypeCurrentRPC(SerializeType.JSON);
        byte[] respFrame = encode(resp);
        write("get_route_response.bin", respFrame);
        writeExpected("get_route_response.bin", Describe.frame("get_route_response.bin", respFrame,
            "RemotingCommand.createResponseCommand(null); setBody(topic_route_body_standard.json); setCode(SUCCESS); setRemark(null); setOpaque(4001); markResponseType(); JSON; encode()",
            "response to GET_ROUTEINFO_BY_TOPIC (code 0 = SUCCESS)", null,
            notes("no custom header -> no extFields key", "body == topic_route_body_standard.json")));
    }

    // ---- REGISTER_BROKER ---------------------------------------------------------------

    static TopicConfigSerializeWrapper topicConfigWrapper() {
        TopicConfigSerializeWrapper w = new TopicConfigSerializeWrapper();
        // TopicConfigManager's TBW102 (autoCreateTopicEnable): defaultTopicQueueNums=8, perm = INHERIT|READ|WRITE = 7
        TopicConfig tbw = new TopicConfig("TBW102", 8, 8, PermName.PERM_INHERIT | PermName.PERM_READ | PermName.PERM_WRITE);
        TopicConfig golden = new TopicConfig("TopicGolden", 4, 4, PermName.PERM_READ | PermName.PERM_WRITE);
        w.getTopicConfigTable().put(tbw.getTopicName(), tbw);
        w.getTopicConfigTable().put(golden.getTopicName(), golden);
        DataVersion dv = new DataVersion();
        dv.setTimestamp(1700000000000L);
        dv.setCounter(new AtomicLong(3));
        w.setDataVersion(dv);
        return w;
    }

    /** Mirrors BrokerOuterAPI.registerBrokerAll + registerBroker (4.9.7). */
    static RemotingCommand registerRequest(boolean compressed, int opaque) {
        RegisterBrokerRequestHeader h = new RegisterBrokerRequestHeader();
        h.setBrokerAddr(BROKER_ADDR);
        h.setBrokerId(0L);
        h.setBrokerName("broker-a");
        h.setClusterName("DefaultCluster");
        h.setHaServerAddr(HA_ADDR);
        h.setCompressed(compressed);
        RegisterBrokerBody body = new RegisterBrokerBody();
        body.setTopicConfigSerializeWrapper(topicConfigWrapper());
        body.setFilterServerList(new ArrayList<String>()); // BrokerController passes Lists.newArrayList()
        byte[] bytes = body.encode(compressed);
        h.setBodyCrc32(UtilAll.crc32(bytes));
        RemotingCommand cmd = RemotingCommand.createRequestCommand(RequestCode.REGISTER_BROKER, h);
        cmd.setBody(bytes);
        cmd.setOpaque(opaque);
        cmd.setSerializeTypeCurrentRPC(SerializeType.JSON);
        return cmd;
    }

    static void registerBroker() throws Exception {
        String call = "BrokerOuterAPI.registerBrokerAll logic: RegisterBrokerRequestHeader{brokerAddr=127.0.0.1:10911, brokerId=0, brokerName=broker-a, clusterName=DefaultCluster, haServerAddr=127.0.0.1:10912, compressed=%s}; "
            + "body=RegisterBrokerBody{topicConfigSerializeWrapper{TBW102(8/8 perm 7), TopicGolden(4/4 perm 6), dataVersion{timestamp=1700000000000, counter=3}}, filterServerList=[]}.encode(%s); "
            + "bodyCrc32=UtilAll.crc32(body); RemotingCommand.createRequestCommand(RequestCode.REGISTER_BROKER /*103*/, header); setBody(body); setOpaque(%d); JSON; encode()";
        byte[] plain = encode(registerRequest(false, OPAQUE_REGISTER));
        write("register_broker_request.bin", plain);
        writeExpected("register_broker_request.bin", Describe.frame("register_broker_request.bin", plain,
            String.format(call, "false", "false", OPAQUE_REGISTER), "REGISTER_BROKER request", RegisterBrokerRequestHeader.class,
            notes("compressed=false is BrokerConfig.compressedRegister's default: the body is plain JSON (RemotingSerializable.encode())",
                "bodyCrc32 = UtilAll.crc32(body) = CRC32 & 0x7FFFFFFF; the namesrv checks it only when it is != 0",
                "brokerId is a Long, sent as the string \"0\"; compressed is sent as \"false\"",
                "DataVersion.counter is an AtomicLong, fastjson writes it as a plain number")));

        byte[] comp = encode(registerRequest(true, OPAQUE_REGISTER_COMPRESSED));
        write("register_broker_request_compressed.bin", comp);
        Map<String, Object> dc = Describe.frame("register_broker_request_compressed.bin", comp,
            String.format(call, "true", "true", OPAQUE_REGISTER_COMPRESSED), "REGISTER_BROKER request (compressedRegister=true)", RegisterBrokerRequestHeader.class,
            notes("RegisterBrokerBody.encode(true): a zlib stream (Deflater BEST_COMPRESSION) of: i32 len + DataVersion JSON, i32 topicCount, {i32 len + TopicConfig.encode() text}*, i32 len + filterServerList JSON",
                "TopicConfig.encode() is the space-separated form 'topicName readQueueNums writeQueueNums perm topicFilterType' (not JSON; topicSysFlag and order are NOT carried in the compressed form)",
                "integers in the compressed stream are big-endian i32; the entry order follows a ConcurrentHashMap clone of the topic table",
                "deflate output can in principle differ between zlib builds; compare the inflated content, not the compressed bytes, if this ever mismatches"));
        RegisterBrokerBody inflated = RegisterBrokerBody.decode(RemotingCommand.decode(Arrays.copyOfRange(comp, 4, comp.length)).getBody(), true);
        Map<String, Object> inf = new LinkedHashMap<>();
        inf.put("dataVersion_json", inflated.getTopicConfigSerializeWrapper().getDataVersion().toJson());
        List<String> tcs = new ArrayList<>();
        for (TopicConfig tc : inflated.getTopicConfigSerializeWrapper().getTopicConfigTable().values()) {
            tcs.add(tc.encode());
        }
        Collections.sort(tcs);
        inf.put("topic_configs_encode_sorted", tcs);
        inf.put("filterServerList", inflated.getFilterServerList());
        inf.put("inflated_stream_hex", Describe.hex(inflate(RemotingCommand.decode(Arrays.copyOfRange(comp, 4, comp.length)).getBody())));
        dc.put("body_decoded_with_RegisterBrokerBody.decode(body, true)", inf);
        writeExpected("register_broker_request_compressed.bin", dc);

        // namesrv's answer to a master (brokerId 0): RouteInfoManager returns null haServerAddr/masterAddr,
        // and with no ORDER_TOPIC_CONFIG KV entries getKVListByNamespace returns null -> no body
        RemotingCommand r = RemotingCommand.createResponseCommand(RegisterBrokerResponseHeader.class);
        RegisterBrokerResponseHeader rh = (RegisterBrokerResponseHeader) r.readCustomHeader();
        rh.setHaServerAddr(null);
        rh.setMasterAddr(null);
        r.setBody(null);
        r.setCode(ResponseCode.SUCCESS);
        r.setRemark(null);
        r.setOpaque(OPAQUE_REGISTER);
        r.markResponseType();
        r.setSerializeTypeCurrentRPC(SerializeType.JSON);
        byte[] resp = encode(r);
        write("register_broker_response.bin", resp);
        writeExpected("register_broker_response.bin", Describe.frame("register_broker_response.bin", resp,
            "DefaultRequestProcessor.registerBrokerWithFilterServer logic: createResponseCommand(RegisterBrokerResponseHeader.class); header haServerAddr=null masterAddr=null (master registration); body=getKVListByNamespace(ORDER_TOPIC_CONFIG)=null; setCode(SUCCESS); setRemark(null); setOpaque(2001); markResponseType(); JSON; encode()",
            "response to REGISTER_BROKER (code 0 = SUCCESS), master broker", RegisterBrokerResponseHeader.class,
            notes("a custom header whose fields are all null still makes makeCustomHeaderToNet() create an empty extFields map, so the JSON has \"extFields\":{}")));

        RemotingCommand r2 = RemotingCommand.createResponseCommand(RegisterBrokerResponseHeader.class);
        RegisterBrokerResponseHeader rh2 = (RegisterBrokerResponseHeader) r2.readCustomHeader();
        rh2.setHaServerAddr(HA_ADDR);
        rh2.setMasterAddr(BROKER_ADDR);
        KVTable kv = new KVTable();
        kv.getTable().put("TopicGolden", "broker-a:4");
        r2.setBody(kv.encode());
        r2.setCode(ResponseCode.SUCCESS);
        r2.setRemark(null);
        r2.setOpaque(OPAQUE_REGISTER + 10);
        r2.markResponseType();
        r2.setSerializeTypeCurrentRPC(SerializeType.JSON);
        byte[] resp2 = encode(r2);
        write("register_broker_response_slave.bin", resp2);
        writeExpected("register_broker_response_slave.bin", Describe.frame("register_broker_response_slave.bin", resp2,
            "as register_broker_response.bin but for a slave registration: haServerAddr=127.0.0.1:10912 masterAddr=127.0.0.1:10911, body=KVTable{table={TopicGolden=broker-a:4}}.encode() (an ORDER_TOPIC_CONFIG entry), opaque 2011",
            "response to REGISTER_BROKER (code 0 = SUCCESS), slave broker, with order-topic KV body", RegisterBrokerResponseHeader.class,
            notes("the KV body is what KVConfigManager.getKVListByNamespace(\"ORDER_TOPIC_CONFIG\") returns when entries exist")));
    }

    static byte[] inflate(byte[] z) throws IOException {
        java.util.zip.InflaterInputStream in = new java.util.zip.InflaterInputStream(new java.io.ByteArrayInputStream(z));
        java.io.ByteArrayOutputStream out = new java.io.ByteArrayOutputStream();
        byte[] buf = new byte[4096];
        int n;
        while ((n = in.read(buf)) > 0) {
            out.write(buf, 0, n);
        }
        return out.toByteArray();
    }
}
