package io.ferromq.interop;

import static io.ferromq.interop.Inbox.body;
import static java.nio.charset.StandardCharsets.UTF_8;
import static org.junit.jupiter.api.Assertions.assertAll;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Function;
import java.util.stream.Collectors;

import org.apache.rocketmq.client.consumer.DefaultMQPushConsumer;
import org.apache.rocketmq.client.consumer.listener.MessageListenerConcurrently;
import org.apache.rocketmq.client.producer.DefaultMQProducer;
import org.apache.rocketmq.client.producer.LocalTransactionState;
import org.apache.rocketmq.client.producer.SendStatus;
import org.apache.rocketmq.client.producer.TransactionListener;
import org.apache.rocketmq.client.producer.TransactionMQProducer;
import org.apache.rocketmq.client.producer.TransactionSendResult;
import org.apache.rocketmq.common.message.Message;
import org.apache.rocketmq.common.message.MessageExt;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * Transactional messages: half messages, commit / rollback at send time, check-backs
 * (CHECK_TRANSACTION_STATE) for unknown ones, across producer and broker restarts, and the
 * check limit. The broker checks every second, for half messages older than 1 s, at most 3
 * times (tests that restart something raise the limit so that the checks spent while nobody
 * can answer them do not decide the outcome).
 */
@ExtendWith(FerroMQExtension.class)
@BrokerConfig({"transactionCheckInterval=1000", "transactionTimeOut=1000", "transactionCheckMax=3"})
class TransactionTest {

    static final Duration RECEIVE_TIMEOUT = Duration.ofSeconds(45);
    /** Three check intervals and a bit. */
    static final Duration QUIET = Duration.ofMillis(3500);

    /**
     * The quickstart's listener: "1" commits at once, "2" rolls back, the others are UNKNOW until
     * the check-back commits them. K1 arrives soon, K3/K4 after their check, K2 never; each once,
     * with the keys, tags and user properties as sent.
     */
    @Test
    void commitRollbackAndCheckBack(FerroMQ mq) throws Exception {
        String topic = mq.uniqueName("Tx");
        Inbox inbox = new Inbox();
        Map<String, Long> arrival = new ConcurrentHashMap<>();
        DefaultMQPushConsumer consumer = startConsumer(mq, topic, inbox, arrival);

        CheckLog checks = new CheckLog();
        TransactionMQProducer producer = mq.startTransactionProducer(mq.uniqueName("TXPG"),
            listener(key -> key.contains("1") ? LocalTransactionState.COMMIT_MESSAGE
                : key.contains("2") ? LocalTransactionState.ROLLBACK_MESSAGE : LocalTransactionState.UNKNOW,
                checks, key -> LocalTransactionState.COMMIT_MESSAGE));

        long sendStart = System.currentTimeMillis();
        Map<String, LocalTransactionState> states = new TreeMap<>();
        for (String key : List.of("K1", "K2", "K3", "K4")) {
            TransactionSendResult r = producer.sendMessageInTransaction(txMessage(topic, key), null);
            assertEquals(SendStatus.SEND_OK, r.getSendStatus(), "half message " + key + ": " + r);
            states.put(key, r.getLocalTransactionState());
        }
        assertEquals(Map.of("K1", LocalTransactionState.COMMIT_MESSAGE, "K2", LocalTransactionState.ROLLBACK_MESSAGE,
            "K3", LocalTransactionState.UNKNOW, "K4", LocalTransactionState.UNKNOW), states, "local transaction states");

        inbox.awaitCount(1, Duration.ofSeconds(5), m -> "K1".equals(m.getKeys()));
        assertTrue(arrival.get("K1") - sendStart < 5000, "K1 (committed at send) arrives soon");
        inbox.awaitCount(2, RECEIVE_TIMEOUT, m -> "K3".equals(m.getKeys()) || "K4".equals(m.getKeys()));
        Await.never("K2 (rolled back) delivered, or a message delivered twice", QUIET,
            () -> !inbox.messages(m -> "K2".equals(m.getKeys())).isEmpty() || inbox.messages(TransactionTest::isTx).size() > 3,
            () -> Inbox.summary(inbox.messages()));
        Consumers.awaitCaughtUp(topic, RECEIVE_TIMEOUT, consumer);

        List<MessageExt> got = inbox.messages(TransactionTest::isTx);
        mq.note("checks per key: " + checks + "; arrival after send start: K1 " + (arrival.get("K1") - sendStart)
            + " ms, K3 " + (arrival.get("K3") - sendStart) + " ms, K4 " + (arrival.get("K4") - sendStart) + " ms");
        assertEquals(List.of("K1", "K3", "K4"), got.stream().map(MessageExt::getKeys).sorted().collect(Collectors.toList()),
            "keys delivered (each once): " + Inbox.summary(got));
        for (String key : List.of("K3", "K4")) {
            assertTrue(checks.count(key) >= 1, "checkLocalTransaction was called for " + key + "; checks: " + checks);
            assertTrue(arrival.get(key) >= checks.first(key), key + " arrived after its first check");
        }
        assertEquals(0, checks.count("K1"), "no check for K1 (committed at send); checks: " + checks);
        assertEquals(0, checks.count("K2"), "no check for K2 (rolled back at send); checks: " + checks);
        for (MessageExt m : got) {
            assertCommittedAsSent(topic, m);
        }
    }

