package io.ferromq.interop;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import org.apache.rocketmq.client.consumer.DefaultMQPushConsumer;
import org.apache.rocketmq.client.producer.DefaultMQProducer;
import org.apache.rocketmq.client.producer.SendResult;
import org.apache.rocketmq.client.producer.SendStatus;
import org.apache.rocketmq.common.consumer.ConsumeFromWhere;
import org.apache.rocketmq.common.message.Message;
import org.apache.rocketmq.common.message.MessageExt;
import org.apache.rocketmq.remoting.netty.NettyClientConfig;
import org.apache.rocketmq.remoting.netty.NettyRemotingClient;
import org.junit.jupiter.api.Test;

/**
 * Failover in a ferromq cluster, as RocketMQ 4.x fails over (no election): a name server,
 * broker-a as SYNC_MASTER with a slave, and broker-b (ASYNC_MASTER). A producer sends without
 * pause while a push consumer consumes; broker-a's master is killed with SIGKILL and restarted,
 * three times. Each time:
 * <ul>
 *   <li>every message broker-a acknowledged before the kill is on the slave (SYNC_MASTER) and
 *       the consumer receives it, reading from the slave while the master is down;</li>
 *   <li>the producer keeps succeeding through broker-b;</li>
 *   <li>after the restart, writes to broker-a resume.</li>
 * </ul>
 * At the end no acknowledged message is missing and none is delivered twice: the consumer's
 * offsets live in its memory (committed to whichever broker of the group answers), so the
 * master's return does not move them back, as with Java's brokers. Clients poll the name
 * server every second (pollNameServerInterval) so the test does not wait 30 s per route change.
 */
class FailoverTest {
    private static final int CYCLES = 3;
    private static final Duration STEP = Duration.ofSeconds(60);

    @Test
    void killingTheMasterLosesNothingAcknowledgedAndClientsFailOver() throws Exception {
        try (Cluster c = Cluster.ferromqOnly("FailoverTest")) {
            String brokerA = c.brokerConf("broker-a", 0, "SYNC_MASTER", c.masterPort, "master")
                + "mappedFileSizeCommitLog=1048576\nsyncFlushTimeout=3000\n";
            String slaveA = c.brokerConf("broker-a", 1, "SLAVE", c.slavePort, "slave")
                + "mappedFileSizeCommitLog=1048576\nhaSendHeartbeatInterval=1000\n";
            String brokerB = c.brokerConf("broker-b", 0, "ASYNC_MASTER", c.otherPort, "broker-b")
                + "mappedFileSizeCommitLog=1048576\n";
            c.startFerromqNamesrv();
            c.startFerromqBroker("master-a", brokerA);
            c.startFerromqBroker("slave-a", slaveA);
            c.startFerromqBroker("master-b", brokerB);

            String suffix = Long.toString(ThreadLocalRandom.current().nextLong(1L << 40), 36);
            String topic = "Failover_" + suffix;
            DefaultMQProducer producer = new DefaultMQProducer("FailoverPG");
            producer.setNamesrvAddr(c.namesrvAddr());
            producer.setInstanceName("interop-failover-p-" + suffix);
            producer.setPollNameServerInterval(1000);
            producer.setCreateTopicKey("TBW102");
            producer.start();
            DefaultMQPushConsumer consumer = new DefaultMQPushConsumer("FailoverCG_" + suffix);
            NettyRemotingClient raw = new NettyRemotingClient(new NettyClientConfig());
            raw.start();
            Load load = new Load(producer, topic);
            try {
                Await.until("both masters to route TBW102", STEP, () -> masters(producer, "TBW102") == 2);
                producer.createTopic("TBW102", topic, 4);
                Await.until("both groups to route " + topic, STEP, () -> masters(producer, topic) == 2);
                // As with Java's slave, a topic is served by the slave once its metadata sync
                // (every 10 s) brought it from the master: topics exist before failures.
                Await.until("the slave to sync " + topic, STEP, () -> RawBroker.knowsTopic(raw, c.slaveAddr(), topic));
                Inbox inbox = new Inbox();
                consumer.setNamesrvAddr(c.namesrvAddr());
                consumer.setInstanceName("interop-failover-c-" + suffix);
                consumer.setPollNameServerInterval(1000);
                consumer.setConsumeFromWhere(ConsumeFromWhere.CONSUME_FROM_FIRST_OFFSET);
                consumer.subscribe(topic, "*");
                consumer.registerMessageListener(inbox);
                consumer.start();
                load.start();

                for (int cycle = 1; cycle <= CYCLES; cycle++) {
                    String when = " (cycle " + cycle + ")";
                    long aBefore = load.ackedBy("broker-a");
                    Await.until("broker-a to acknowledge sends" + when, STEP, () -> load.ackedBy("broker-a") >= aBefore + 20,
                        load::state);

                    c.kill("master-a");
                    Set<String> ackedByA = load.ackedBodies("broker-a");
                    // SYNC_MASTER: every message acknowledged is on the slave.
                    Await.until("the slave to serve every message broker-a acknowledged" + when, STEP,
                        () -> pullAll(raw, c.slaveAddr(), topic).containsAll(ackedByA),
                        () -> missing(ackedByA, pullAll(raw, c.slaveAddr(), topic)));
                    // The consumer keeps going, from the slave.
                    Set<String> ackedBeforeKill = load.ackedBodies(null);
                    Await.until("the consumer to receive every message acknowledged before the kill" + when, STEP,
                        () -> bodies(inbox).containsAll(ackedBeforeKill),
                        () -> missing(ackedBeforeKill, bodies(inbox)));
                    // The producer keeps succeeding, through broker-b.
                    long bAtKill = load.ackedBy("broker-b");
                    Await.until("the producer to keep succeeding through broker-b" + when, STEP,
                        () -> load.ackedBy("broker-b") >= bAtKill + 50, load::state);

                    c.startFerromqBroker("master-a", brokerA);
                    long aAtRestart = load.ackedBy("broker-a");
                    Await.until("writes to broker-a to resume after its master restarted" + when, STEP,
                        () -> load.ackedBy("broker-a") >= aAtRestart + 20, load::state);
                }
                load.stop();
                Set<String> all = load.ackedBodies(null);
                Await.until("the consumer to receive every acknowledged message", STEP,
                    () -> bodies(inbox).containsAll(all), () -> missing(all, bodies(inbox)));
                Consumers.awaitCaughtUp(topic, STEP, consumer);
                // Counted per stored message (its store host, queue and queue offset, the same on
                // the slave's copy): a send stored on broker-a whose answer the kill cut off may be
                // retried by the producer to broker-b and stored twice, which is RocketMQ's
                // at-least-once send, not a redelivery.
                Map<String, Integer> times = new HashMap<>();
                for (MessageExt m : inbox.messages()) {
                    times.merge(Inbox.body(m) + "@" + m.getStoreHost() + "/" + m.getQueueId() + "/" + m.getQueueOffset(),
                        1, Integer::sum);
                }
                List<String> twice = new ArrayList<>();
                times.forEach((b, n) -> {
                    if (n > 1) {
                        twice.add(b + "x" + n);
                    }
                });
                assertEquals(List.of(), twice, "messages delivered more than once");
                // At most the sends in flight at each kill may have failed.
                assertTrue(load.failed.get() <= CYCLES, load.state());
            } finally {
                load.stop();
                consumer.shutdown();
                producer.shutdown();
                raw.shutdown();
            }
        }
    }

