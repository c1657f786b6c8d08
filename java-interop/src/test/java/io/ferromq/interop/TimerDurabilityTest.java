package io.ferromq.interop;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import org.apache.rocketmq.client.consumer.DefaultMQPushConsumer;
import org.apache.rocketmq.client.producer.DefaultMQProducer;
import org.apache.rocketmq.client.producer.SendResult;
import org.apache.rocketmq.client.producer.SendStatus;
import org.apache.rocketmq.common.consumer.ConsumeFromWhere;
import org.apache.rocketmq.common.message.Message;
import org.apache.rocketmq.common.message.MessageExt;
import org.apache.rocketmq.remoting.netty.NettyClientConfig;
import org.apache.rocketmq.remoting.netty.NettyRemotingClient;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Timer messages (5.x properties from a 4.x client) are as durable as any other message: a
 * broker killed with SIGKILL while timers wait delivers each of them once after its restart,
 * none early, and so does its slave restarted as master after the master is lost. "Once" is
 * checked per message in the real topic (one queue offset per timer); a consumer seeing one
 * again after a kill (offsets not yet committed) is RocketMQ's at-least-once, not a second
 * delivery. ferromq-only processes (Apache 4.9.7 has no timers), in the normal suite.
 */
class TimerDurabilityTest {
    private static final Duration STEP = Duration.ofSeconds(90);
    /** Broker and test share the host's clock; a little slack for the millisecond reads. */
    private static final long CLOCK_TOLERANCE_MS = 20;

    @Test
    void timersSurviveAKillAndRestart() throws Exception {
        try (Cluster c = Cluster.ferromqOnly("TimerKill")) {
            String conf = c.brokerConf("broker-a", 0, "ASYNC_MASTER", c.masterPort, "master") + "timerPrecisionMs=100\n";
            c.startFerromqNamesrv();
            c.startFerromqBroker("master", conf);
            Run run = new Run(c, "TimerKill");
            try {
                run.sendTimers(300, 2_000, 12_000);
                run.awaitSomeDelivered(60);
                c.kill("master");
                c.startFerromqBroker("master", conf);
                run.awaitAllDeliveredOnceNeverEarly();
            } finally {
                run.close();
            }
        }
    }

    @Test
    void timersSurviveAFailoverToTheSlave() throws Exception {
        try (Cluster c = Cluster.ferromqOnly("TimerFailover")) {
            String master = c.brokerConf("broker-a", 0, "SYNC_MASTER", c.masterPort, "master") + "timerPrecisionMs=100\n";
            String slave = c.brokerConf("broker-a", 1, "SLAVE", c.slavePort, "slave")
                + "timerPrecisionMs=100\nhaSendHeartbeatInterval=1000\n";
            // The slave's store, restarted as broker-a's master (4.x has no automatic election).
            String promoted = c.brokerConf("broker-a", 0, "ASYNC_MASTER", c.slavePort, "slave") + "timerPrecisionMs=100\n";
            c.startFerromqNamesrv();
            c.startFerromqBroker("master", master);
            c.startFerromqBroker("slave", slave);
            Run run = new Run(c, "TimerFailover");
            try {
                // The promoted slave serves the topic only once its metadata sync brought it.
                Await.until("the slave to sync " + run.topic, STEP,
                    () -> RawBroker.knowsTopic(run.raw, c.slaveAddr(), run.topic));
                // SYNC_MASTER: an acknowledged timer is on the slave.
                run.sendTimers(200, 3_000, 15_000);
                run.awaitSomeDelivered(40);
                c.kill("master");
                c.kill("slave");
                c.startFerromqBroker("promoted", promoted);
                run.awaitAllDeliveredOnceNeverEarly();
            } finally {
                run.close();
            }
        }
    }

    /**
     * Issue 15's soak with the Java client: 100 000 timers spread over 10 minutes all arrive
     * once, none early. Opt-in (about 11 minutes): {@code -Dinterop.timerSoak=true}.
     */
    @Test
    @Timeout(value = 20, unit = TimeUnit.MINUTES) // beyond the suite's 150 s default
    void aHundredThousandTimersOverTenMinutesArriveOnce() throws Exception {
        Assumptions.assumeTrue(Boolean.getBoolean("interop.timerSoak"), "opt-in: -Dinterop.timerSoak=true");
        int n = Integer.getInteger("interop.timerSoak.count", 100_000);
        int spreadMs = Integer.getInteger("interop.timerSoak.spreadMs", 600_000);
        try (Cluster c = Cluster.ferromqOnly("TimerSoak")) {
            c.startFerromqNamesrv();
            c.startFerromqBroker("master", c.brokerConf("broker-a", 0, "ASYNC_MASTER", c.masterPort, "master"));
            Run run = new Run(c, "TimerSoak");
            try {
                run.sendTimers(n, 1_000, spreadMs);
                run.awaitAllDeliveredOnceNeverEarly(Duration.ofMillis(spreadMs).plus(STEP));
            } finally {
                run.close();
            }
        }
    }

