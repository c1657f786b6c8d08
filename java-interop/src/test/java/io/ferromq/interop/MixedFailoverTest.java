package io.ferromq.interop;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.time.LocalTime;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import org.apache.rocketmq.client.producer.DefaultMQProducer;
import org.apache.rocketmq.client.producer.SendResult;
import org.apache.rocketmq.client.producer.SendStatus;
import org.apache.rocketmq.common.message.Message;
import org.apache.rocketmq.common.message.MessageConst;
import org.apache.rocketmq.common.message.MessageDecoder;
import org.apache.rocketmq.common.message.MessageExt;
import org.apache.rocketmq.common.protocol.RequestCode;
import org.apache.rocketmq.common.protocol.ResponseCode;
import org.apache.rocketmq.common.protocol.body.KVTable;
import org.apache.rocketmq.common.protocol.header.GetMaxOffsetRequestHeader;
import org.apache.rocketmq.remoting.netty.NettyClientConfig;
import org.apache.rocketmq.remoting.netty.NettyRemotingClient;
import org.apache.rocketmq.remoting.protocol.RemotingCommand;
import org.junit.jupiter.api.Test;

/**
 * Issue 14's kill test for mixed pairs: a SYNC_MASTER of one implementation with a SLAVE of the
 * other (Apache RocketMQ 4.9.7 master + ferromq slave; ferromq master + Apache slave).
 *
 * <p>Each cycle: producers (the real Java client, two {@link DefaultMQProducer}s with two sending
 * threads each) send without pause to the master; every SEND_OK is recorded (key, UNIQ_KEY msgId,
 * offsetMsgId, queue, queue offset, body). After a random number of acknowledgements in the phase
 * the master is killed with SIGKILL while sends are in flight. Then, through the slave alone
 * (raw PULL_MESSAGE on its queues, as a consumer reading from brokerId 1 would):
 * <ul>
 *   <li>every acknowledged message is present, at the queue, queue offset and commit-log
 *       position (offsetMsgId) its SendResult named, with the same body and msgId;</li>
 *   <li>no message on the slave differs from what a producer sent under its key (nothing
 *       corrupted or invented; unacknowledged in-flight sends may or may not be there).</li>
 * </ul>
 * The master is restarted on its store; before the next load phase the test waits for a SEND_OK
 * (a SYNC_MASTER only answers SEND_OK once its slave is connected and has the bytes), the
 * slave's commit-log max offset and queue max offsets to equal the master's, and the two commit
 * logs to be byte-identical up to that offset (the restarted master lost nothing the slave has).
 *
 * <p>{@value #DEFAULT_KILLS} kills per pair; more with {@code -Dinterop.mixedFailover.kills=N}.
 * Needs Apache's broker classpath ({@code -Dinterop.target=apache}); skipped otherwise.
 */
class MixedFailoverTest {
    private static final int DEFAULT_KILLS = 3;
    private static final int KILLS = Integer.getInteger("interop.mixedFailover.kills", DEFAULT_KILLS);
    private static final Duration STEP = Duration.ofSeconds(60);
    /** SYNC_MASTER: the slave has the bytes of every SEND_OK; only its consume-queue dispatch may lag. */
    private static final Duration ON_SLAVE = Duration.ofSeconds(20);
    private static final int QUEUES = 4;
    private static final int PRODUCERS = 2;
    private static final int THREADS_PER_PRODUCER = 2;

    @Test
    void killingAnApacheSyncMasterLosesNoAcknowledgedMessageOnAFerromqSlave() throws Exception {
        try (Cluster c = new Cluster("MixedFailover-apacheMaster")) {
            c.startApacheNamesrv();
            c.startApacheBroker("SYNC_MASTER", "");
            c.startFerromqBroker("ferromq-slave", c.brokerConf("broker-a", 1, "SLAVE", c.slavePort, "slave")
                + "haSendHeartbeatInterval=1000\n");
            run(c, "apache-master", () -> c.startApacheBroker("SYNC_MASTER", ""), "ferromq");
        }
    }

    @Test
    void killingAFerromqSyncMasterLosesNoAcknowledgedMessageOnAnApacheSlave() throws Exception {
        try (Cluster c = new Cluster("MixedFailover-ferromqMaster")) {
            String master = c.brokerConf("broker-a", 0, "SYNC_MASTER", c.masterPort, "master");
            c.startFerromqNamesrv();
            c.startFerromqBroker("ferromq-master", master);
            c.startApacheSlave();
            run(c, "ferromq-master", () -> c.startFerromqBroker("ferromq-master", master), "Apache");
        }
    }