    /** Masters (brokerId 0) in the topic's route as the producer's client sees it from the name server. */
    private static int masters(DefaultMQProducer producer, String topic) {
        try {
            return (int) producer.getDefaultMQProducerImpl().getmQClientFactory().getMQClientAPIImpl()
                .getTopicRouteInfoFromNameServer(topic, 3000).getBrokerDatas().stream()
                .filter(b -> b.getBrokerAddrs().containsKey(0L)).count();
        } catch (Exception e) {
            return 0;
        }
    }

    private static Set<String> bodies(Inbox inbox) {
        Set<String> s = new HashSet<>();
        for (MessageExt m : inbox.messages()) {
            s.add(Inbox.body(m));
        }
        return s;
    }

    private static String missing(Set<String> want, Set<String> have) {
        Set<String> m = new HashSet<>(want);
        m.removeAll(have);
        List<String> some = new ArrayList<>(m);
        return m.size() + " missing, e.g. " + some.subList(0, Math.min(10, some.size()));
    }

    /** Bodies of every message of the topic's queues on {@code addr}, pulled from offset 0. */
    private static Set<String> pullAll(NettyRemotingClient raw, String addr, String topic) {
        Set<String> pulled = new HashSet<>();
        try {
            RawBroker.pullAll(raw, addr, "FailoverCheck", topic, 4, (m, q) -> pulled.add(Inbox.body(m)));
        } catch (Exception e) {
            // not reachable yet: the caller polls again
        }
        return pulled;
    }

    /** A producer thread sending without pause; what each broker acknowledged (SEND_OK). */
    private static final class Load implements Runnable {
        final DefaultMQProducer producer;
        final String topic;
        final Map<String, String> acked = new ConcurrentHashMap<>();
        final Map<String, AtomicLong> ackedCount = new ConcurrentHashMap<>();
        final AtomicInteger failed = new AtomicInteger();
        final AtomicInteger notOk = new AtomicInteger();
        final AtomicBoolean running = new AtomicBoolean(true);
        final List<String> errors = new ArrayList<>();
        Thread thread;

        Load(DefaultMQProducer producer, String topic) {
            this.producer = producer;
            this.topic = topic;
        }

        void start() {
            thread = new Thread(this, "failover-load");
            thread.setDaemon(true);
            thread.start();
        }

        void stop() throws InterruptedException {
            running.set(false);
            if (thread != null) {
                thread.join(30_000);
            }
        }

        @Override
        public void run() {
            long seq = 0;
            while (running.get()) {
                String body = "f-" + seq++;
                try {
                    SendResult r = producer.send(new Message(topic, "TagA", body.getBytes(StandardCharsets.UTF_8)));
                    String broker = r.getMessageQueue().getBrokerName();
                    if (r.getSendStatus() == SendStatus.SEND_OK) {
                        acked.put(body, broker);
                        ackedCount.computeIfAbsent(broker, k -> new AtomicLong()).incrementAndGet();
                    } else {
                        // SLAVE_NOT_AVAILABLE while a restarted master's slave reconnects:
                        // stored, not acknowledged as replicated.
                        notOk.incrementAndGet();
                    }
                } catch (Exception e) {
                    failed.incrementAndGet();
                    synchronized (errors) {
                        if (errors.size() < 10) {
                            errors.add(body + ": " + e);
                        }
                    }
                }
            }
        }

        long ackedBy(String broker) {
            AtomicLong n = ackedCount.get(broker);
            return n == null ? 0 : n.get();
        }

        /** Bodies acknowledged by {@code broker} (null: by any). */
        Set<String> ackedBodies(String broker) {
            Set<String> s = new HashSet<>();
            acked.forEach((b, by) -> {
                if (broker == null || broker.equals(by)) {
                    s.add(b);
                }
            });
            return s;
        }

        String state() {
            synchronized (errors) {
                return "acked " + ackedCount + ", not SEND_OK " + notOk + ", failed " + failed + " " + errors;
            }
        }
    }
}