    /**
     * Producer A leaves its transactions UNKNOW (at send and at any check) and shuts down right
     * after sending; producer B, a new instance in the same group, answers the checks with COMMIT.
     */
    @Test
    @BrokerConfig("transactionCheckMax=15")
    void aRestartedProducerOfTheGroupSettlesItsPredecessorsTransactions(FerroMQ mq) throws Exception {
        String topic = mq.uniqueName("TxProducerRestart");
        String group = mq.uniqueName("TXPG");
        Inbox inbox = new Inbox();
        DefaultMQPushConsumer consumer = startConsumer(mq, topic, inbox, new ConcurrentHashMap<>());

        CheckLog checksA = new CheckLog();
        TransactionMQProducer a = mq.startTransactionProducer(group,
            listener(key -> LocalTransactionState.UNKNOW, checksA, key -> LocalTransactionState.UNKNOW));
        for (String key : List.of("K5", "K6", "K7")) {
            TransactionSendResult r = a.sendMessageInTransaction(txMessage(topic, key), null);
            assertEquals(SendStatus.SEND_OK, r.getSendStatus(), "half message " + key + ": " + r);
            assertEquals(LocalTransactionState.UNKNOW, r.getLocalTransactionState());
        }
        a.shutdown();

        CheckLog checksB = new CheckLog();
        mq.startTransactionProducer(group,
            listener(key -> LocalTransactionState.UNKNOW, checksB, key -> LocalTransactionState.COMMIT_MESSAGE));
        inbox.awaitCount(3, RECEIVE_TIMEOUT, TransactionTest::isTx);
        Await.never("a transactional message delivered twice", QUIET,
            () -> inbox.messages(TransactionTest::isTx).size() > 3, () -> Inbox.summary(inbox.messages()));
        Consumers.awaitCaughtUp(topic, RECEIVE_TIMEOUT, consumer);

        List<MessageExt> got = inbox.messages(TransactionTest::isTx);
        assertEquals(List.of("K5", "K6", "K7"), got.stream().map(MessageExt::getKeys).sorted().collect(Collectors.toList()),
            "keys delivered (each once)");
        for (String key : List.of("K5", "K6", "K7")) {
            assertTrue(checksB.count(key) >= 1, "producer B was asked about " + key + "; B's checks: " + checksB
                + ", A's checks: " + checksA);
        }
        for (MessageExt m : got) {
            assertCommittedAsSent(topic, m);
        }
    }