    private interface Restart {
        void run() throws IOException;
    }

    private static void run(Cluster c, String masterProc, Restart restartMaster, String slaveKind) throws Exception {
        long t0 = System.nanoTime();
        String suffix = Long.toString(ThreadLocalRandom.current().nextLong(1L << 40), 36);
        String topic = "MixFail_" + suffix;
        List<DefaultMQProducer> producers = new ArrayList<>();
        for (int i = 0; i < PRODUCERS; i++) {
            DefaultMQProducer p = new DefaultMQProducer("MixFailPG_" + suffix);
            p.setNamesrvAddr(c.namesrvAddr());
            p.setInstanceName("interop-mixfail-" + suffix + "-" + i);
            p.setPollNameServerInterval(1000);
            p.setSendMsgTimeout(6000);
            String key = System.getProperty("interop.createTopicKey", "TBW102");
            if (!key.isEmpty()) {
                p.setCreateTopicKey(key);
            }
            p.start();
            producers.add(p);
        }
        NettyRemotingClient raw = new NettyRemotingClient(new NettyClientConfig());
        raw.start();
        Load load = new Load(producers, topic);
        try {
            DefaultMQProducer first = producers.get(0);
            Await.until("the master to route TBW102", STEP, () -> Cluster.routesToMaster(first, "TBW102"));
            first.createTopic("TBW102", topic, QUEUES);
            Await.until("the master to route " + topic, STEP, () -> Cluster.routesToMaster(first, topic));
            // As with Java's slaves, a topic is served by the slave once its metadata sync brought it.
            Await.until("the " + slaveKind + " slave to sync " + topic, STEP,
                () -> RawBroker.knowsTopic(raw, c.slaveAddr(), topic));
            awaitSendOk(load, "the first SEND_OK (the slave is connected)");
            awaitCaughtUp(c, raw, topic, "before the first load phase");

            for (int cycle = 1; cycle <= KILLS; cycle++) {
                String when = " (cycle " + cycle + " of " + KILLS + ")";
                int target = ThreadLocalRandom.current().nextInt(30, 400);
                long ackedBefore = load.acked.size();
                long phaseStart = System.nanoTime();
                load.startPhase();
                Await.until(target + " SEND_OKs in this phase" + when, STEP,
                    () -> load.phaseAcks.get() >= target, load::state);
                long phaseMs = ms(phaseStart);
                c.kill(masterProc);
                load.stopPhase();
                long stoppedAt = System.nanoTime();
                Map<String, Ack> acked = new HashMap<>(load.acked);
                log(slaveKind + " slave" + when + ": killed " + masterProc + " after " + load.phaseAcks.get()
                    + " SEND_OKs in the " + phaseMs + " ms phase (target " + target + "), " + acked.size() + " acked in all, "
                    + load.state());
                assertTrue(acked.size() >= ackedBefore + target, "acknowledgements recorded" + when);

                // Through the slave alone (the master is dead): every acknowledged message is there.
                Map<String, List<MessageExt>> onSlave = new HashMap<>();
                Await.until("every acknowledged message to be served by the " + slaveKind + " slave" + when, ON_SLAVE,
                    () -> {
                        onSlave.clear();
                        onSlave.putAll(pullAll(raw, c.slaveAddr(), topic));
                        return onSlave.keySet().containsAll(acked.keySet());
                    },
                    () -> "BUG? acknowledged message(s) missing on the " + slaveKind + " slave after SIGKILL of "
                        + masterProc + ": " + missing(acked, onSlave) + "; slave commitLogMaxOffset "
                        + commitLogMaxOffset(raw, c.slaveAddr()) + ", slave queue max offsets "
                        + queueMaxOffsets(raw, c.slaveAddr(), topic));
                log(slaveKind + " slave" + when + ": all " + acked.size() + " acked messages served by the slave "
                    + ms(stoppedAt) + " ms after the senders stopped; " + count(onSlave) + " messages on the slave");
                checkSlaveMessages(acked, load.attempted, onSlave, slaveKind, when);

                restartMaster.run();
                Await.until("the restarted master to be routed" + when, STEP,
                    () -> Cluster.routesToMaster(first, topic));
                awaitSendOk(load, "a SEND_OK from the restarted master (its slave reconnected)" + when);
                awaitCaughtUp(c, raw, topic, "after restart" + when);
            }

            // The master is back: both sides hold every acknowledged message, bodies intact.
            Map<String, Ack> acked = new HashMap<>(load.acked);
            Map<String, List<MessageExt>> onSlave = pullAll(raw, c.slaveAddr(), topic);
            Map<String, List<MessageExt>> onMaster = pullAll(raw, c.masterAddr(), topic);
            assertEquals("", missing(acked, onSlave), "acknowledged messages missing on the " + slaveKind + " slave at the end");
            assertEquals("", missing(acked, onMaster), "acknowledged messages missing on the restarted master at the end");
            checkSlaveMessages(acked, load.attempted, onSlave, slaveKind, " (end)");
            assertEquals(count(onMaster), count(onSlave), "messages on master and slave at the end");
            log(slaveKind + " slave: " + KILLS + " kills, " + acked.size() + " acked, " + count(onSlave)
                + " on the slave, " + dupes(onSlave) + " keys stored more than once (producer retries), "
                + load.state() + "; " + ms(t0) + " ms");
        } finally {
            load.stopPhase();
            for (DefaultMQProducer p : producers) {
                p.shutdown();
            }
            raw.shutdown();
        }
    }

