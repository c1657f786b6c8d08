package io.ferromq.interop;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.TreeSet;
import java.util.concurrent.ThreadLocalRandom;
import org.apache.rocketmq.client.producer.DefaultMQProducer;
import org.apache.rocketmq.client.producer.SendResult;
import org.apache.rocketmq.client.producer.SendStatus;
import org.apache.rocketmq.common.message.Message;
import org.apache.rocketmq.common.protocol.RequestCode;
import org.apache.rocketmq.common.protocol.ResponseCode;
import org.apache.rocketmq.remoting.netty.NettyClientConfig;
import org.apache.rocketmq.remoting.netty.NettyRemotingClient;
import org.apache.rocketmq.remoting.protocol.RemotingCommand;
import org.junit.jupiter.api.Test;

/**
 * An Apache RocketMQ 4.9.7 master replicating to a ferromq slave over Java's own HA protocol:
 * the slave's commit log becomes byte-identical to the master's, its consume queues serve the
 * messages, its metadata sync brings the topic, and it refuses sends as a Java slave does.
 */
class ReplicationTest {

    @Test
    void apacheMasterReplicatesToAFerromqSlave() throws Exception {
        try (Cluster c = new Cluster("apacheMasterReplicatesToAFerromqSlave")) {
            c.startApacheMaster("ASYNC_MASTER");
            c.startFerromqSlave();
            replicateAndPullFromSlave(c, "interop-rep-", "the slave", (raw, topic) -> {
                // A send to the slave is refused as Java's slave refuses it.
                Message m = new Message(topic, "x".getBytes(StandardCharsets.UTF_8));
                RemotingCommand send = RemotingCommand.createRequestCommand(RequestCode.SEND_MESSAGE_V2,
                    org.apache.rocketmq.common.protocol.header.SendMessageRequestHeaderV2.createSendMessageRequestHeaderV2(
                        sendHeader(topic)));
                send.setBody(m.getBody());
                RemotingCommand refused = raw.invokeSync(c.slaveAddr(), send, 5000);
                assertEquals(ResponseCode.SERVICE_NOT_AVAILABLE, refused.getCode());
                assertTrue(refused.getRemark().contains("messages are put to the slave"), refused.getRemark());
            });
        }
    }

    /**
     * A ferromq master replicating to an Apache RocketMQ 4.9.7 slave: Java's HAClient follows
     * ferromq's HA stream, Java's SlaveSynchronize reads ferromq's GET_ALL_* answers, and Java's
     * name server role is played by ferromq's (masterAddr/haServerAddr in the result).
     */
    @Test
    void ferromqMasterReplicatesToAnApacheSlave() throws Exception {
        try (Cluster c = new Cluster("ferromqMasterReplicatesToAnApacheSlave")) {
            c.startFerromqMaster("ASYNC_MASTER");
            c.startApacheSlave();
            replicateAndPullFromSlave(c, "interop-rep2-", "the Java slave", (raw, topic) -> { });
        }
    }

    /** A check against the slave, once it has every message. */
    private interface SlaveCheck {
        void run(NettyRemotingClient raw, String topic) throws Exception;
    }

    /**
     * Sends 200 messages to the master; then the two commit logs are byte-identical, the slave
     * has the topic, and a pull from the slave returns every message sent, once.
     */
    private static void replicateAndPullFromSlave(Cluster c, String instancePrefix, String slaveName,
                                                  SlaveCheck andThen) throws Exception {
        String topic = "Rep_" + Long.toString(ThreadLocalRandom.current().nextLong(1L << 40), 36);
        DefaultMQProducer producer = new DefaultMQProducer("RepPG");
        producer.setNamesrvAddr(c.namesrvAddr());
        producer.setInstanceName(instancePrefix + ProcessHandle.current().pid());
        useCreateTopicKey(producer);
        producer.start();
        NettyRemotingClient raw = new NettyRemotingClient(new NettyClientConfig());
        raw.start();
        try {
            List<String> sent = sendSome(producer, topic);
            awaitIdenticalLogs(c);
            awaitTopic(raw, c.slaveAddr(), topic);
            List<String> pulled = pullAll(raw, c.slaveAddr(), topic);
            assertEquals(new TreeSet<>(sent), new TreeSet<>(pulled), "every message pulled from " + slaveName + ", once");
            assertEquals(sent.size(), pulled.size());
            andThen.run(raw, topic);
        } finally {
            producer.shutdown();
            raw.shutdown();
        }
    }

    /** An Apache SYNC_MASTER acknowledges sends once the ferromq slave has acked their bytes. */
    @Test
    void apacheSyncMasterIsSatisfiedByAFerromqSlave() throws Exception {
        try (Cluster c = new Cluster("apacheSyncMasterIsSatisfiedByAFerromqSlave")) {
            c.startApacheMaster("SYNC_MASTER");
            c.startFerromqSlave();
            syncSends(c);
        }
    }