    /**
     * Half messages left open survive a graceful broker restart: the producer answers UNKNOW at
     * send time and to checks before the restart, COMMIT to checks after it; the messages arrive
     * once, only after the restart.
     */
    @Test
    @BrokerConfig("transactionCheckMax=15")
    void openTransactionsAreSettledAfterABrokerRestart(FerroMQ mq) throws Exception {
        String topic = mq.uniqueName("TxBrokerRestart");
        Inbox inbox = new Inbox();
        DefaultMQPushConsumer consumer = startConsumer(mq, topic, inbox, new ConcurrentHashMap<>());

        AtomicBoolean restarted = new AtomicBoolean();
        CheckLog checks = new CheckLog();
        TransactionMQProducer producer = mq.startTransactionProducer(mq.uniqueName("TXPG"),
            listener(key -> LocalTransactionState.UNKNOW, checks,
                key -> restarted.get() ? LocalTransactionState.COMMIT_MESSAGE : LocalTransactionState.UNKNOW));
        for (String key : List.of("K8", "K9")) {
            TransactionSendResult r = producer.sendMessageInTransaction(txMessage(topic, key), null);
            assertEquals(SendStatus.SEND_OK, r.getSendStatus(), "half message " + key + ": " + r);
        }
        mq.restart();
        restarted.set(true);
        long afterRestart = System.currentTimeMillis();
        assertEquals(0, inbox.messages(TransactionTest::isTx).size(), "nothing committed before the restart");
        // Clients re-register within their 30 s heartbeat period; do it now to keep the test short.
        ConsumptionModelsTest.heartbeat(producer);
        ConsumptionModelsTest.heartbeat(consumer);

        inbox.awaitCount(2, Duration.ofSeconds(60), TransactionTest::isTx);
        Await.never("a transactional message delivered twice", QUIET,
            () -> inbox.messages(TransactionTest::isTx).size() > 2, () -> Inbox.summary(inbox.messages()));
        Consumers.awaitCaughtUp(topic, RECEIVE_TIMEOUT, consumer);
        List<MessageExt> got = inbox.messages(TransactionTest::isTx);
        assertEquals(List.of("K8", "K9"), got.stream().map(MessageExt::getKeys).sorted().collect(Collectors.toList()),
            "keys delivered (each once)");
        for (String key : List.of("K8", "K9")) {
            assertTrue(checks.countSince(key, afterRestart) >= 1, key + " was checked after the restart; checks: " + checks);
        }
        for (MessageExt m : got) {
            assertCommittedAsSent(topic, m);
        }
    }

    /**
     * A producer that answers UNKNOW forever is asked at most transactionCheckMax (3) times per
     * message; then the broker gives up and the message is never delivered.
     */
    @Test
    void checksStopAfterTransactionCheckMax(FerroMQ mq) throws Exception {
        String topic = mq.uniqueName("TxCheckMax");
        Inbox inbox = new Inbox();
        DefaultMQPushConsumer consumer = startConsumer(mq, topic, inbox, new ConcurrentHashMap<>());

        CheckLog checks = new CheckLog();
        TransactionMQProducer producer = mq.startTransactionProducer(mq.uniqueName("TXPG"),
            listener(key -> LocalTransactionState.UNKNOW, checks, key -> LocalTransactionState.UNKNOW));
        for (String key : List.of("K10", "K11")) {
            TransactionSendResult r = producer.sendMessageInTransaction(txMessage(topic, key), null);
            assertEquals(SendStatus.SEND_OK, r.getSendStatus(), "half message " + key + ": " + r);
        }
        Await.until("a first check of both messages", RECEIVE_TIMEOUT,
            () -> checks.count("K10") >= 1 && checks.count("K11") >= 1, checks::toString);
        long[] lastChange = {System.nanoTime()};
        int[] lastTotal = {checks.total()};
        Await.until("the checks to stop (no new check for " + QUIET.toMillis() + " ms)", Duration.ofSeconds(60), () -> {
            int total = checks.total();
            if (total != lastTotal[0]) {
                lastTotal[0] = total;
                lastChange[0] = System.nanoTime();
            }
            return System.nanoTime() - lastChange[0] >= QUIET.toNanos();
        }, checks::toString);

        mq.note("checks per key once they stopped: " + checks);
        for (String key : List.of("K10", "K11")) {
            int n = checks.count(key);
            assertTrue(n >= 1 && n <= 3, key + " checked " + n + " times, expected 1..3 (transactionCheckMax=3); "
                + checks);
        }
        Consumers.awaitCaughtUp(topic, RECEIVE_TIMEOUT, consumer);
        assertEquals(List.of(), inbox.messages(TransactionTest::isTx), "never delivered");
    }