    /** A producer and a push consumer on one fresh topic of the cluster, and what was sent. */
    private static final class Run implements AutoCloseable {
        final String topic;
        final DefaultMQProducer producer;
        final DefaultMQPushConsumer consumer;
        final NettyRemotingClient raw;
        final Inbox inbox = new Inbox();
        final Map<String, Long> due = new HashMap<>();

        Run(Cluster c, String name) throws Exception {
            String suffix = Long.toString(ThreadLocalRandom.current().nextLong(1L << 40), 36);
            topic = name + "_" + suffix;
            raw = new NettyRemotingClient(new NettyClientConfig());
            raw.start();
            producer = new DefaultMQProducer(name + "PG");
            producer.setNamesrvAddr(c.namesrvAddr());
            producer.setInstanceName("interop-" + name + "-p-" + suffix);
            producer.setCreateTopicKey("TBW102");
            producer.setSendMsgTimeout(10_000);
            producer.start();
            Await.until("broker-a to route TBW102", STEP, () -> Cluster.routesToMaster(producer, "TBW102"));
            producer.createTopic("TBW102", topic, 4);
            Await.until("broker-a to route " + topic, STEP, () -> Cluster.routesToMaster(producer, topic));
            consumer = new DefaultMQPushConsumer(name + "CG_" + suffix);
            consumer.setNamesrvAddr(c.namesrvAddr());
            consumer.setInstanceName("interop-" + name + "-c-" + suffix);
            consumer.setPollNameServerInterval(1000);
            consumer.setConsumeFromWhere(ConsumeFromWhere.CONSUME_FROM_FIRST_OFFSET);
            consumer.subscribe(topic, "*");
            consumer.registerMessageListener(inbox);
            consumer.start();
        }

        /** n timers with TIMER_DELAY_MS spread over [minMs, maxMs), each acknowledged SEND_OK. */
        void sendTimers(int n, int minMs, int maxMs) throws Exception {
            ThreadLocalRandom rnd = ThreadLocalRandom.current();
            for (int i = 0; i < n; i++) {
                String body = "timer-" + i;
                long delay = minMs + rnd.nextInt(maxMs - minMs);
                Message m = new Message(topic, "TagT", body.getBytes(UTF_8));
                m.putUserProperty("TIMER_DELAY_MS", Long.toString(delay));
                long before = System.currentTimeMillis();
                SendResult r = producer.send(m);
                assertEquals(SendStatus.SEND_OK, r.getSendStatus(), body + ": " + r);
                due.put(body, before + delay);
            }
        }

        void awaitSomeDelivered(int atLeast) {
            Await.until(atLeast + " timers to be delivered before the kill", STEP, () -> delivered().size() >= atLeast);
        }

        void awaitAllDeliveredOnceNeverEarly() {
            awaitAllDeliveredOnceNeverEarly(STEP);
        }

        void awaitAllDeliveredOnceNeverEarly(Duration timeout) {
            Await.until("every acknowledged timer to be delivered", timeout,
                () -> delivered().keySet().containsAll(due.keySet()), this::missing);
            Map<String, Set<String>> where = delivered();
            List<String> twice = new ArrayList<>();
            for (Map.Entry<String, Set<String>> e : where.entrySet()) {
                if (e.getValue().size() != 1) {
                    twice.add(e.getKey() + " at " + e.getValue());
                }
            }
            assertTrue(twice.isEmpty(), "timers delivered more than once into the topic: " + twice);
            assertEquals(due.keySet(), where.keySet(), "only the timers sent arrive");
            for (MessageExt m : inbox.messages()) {
                String body = Inbox.body(m);
                long target = due.get(body);
                assertTrue(m.getStoreTimestamp() >= target - CLOCK_TOLERANCE_MS,
                    body + " delivered " + (target - m.getStoreTimestamp()) + " ms early");
                assertEquals(topic, m.getTopic());
                assertEquals("TagT", m.getTags());
            }
        }

        /** body -> the (queue, queue offset) places it was received from. */
        private Map<String, Set<String>> delivered() {
            Map<String, Set<String>> m = new HashMap<>();
            for (MessageExt e : inbox.messages()) {
                m.computeIfAbsent(Inbox.body(e), k -> new HashSet<>()).add(e.getQueueId() + ":" + e.getQueueOffset());
            }
            return m;
        }

        private String missing() {
            Set<String> m = new HashSet<>(due.keySet());
            m.removeAll(delivered().keySet());
            List<String> some = new ArrayList<>(m);
            return m.size() + " not delivered yet, e.g. " + some.subList(0, Math.min(5, some.size()));
        }

        @Override
        public void close() {
            consumer.shutdown();
            producer.shutdown();
            raw.shutdown();
        }
    }
}