    /** A ferromq SYNC_MASTER acknowledges sends once the Apache slave has acked their bytes. */
    @Test
    void ferromqSyncMasterIsSatisfiedByAnApacheSlave() throws Exception {
        try (Cluster c = new Cluster("ferromqSyncMasterIsSatisfiedByAnApacheSlave")) {
            c.startFerromqMaster("SYNC_MASTER");
            c.startApacheSlave();
            syncSends(c);
        }
    }

    /** Once a send is SEND_OK (the slave follows), twenty more are SEND_OK too. */
    private static void syncSends(Cluster c) throws Exception {
        DefaultMQProducer producer = new DefaultMQProducer("RepSyncPG");
        producer.setNamesrvAddr(c.namesrvAddr());
        producer.setInstanceName("interop-sync-" + ProcessHandle.current().pid() + "-" + System.nanoTime());
        useCreateTopicKey(producer);
        producer.start();
        try {
            String topic = "RepSync_" + Long.toString(ThreadLocalRandom.current().nextLong(1L << 40), 36);
            Await.until("a send the slave acknowledges", Duration.ofSeconds(60), () -> {
                try {
                    return producer.send(new Message(topic, "probe".getBytes(StandardCharsets.UTF_8))).getSendStatus()
                        == SendStatus.SEND_OK;
                } catch (Exception e) {
                    return false;
                }
            });
            for (int i = 0; i < 20; i++) {
                SendResult r = producer.send(new Message(topic, ("sync " + i).getBytes(StandardCharsets.UTF_8)));
                assertEquals(SendStatus.SEND_OK, r.getSendStatus());
            }
        } finally {
            producer.shutdown();
        }
    }

    /**
     * Client 4.3.0 asks for auto-created topics under "AUTO_CREATE_TOPIC_KEY", which brokers
     * since 4.3.1 (Apache 4.9.7 included) do not have; users of 4.3.0 set TBW102, as
     * {@link FerroMQ#startProducer()} does.
     */
    private static void useCreateTopicKey(DefaultMQProducer producer) {
        String key = System.getProperty("interop.createTopicKey", "TBW102");
        if (!key.isEmpty()) {
            producer.setCreateTopicKey(key);
        }
    }

    private static List<String> sendSome(DefaultMQProducer producer, String topic) throws Exception {
        List<String> sent = new ArrayList<>();
        for (int i = 0; i < 200; i++) {
            String body = "m" + i + "-" + "x".repeat((i * 997) % 40_000);
            SendResult r = producer.send(new Message(topic, "TagA", body.getBytes(StandardCharsets.UTF_8)));
            assertEquals(SendStatus.SEND_OK, r.getSendStatus());
            sent.add(body);
        }
        return sent;
    }

    private static void awaitIdenticalLogs(Cluster c) {
        Path first = c.masterCommitLog().resolve("00000000000000000000");
        Path mine = c.slaveCommitLog().resolve("00000000000000000000");
        Await.until("the slave's commit log to equal the master's", Duration.ofSeconds(60), () -> {
            try {
                return Files.exists(mine) && Arrays.equals(Files.readAllBytes(first), Files.readAllBytes(mine));
            } catch (Exception e) {
                return false;
            }
        });
    }

    /** Waits for the slave's metadata sync to bring the topic. */
    private static void awaitTopic(NettyRemotingClient raw, String addr, String topic) {
        Await.until("the slave to sync the topic from the master", Duration.ofSeconds(30),
            () -> RawBroker.knowsTopic(raw, addr, topic));
    }

    /**
     * Every message of the topic's four queues, pulled from offset 0; each queue's messages must
     * come at offsets 0, 1, 2, ... with none skipped or repeated.
     */
    private static List<String> pullAll(NettyRemotingClient raw, String addr, String topic) throws Exception {
        List<String> pulled = new ArrayList<>();
        long[] expected = new long[4];
        RawBroker.pullAll(raw, addr, "RepCG", topic, 4, (m, q) -> {
            assertEquals(expected[q]++, m.getQueueOffset());
            pulled.add(Inbox.body(m));
        });
        return pulled;
    }

    private static org.apache.rocketmq.common.protocol.header.SendMessageRequestHeader sendHeader(String topic) {
        org.apache.rocketmq.common.protocol.header.SendMessageRequestHeader h =
            new org.apache.rocketmq.common.protocol.header.SendMessageRequestHeader();
        h.setProducerGroup("RepPG");
        h.setTopic(topic);
        h.setDefaultTopic("TBW102");
        h.setDefaultTopicQueueNums(4);
        h.setQueueId(0);
        h.setSysFlag(0);
        h.setBornTimestamp(System.currentTimeMillis());
        h.setFlag(0);
        h.setProperties("");
        h.setReconsumeTimes(0);
        h.setUnitMode(false);
        h.setBatch(false);
        return h;
    }
}