    // ------------------------------------------------------------------------------------------

    /** Starts a consumer of {@code topic} (created by a plain warm-up message) and waits for the warm-up. */
    static DefaultMQPushConsumer startConsumer(FerroMQ mq, String topic, Inbox inbox, Map<String, Long> arrival)
        throws Exception {
        DefaultMQProducer plain = mq.startProducer();
        ConsumptionModelsTest.createTopicWithWarmups(plain, topic);
        DefaultMQPushConsumer consumer = mq.newPushConsumer(mq.uniqueName("CG"));
        consumer.subscribe(topic, "*");
        consumer.registerMessageListener((MessageListenerConcurrently) (msgs, ctx) -> {
            long now = System.currentTimeMillis();
            for (MessageExt m : msgs) {
                if (m.getKeys() != null) {
                    arrival.putIfAbsent(m.getKeys(), now);
                }
            }
            return inbox.consumeMessage(msgs, ctx);
        });
        consumer.start();
        inbox.awaitCount(4, RECEIVE_TIMEOUT, m -> body(m).startsWith("warmup-"));
        return consumer;
    }

    static boolean isTx(MessageExt m) {
        return body(m).startsWith("tx-");
    }

    static Message txMessage(String topic, String key) {
        Message m = new Message(topic, "TagTx", key, ("tx-" + key).getBytes(UTF_8));
        m.putUserProperty("txKey", key);
        m.putUserProperty("kind", "transactional");
        return m;
    }

    static void assertCommittedAsSent(String topic, MessageExt m) {
        String key = m.getKeys();
        assertAll("committed message " + m,
            () -> assertEquals(topic, m.getTopic(), "topic"),
            () -> assertEquals("TagTx", m.getTags(), "tags"),
            () -> assertEquals("tx-" + key, body(m), "body"),
            () -> assertEquals(key, m.getUserProperty("txKey"), "user property txKey"),
            () -> assertEquals("transactional", m.getUserProperty("kind"), "user property kind"),
            () -> assertEquals(0, m.getReconsumeTimes(), "reconsumeTimes"));
    }

    static TransactionListener listener(Function<String, LocalTransactionState> atSend, CheckLog checks,
                                        Function<String, LocalTransactionState> atCheck) {
        return new TransactionListener() {
            @Override
            public LocalTransactionState executeLocalTransaction(Message msg, Object arg) {
                return atSend.apply(msg.getKeys());
            }

            @Override
            public LocalTransactionState checkLocalTransaction(MessageExt msg) {
                checks.record(msg.getKeys());
                return atCheck.apply(msg.getKeys());
            }
        };
    }

    /** Times of checkLocalTransaction calls per key. */
    static final class CheckLog {
        private final Map<String, List<Long>> calls = new ConcurrentHashMap<>();

        void record(String key) {
            calls.computeIfAbsent(String.valueOf(key), k -> Collections.synchronizedList(new ArrayList<>()))
                .add(System.currentTimeMillis());
        }

        int count(String key) {
            List<Long> l = calls.get(key);
            return l == null ? 0 : l.size();
        }

        long first(String key) {
            return calls.get(key).get(0);
        }

        int countSince(String key, long since) {
            List<Long> l = calls.get(key);
            if (l == null) {
                return 0;
            }
            synchronized (l) {
                return (int) l.stream().filter(t -> t >= since).count();
            }
        }

        int total() {
            return calls.values().stream().mapToInt(List::size).sum();
        }

        @Override
        public String toString() {
            Map<String, Integer> counts = new TreeMap<>();
            calls.forEach((k, v) -> counts.put(k, v.size()));
            return counts.toString();
        }
    }
}