    /**
     * Every acknowledged message is on the slave exactly where its SendResult said (queue, queue
     * offset, offsetMsgId = store host + commit-log offset), with its msgId (UNIQ_KEY) and body;
     * every message on the slave is one a producer sent under that key, with that body.
     */
    private static void checkSlaveMessages(Map<String, Ack> acked, Map<String, String> attempted,
                                           Map<String, List<MessageExt>> onSlave, String slaveKind, String when) {
        List<String> wrong = new ArrayList<>();
        for (Ack a : acked.values()) {
            List<MessageExt> copies = onSlave.getOrDefault(a.key, List.of());
            boolean found = false;
            for (MessageExt m : copies) {
                if (m.getCommitLogOffset() == a.commitLogOffset) {
                    found = true;
                    String uniq = m.getProperty(MessageConst.PROPERTY_UNIQ_CLIENT_MESSAGE_ID_KEYIDX);
                    if (!a.msgId.equals(uniq) || m.getQueueId() != a.queueId || m.getQueueOffset() != a.queueOffset
                        || !a.body.equals(new String(m.getBody(), StandardCharsets.UTF_8))) {
                        wrong.add(a.key + " acked as " + a + " but on the slave: msgId " + uniq + " queue "
                            + m.getQueueId() + "@" + m.getQueueOffset() + " body equal "
                            + a.body.equals(new String(m.getBody(), StandardCharsets.UTF_8)));
                    }
                }
            }
            if (!found) {
                List<String> where = new ArrayList<>();
                for (MessageExt m : copies) {
                    where.add("commitLog " + m.getCommitLogOffset() + " queue " + m.getQueueId() + "@" + m.getQueueOffset());
                }
                wrong.add(a.key + " acked as " + a + " but no copy at that commit-log position on the slave; copies: "
                    + where);
            }
        }
        for (Map.Entry<String, List<MessageExt>> e : onSlave.entrySet()) {
            String sent = attempted.get(e.getKey());
            for (MessageExt m : e.getValue()) {
                if (sent == null || !sent.equals(new String(m.getBody(), StandardCharsets.UTF_8))) {
                    wrong.add("the slave has " + e.getKey() + " at queue " + m.getQueueId() + "@" + m.getQueueOffset()
                        + (sent == null ? ", a key no producer sent" : " with a body that differs from the one sent"));
                }
            }
        }
        assertEquals(List.of(), wrong.subList(0, Math.min(20, wrong.size())),
            "BUG? " + wrong.size() + " acknowledged/stored message(s) differ on the " + slaveKind + " slave" + when);
    }

    private static void awaitSendOk(Load load, String what) {
        Await.until(what, STEP, () -> load.sendOne(load.producers.get(0)), load::state);
    }

    /**
     * The slave's commit-log and queue max offsets equal the master's, and the two commit logs
     * are byte-identical up to that offset.
     */
    private static void awaitCaughtUp(Cluster c, NettyRemotingClient raw, String topic, String when) {
        Await.until("the slave's offsets to equal the master's " + when, STEP,
            () -> {
                long m = commitLogMaxOffset(raw, c.masterAddr());
                return m > 0 && m == commitLogMaxOffset(raw, c.slaveAddr())
                    && queueMaxOffsets(raw, c.masterAddr(), topic).equals(queueMaxOffsets(raw, c.slaveAddr(), topic));
            },
            () -> "master commitLogMaxOffset " + commitLogMaxOffset(raw, c.masterAddr()) + " queues "
                + queueMaxOffsets(raw, c.masterAddr(), topic) + ", slave commitLogMaxOffset "
                + commitLogMaxOffset(raw, c.slaveAddr()) + " queues " + queueMaxOffsets(raw, c.slaveAddr(), topic));
        long max = commitLogMaxOffset(raw, c.masterAddr());
        String diff = compareLogs(c.masterCommitLog(), c.slaveCommitLog(), max);
        assertEquals("", diff, "the commit logs of master and slave up to offset " + max + " " + when);
        log("caught up " + when + ": commitLogMaxOffset " + max + ", queues " + queueMaxOffsets(raw, c.slaveAddr(), topic));
    }

