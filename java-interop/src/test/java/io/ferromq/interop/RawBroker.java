package io.ferromq.interop;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.function.ObjIntConsumer;
import org.apache.rocketmq.common.message.MessageDecoder;
import org.apache.rocketmq.common.message.MessageExt;
import org.apache.rocketmq.common.protocol.RequestCode;
import org.apache.rocketmq.common.protocol.ResponseCode;
import org.apache.rocketmq.common.protocol.header.PullMessageRequestHeader;
import org.apache.rocketmq.common.sysflag.PullSysFlag;
import org.apache.rocketmq.remoting.netty.NettyRemotingClient;
import org.apache.rocketmq.remoting.protocol.RemotingCommand;

/**
 * Requests sent with a bare remoting client straight to one broker address. The replication and
 * failover tests must read what one particular broker holds, most often a slave, which the Java
 * client's routing would only read from while its master is down.
 */
final class RawBroker {
    private RawBroker() {
    }

    /**
     * Whether the broker's topic config lists {@code topic}. A slave serves a topic only once its
     * metadata sync (every 10 s, as with Java's slaves) has brought it from the master, so the
     * tests wait for this before they read from or fail over to a slave.
     */
    static boolean knowsTopic(NettyRemotingClient raw, String addr, String topic) {
        try {
            RemotingCommand r = raw.invokeSync(addr,
                RemotingCommand.createRequestCommand(RequestCode.GET_ALL_TOPIC_CONFIG, null), 3000);
            return r.getCode() == ResponseCode.SUCCESS
                && new String(r.getBody(), StandardCharsets.UTF_8).contains("\"" + topic + "\"");
        } catch (Exception e) {
            return false;
        }
    }

    /**
     * Pulls queues 0 to {@code queues - 1} of {@code topic} on {@code addr} from offset 0 to the
     * first answer that is not SUCCESS (the end of the queue), handing {@code sink} each message
     * with the queue it was pulled from, in order. Nothing is committed, so repeated reads start
     * from 0 again. An exception (e.g. the broker is not up yet) propagates after the sink has had
     * every message before it, so a caller that polls can still report what it saw.
     */
    static void pullAll(NettyRemotingClient raw, String addr, String group, String topic, int queues,
                        ObjIntConsumer<MessageExt> sink) throws Exception {
        for (int q = 0; q < queues; q++) {
            long offset = 0;
            while (true) {
                PullMessageRequestHeader h = new PullMessageRequestHeader();
                h.setConsumerGroup(group);
                h.setTopic(topic);
                h.setQueueId(q);
                h.setQueueOffset(offset);
                h.setMaxMsgNums(32);
                h.setSysFlag(PullSysFlag.buildSysFlag(false, false, true, false));
                h.setCommitOffset(0L);
                h.setSuspendTimeoutMillis(0L);
                h.setSubscription("*");
                h.setSubVersion(0L);
                h.setExpressionType("TAG");
                RemotingCommand r = raw.invokeSync(addr,
                    RemotingCommand.createRequestCommand(RequestCode.PULL_MESSAGE, h), 5000);
                if (r.getCode() != ResponseCode.SUCCESS) {
                    break;
                }
                for (MessageExt m : MessageDecoder.decodes(ByteBuffer.wrap(r.getBody()))) {
                    sink.accept(m, q);
                }
                long next = Long.parseLong(r.getExtFields().get("nextBeginOffset"));
                // A broker that answers SUCCESS without moving on would otherwise keep this loop
                // (and the Await polling it) busy forever instead of letting the caller report.
                if (next <= offset) {
                    break;
                }
                offset = next;
            }
        }
    }
}
