package io.ferromq.interop;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.List;
import java.util.stream.Collectors;

import org.apache.rocketmq.client.consumer.DefaultMQPushConsumer;
import org.apache.rocketmq.client.exception.MQClientException;
import org.apache.rocketmq.client.producer.DefaultMQProducer;
import org.apache.rocketmq.client.producer.SendResult;
import org.apache.rocketmq.client.producer.SendStatus;
import org.apache.rocketmq.common.message.Message;
import org.apache.rocketmq.client.impl.MQClientAPIImpl;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/** ferromq's bounds on what a client can make the broker hold, seen from the real client. */
@ExtendWith(FerroMQExtension.class)
class LimitsTest {

    static final Duration RECEIVE_TIMEOUT = Duration.ofSeconds(45);

    /**
     * A topic with 0, -1 or 100 000 queues is refused (maxQueueNumsPerTopic, default 1024):
     * zero queues would swallow sends, huge counts fill the disk. Apache 4.9.7 accepts them all.
     * A sane count still works end to end.
     */
    @Test
    void topicsWithoutQueuesOrWithTooManyAreRefused(FerroMQ mq) throws Exception {
        Assumptions.assumeTrue(mq.target() == FerroMQ.Target.FERROMQ,
            "ferromq-specific: Apache 4.9.7 creates topics with any queue count");
        DefaultMQProducer producer = mq.startProducer();
        for (int queues : new int[] {0, -1, 100_000}) {
            String topic = mq.uniqueName("Queues" + Math.abs(queues));
            MQClientException e = assertThrows(MQClientException.class,
                () -> producer.createTopic("TBW102", topic, queues), "createTopic with " + queues + " queues");
            assertTrue(causes(e).contains("maxQueueNumsPerTopic"), "the broker's remark names the bound: " + causes(e));
        }
        String topic = mq.uniqueName("Queues8");
        producer.createTopic("TBW102", topic, 8);
        SendResult r = producer.send(new Message(topic, "TagA", "k", "eight".getBytes(UTF_8)));
        assertEquals(SendStatus.SEND_OK, r.getSendStatus(), "send to the 8-queue topic: " + r);
    }

    /**
     * The name server's key/values are bounded (namesrvMaxKvConfigs; standalone mode reads it
     * from broker.conf): past it mqadmin updateKvConfig is refused with SYSTEM_ERROR and a remark
     * naming the key, while overwrites and deletes still work and free room; a client reads back
     * what was kept. Apache's name server keeps every key it is sent.
     */
    @Test
    @BrokerConfig("namesrvMaxKvConfigs=3")
    void nameServerKeyValuesAreBounded(FerroMQ mq) throws Exception {
        Assumptions.assumeTrue(mq.target() == FerroMQ.Target.FERROMQ,
            "ferromq-specific: Apache's name server has no bound on key/values");
        // Started before the mqadmin runs: client 4.3.0 closes its own fresh name server channel
        // when a call races the route update it schedules 10 ms after start (createChannel).
        MQClientAPIImpl api = MqAdminTest.client(mq.startProducer()).getMQClientAPIImpl();
        MqAdmin admin = new MqAdmin(mq);
        String ns = mq.uniqueName("LimitsNs");
        for (int i = 0; i < 3; i++) {
            admin.ok("updateKvConfig", "-s", ns, "-k", "k" + i, "-v", "v" + i);
        }
        MqAdmin.Result refused = admin.fails(1, "updateKvConfig", "-s", ns, "-k", "k3", "-v", "v3");
        assertTrue(refused.errorRemark().contains("namesrvMaxKvConfigs (3)"), "the remark names the bound: " + refused);
        admin.ok("updateKvConfig", "-s", ns, "-k", "k0", "-v", "overwritten");
        admin.ok("deleteKvConfig", "-s", ns, "-k", "k1");
        admin.ok("updateKvConfig", "-s", ns, "-k", "k3", "-v", "v3");
        assertEquals("overwritten", api.getKVConfigValue(ns, "k0", 3000));
        assertEquals("v2", api.getKVConfigValue(ns, "k2", 3000));
        assertEquals("v3", api.getKVConfigValue(ns, "k3", 3000));
    }

    private static String causes(Throwable t) {
        StringBuilder b = new StringBuilder();
        for (Throwable c = t; c != null; c = c.getCause()) {
            b.append(c).append(" <- ");
        }
        return b.toString();
    }

    /**
     * Pulls are parked at most maxPullSuspendMillis (1 s here, clients ask 15 s): a consumer
     * idle for several of those windows still gets every message sent afterwards, once.
     */
    @Test
    @BrokerConfig("maxPullSuspendMillis=1000")
    void clampedLongPollingStillDeliversEveryMessage(FerroMQ mq) throws Exception {
        String topic = mq.uniqueName("Clamped");
        DefaultMQProducer producer = mq.startProducer();
        producer.send(new Message(topic, "TagA", "first", "first".getBytes(UTF_8)));

        DefaultMQPushConsumer consumer = mq.newPushConsumer(mq.uniqueName("CG"));
        Inbox inbox = new Inbox();
        consumer.subscribe(topic, "*");
        consumer.registerMessageListener(inbox);
        consumer.start();
        inbox.awaitCount(1, RECEIVE_TIMEOUT);
        // Idle across several suspend windows, then more messages.
        Thread.sleep(3_500);
        for (int i = 0; i < 20; i++) {
            producer.send(new Message(topic, "TagA", "later-" + i, ("later-" + i).getBytes(UTF_8)));
        }
        inbox.awaitCount(21, RECEIVE_TIMEOUT);
        Consumers.awaitCaughtUp(topic, RECEIVE_TIMEOUT, consumer);
        List<String> keys = inbox.messages().stream().map(m -> m.getKeys()).sorted().collect(Collectors.toList());
        assertEquals(21, keys.size(), "each message once: " + keys);
        assertEquals(21, keys.stream().distinct().count(), "no duplicates: " + keys);
    }
}