    /** "" when both directories hold the same bytes in [0, max); otherwise where they differ. */
    private static String compareLogs(Path masterDir, Path slaveDir, long max) {
        long fileSize = Cluster.COMMIT_LOG_FILE_SIZE;
        try {
            for (long start = 0; start < max; start += fileSize) {
                String name = String.format("%020d", start);
                int len = (int) Math.min(fileSize, max - start);
                byte[] a = read(masterDir.resolve(name), len);
                byte[] b = read(slaveDir.resolve(name), len);
                if (!Arrays.equals(a, b)) {
                    int i = Arrays.mismatch(a, b);
                    return "first difference at commit-log offset " + (start + i);
                }
            }
        } catch (IOException e) {
            return "unreadable: " + e;
        }
        return "";
    }

    private static byte[] read(Path file, int len) throws IOException {
        byte[] buf = new byte[len];
        try (RandomAccessFile f = new RandomAccessFile(file.toFile(), "r")) {
            f.readFully(buf);
        }
        return buf;
    }

    private static long commitLogMaxOffset(NettyRemotingClient raw, String addr) {
        try {
            RemotingCommand r = raw.invokeSync(addr,
                RemotingCommand.createRequestCommand(RequestCode.GET_BROKER_RUNTIME_INFO, null), 3000);
            if (r.getCode() != ResponseCode.SUCCESS) {
                return -1;
            }
            String v = KVTable.decode(r.getBody(), KVTable.class).getTable().get("commitLogMaxOffset");
            return v == null ? -2 : Long.parseLong(v);
        } catch (Exception e) {
            return -1;
        }
    }

    private static List<Long> queueMaxOffsets(NettyRemotingClient raw, String addr, String topic) {
        List<Long> out = new ArrayList<>();
        for (int q = 0; q < QUEUES; q++) {
            try {
                GetMaxOffsetRequestHeader h = new GetMaxOffsetRequestHeader();
                h.setTopic(topic);
                h.setQueueId(q);
                RemotingCommand r = raw.invokeSync(addr,
                    RemotingCommand.createRequestCommand(RequestCode.GET_MAX_OFFSET, h), 3000);
                out.add(r.getCode() == ResponseCode.SUCCESS ? Long.parseLong(r.getExtFields().get("offset")) : -1L);
            } catch (Exception e) {
                out.add(-1L);
            }
        }
        return out;
    }

    /** Every message of the topic's queues on {@code addr}, from offset 0, by key. */
    private static Map<String, List<MessageExt>> pullAll(NettyRemotingClient raw, String addr, String topic) {
        Map<String, List<MessageExt>> out = new HashMap<>();
        try {
            RawBroker.pullAll(raw, addr, "MixFailCheck", topic, QUEUES,
                (m, q) -> out.computeIfAbsent(m.getKeys(), k -> new ArrayList<>()).add(m));
        } catch (Exception e) {
            // not reachable: the caller polls again or reports what is missing
        }
        return out;
    }

    private static String missing(Map<String, Ack> acked, Map<String, List<MessageExt>> have) {
        List<String> m = new ArrayList<>();
        for (Ack a : acked.values()) {
            if (!have.containsKey(a.key)) {
                m.add(a.toString());
            }
        }
        if (m.isEmpty()) {
            return "";
        }
        m.sort(null);
        return m.size() + " of " + acked.size() + " missing, e.g. " + m.subList(0, Math.min(10, m.size()));
    }

    private static int count(Map<String, List<MessageExt>> msgs) {
        return msgs.values().stream().mapToInt(List::size).sum();
    }

    private static long dupes(Map<String, List<MessageExt>> msgs) {
        return msgs.values().stream().filter(l -> l.size() > 1).count();
    }

    private static long ms(long since) {
        return (System.nanoTime() - since) / 1_000_000;
    }

    private static void log(String msg) {
        System.out.println("[MixedFailoverTest " + LocalTime.now() + "] " + msg);
    }

    /** One SEND_OK as its SendResult reported it. */
    private static final class Ack {
        final String key;
        final String body;
        final String msgId;
        final String offsetMsgId;
        /** Commit-log position, from offsetMsgId (store host + offset): the same on a byte-identical slave. */
        final long commitLogOffset;
        final int queueId;
        final long queueOffset;

        Ack(String key, String body, SendResult r) {
            this.key = key;
            this.body = body;
            this.msgId = r.getMsgId();
            this.offsetMsgId = r.getOffsetMsgId();
            long pos;
            try {
                pos = MessageDecoder.decodeMessageId(offsetMsgId).getOffset();
            } catch (Exception e) {
                pos = -1;
            }
            this.commitLogOffset = pos;
            this.queueId = r.getMessageQueue().getQueueId();
            this.queueOffset = r.getQueueOffset();
        }

        @Override
        public String toString() {
            return key + "{msgId " + msgId + ", queue " + queueId + "@" + queueOffset + ", commitLog " + commitLogOffset
                + ", " + body.length() + " B}";
        }
    }

    /** Sending threads; what was attempted (key -> body) and what was acknowledged (key -> Ack). */
    private static final class Load {
        final List<DefaultMQProducer> producers;
        final String topic;
        final Map<String, String> attempted = new ConcurrentHashMap<>();
        final Map<String, Ack> acked = new ConcurrentHashMap<>();
        final AtomicLong seq = new AtomicLong();
        final AtomicLong phaseAcks = new AtomicLong();
        final Map<SendStatus, AtomicLong> notOk = new ConcurrentHashMap<>();
        /** Not SEND_OK answers during the current load phase (probes excluded). */
        final Map<SendStatus, AtomicLong> phaseNotOk = new ConcurrentHashMap<>();
        final AtomicLong failed = new AtomicLong();
        final AtomicBoolean running = new AtomicBoolean();
        final List<String> errors = new ArrayList<>();
        final List<Thread> threads = new ArrayList<>();

        Load(List<DefaultMQProducer> producers, String topic) {
            this.producers = producers;
            this.topic = topic;
        }

        void startPhase() {
            phaseAcks.set(0);
            phaseNotOk.clear();
            synchronized (errors) {
                errors.clear();
            }
            running.set(true);
            for (DefaultMQProducer p : producers) {
                for (int i = 0; i < THREADS_PER_PRODUCER; i++) {
                    Thread t = new Thread(() -> {
                        while (running.get()) {
                            if (sendOne(p)) {
                                phaseAcks.incrementAndGet();
                            }
                        }
                    }, "mixfail-load-" + threads.size());
                    t.setDaemon(true);
                    threads.add(t);
                    t.start();
                }
            }
        }

        void stopPhase() throws InterruptedException {
            running.set(false);
            for (Thread t : threads) {
                t.join(60_000);
                if (t.isAlive()) {
                    fail("a sending thread did not stop: " + state());
                }
            }
            threads.clear();
        }

        /** One synchronous send; true if SEND_OK (recorded as acknowledged). */
        boolean sendOne(DefaultMQProducer p) {
            long n = seq.incrementAndGet();
            String key = "k" + n;
            ThreadLocalRandom rnd = ThreadLocalRandom.current();
            StringBuilder body = new StringBuilder(key).append(':');
            int len = rnd.nextInt(8, 3000);
            for (int i = 0; i < len; i++) {
                body.append((char) ('a' + rnd.nextInt(26)));
            }
            String b = body.toString();
            attempted.put(key, b);
            Message m = new Message(topic, "TagA", key, b.getBytes(StandardCharsets.UTF_8));
            try {
                SendResult r = p.send(m);
                if (r.getSendStatus() == SendStatus.SEND_OK) {
                    acked.put(key, new Ack(key, b, r));
                    return true;
                }
                // SLAVE_NOT_AVAILABLE / FLUSH_SLAVE_TIMEOUT: stored on the master, not acknowledged.
                notOk.computeIfAbsent(r.getSendStatus(), k -> new AtomicLong()).incrementAndGet();
                if (running.get()) {
                    phaseNotOk.computeIfAbsent(r.getSendStatus(), k -> new AtomicLong()).incrementAndGet();
                }
            } catch (Exception e) {
                failed.incrementAndGet();
                synchronized (errors) {
                    if (errors.size() < 5) {
                        errors.add(key + ": " + e.toString().split("\n")[0]);
                    }
                }
            }
            return false;
        }

        String state() {
            synchronized (errors) {
                return "sent " + seq.get() + ", SEND_OK " + acked.size() + ", not SEND_OK " + notOk
                    + " (in the last load phase " + phaseNotOk + "), failed "
                    + failed + (errors.isEmpty() ? "" : " e.g. " + errors);
            }
        }
    }
}
