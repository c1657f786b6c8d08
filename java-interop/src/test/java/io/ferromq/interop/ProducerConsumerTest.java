package io.ferromq.interop;

import static io.ferromq.interop.Inbox.body;
import static java.nio.charset.StandardCharsets.UTF_8;
import static org.junit.jupiter.api.Assertions.assertAll;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import java.util.stream.IntStream;

import org.apache.rocketmq.client.consumer.DefaultMQPullConsumer;
import org.apache.rocketmq.client.consumer.DefaultMQPushConsumer;
import org.apache.rocketmq.client.consumer.PullResult;
import org.apache.rocketmq.client.consumer.PullStatus;
import org.apache.rocketmq.client.producer.DefaultMQProducer;
import org.apache.rocketmq.client.producer.SendCallback;
import org.apache.rocketmq.client.producer.SendResult;
import org.apache.rocketmq.client.producer.SendStatus;
import org.apache.rocketmq.common.message.Message;
import org.apache.rocketmq.common.message.MessageClientExt;
import org.apache.rocketmq.common.message.MessageExt;
import org.apache.rocketmq.common.message.MessageQueue;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/** Producing and consuming: the client operations every RocketMQ user starts with. */
@ExtendWith(FerroMQExtension.class)
class ProducerConsumerTest {

    static final Duration RECEIVE_TIMEOUT = Duration.ofSeconds(45);

    /** RocketMQ's quickstart: 10 messages with tag TagA, consumed by a push consumer. */
    @Test
    void quickstartProducerAndPushConsumer(FerroMQ mq) throws Exception {
        String topic = mq.uniqueName("TopicTest");
        long testStart = System.currentTimeMillis();
        DefaultMQProducer producer = mq.startProducer();

        Map<String, SendResult> results = new LinkedHashMap<>();
        for (int i = 0; i < 10; i++) {
            Message msg = new Message(topic, "TagA", "KEY" + i, ("Hello RocketMQ " + i).getBytes(UTF_8));
            msg.putUserProperty("index", Integer.toString(i));
            SendResult r = producer.send(msg);
            assertAll("SendResult of message " + i + ": " + r,
                () -> assertEquals(SendStatus.SEND_OK, r.getSendStatus()),
                () -> assertNotNull(r.getMsgId(), "msgId"),
                () -> assertNotNull(r.getOffsetMsgId(), "offsetMsgId"),
                () -> assertEquals(topic, r.getMessageQueue().getTopic()),
                () -> assertEquals(FerroMQ.BROKER_NAME, r.getMessageQueue().getBrokerName()));
            results.put("KEY" + i, r);
        }
        // Each queue's offsets count up from 0 in send order.
        Map<Integer, List<Long>> offsetsByQueue = new TreeMap<>();
        results.values().forEach(r ->
            offsetsByQueue.computeIfAbsent(r.getMessageQueue().getQueueId(), q -> new ArrayList<>()).add(r.getQueueOffset()));
        offsetsByQueue.forEach((q, offsets) -> assertEquals(
            LongStreamRange.of(offsets.size()), offsets, "queue offsets of queue " + q + " in send order"));

        DefaultMQPushConsumer consumer = mq.newPushConsumer(mq.uniqueName("CG"));
        Inbox inbox = new Inbox();
        consumer.subscribe(topic, "*");
        consumer.registerMessageListener(inbox);
        consumer.start();

        inbox.awaitCount(10, RECEIVE_TIMEOUT);
        Consumers.awaitCaughtUp(topic, RECEIVE_TIMEOUT, consumer);
        List<MessageExt> got = inbox.messages();
        assertEquals(10, got.size(), "each message delivered exactly once: " + Inbox.summary(got));

        Set<String> expected = IntStream.range(0, 10)
            .mapToObj(i -> topic + "|TagA|KEY" + i + "|Hello RocketMQ " + i).collect(Collectors.toCollection(TreeSet::new));
        Set<String> actual = got.stream()
            .map(m -> m.getTopic() + "|" + m.getTags() + "|" + m.getKeys() + "|" + body(m))
            .collect(Collectors.toCollection(TreeSet::new));
        assertEquals(expected, actual, "topic|tags|keys|body of the consumed messages");

        long now = System.currentTimeMillis();
        for (MessageExt m : got) {
            SendResult r = results.get(m.getKeys());
            assertAll("consumed message " + m,
                () -> assertEquals(r.getMsgId(), m.getMsgId(), "msgId (client unique id)"),
                () -> assertEquals(r.getOffsetMsgId(), ((MessageClientExt) m).getOffsetMsgId(),
                    "offsetMsgId (store host + commit log offset) matches the SendResult's"),
                () -> assertEquals(r.getMessageQueue().getQueueId(), m.getQueueId(), "queue id"),
                () -> assertEquals(r.getQueueOffset(), m.getQueueOffset(), "queue offset"),
                () -> assertEquals(m.getKeys().substring(3), m.getUserProperty("index"), "user property"),
                () -> assertEquals(0, m.getReconsumeTimes(), "reconsumeTimes"),
                () -> assertTrue(m.getBornTimestamp() >= testStart - 1000 && m.getBornTimestamp() <= now,
                    "bornTimestamp " + m.getBornTimestamp()),
                () -> assertTrue(m.getStoreTimestamp() >= m.getBornTimestamp() - 1000 && m.getStoreTimestamp() <= now,
                    "storeTimestamp " + m.getStoreTimestamp()),
                () -> assertTrue(m.getCommitLogOffset() >= 0, "commitLogOffset " + m.getCommitLogOffset()));
        }
    }

    /** Sync, async (SendCallback) and oneway sends all end up with the consumer. */
    @Test
    void syncAsyncAndOnewaySendsAreAllDelivered(FerroMQ mq) throws Exception {
        String topic = mq.uniqueName("SendModes");
        DefaultMQProducer producer = mq.startProducer();
        Set<String> expected = new TreeSet<>();

        for (int i = 0; i < 10; i++) {
            SendResult r = producer.send(new Message(topic, "TagA", ("sync-" + i).getBytes(UTF_8)));
            assertEquals(SendStatus.SEND_OK, r.getSendStatus(), "sync send " + i + ": " + r);
            expected.add("sync-" + i);
        }

        CountDownLatch callbacks = new CountDownLatch(10);
        Map<String, Object> outcomes = new ConcurrentHashMap<>();
        for (int i = 0; i < 10; i++) {
            String b = "async-" + i;
            producer.send(new Message(topic, "TagA", b.getBytes(UTF_8)), new SendCallback() {
                @Override
                public void onSuccess(SendResult sendResult) {
                    outcomes.put(b, sendResult.getSendStatus());
                    callbacks.countDown();
                }

                @Override
                public void onException(Throwable e) {
                    outcomes.put(b, e);
                    callbacks.countDown();
                }
            });
            expected.add(b);
        }
        assertTrue(callbacks.await(30, TimeUnit.SECONDS),
            "all 10 async SendCallbacks called within 30 s; got " + outcomes);
        outcomes.forEach((b, outcome) -> assertEquals(SendStatus.SEND_OK, outcome, "async send of " + b));

        for (int i = 0; i < 10; i++) {
            producer.sendOneway(new Message(topic, "TagA", ("oneway-" + i).getBytes(UTF_8)));
            expected.add("oneway-" + i);
        }

        DefaultMQPushConsumer consumer = mq.newPushConsumer(mq.uniqueName("CG"));
        Inbox inbox = new Inbox();
        consumer.subscribe(topic, "*");
        consumer.registerMessageListener(inbox);
        consumer.start();
        inbox.awaitCount(30, RECEIVE_TIMEOUT);
        Consumers.awaitCaughtUp(topic, RECEIVE_TIMEOUT, consumer);

        List<MessageExt> got = inbox.messages();
        assertEquals(expected, got.stream().map(Inbox::body).collect(Collectors.toCollection(TreeSet::new)),
            "bodies of all sync, async and oneway messages");
        assertEquals(30, got.size(), "each message delivered exactly once: " + Inbox.summary(got));
    }

    /** MessageQueueSelector picks the queue; a pull consumer reads that queue back in order. */
    @Test
    @SuppressWarnings("deprecation")
    void selectorSendLandsInChosenQueueAndPullReadsItInOrder(FerroMQ mq) throws Exception {
        String topic = mq.uniqueName("Selector");
        int targetQueue = 2;
        DefaultMQProducer producer = mq.startProducer();
        for (int i = 0; i < 5; i++) {
            Message msg = new Message(topic, "TagS", "SK" + i, ("ordered-" + i).getBytes(UTF_8));
            SendResult r = producer.send(msg, (mqs, m, arg) -> {
                for (MessageQueue q : mqs) {
                    if (q.getQueueId() == (Integer) arg) {
                        return q;
                    }
                }
                throw new IllegalStateException("no queue " + arg + " in " + mqs);
            }, targetQueue);
            int n = i;
            assertAll("SendResult of ordered-" + i + ": " + r,
                () -> assertEquals(SendStatus.SEND_OK, r.getSendStatus()),
                () -> assertEquals(targetQueue, r.getMessageQueue().getQueueId(), "queue id chosen by the selector"),
                () -> assertEquals(n, r.getQueueOffset(), "queue offset"));
        }

        DefaultMQPullConsumer pull = mq.startPullConsumer();
        Set<MessageQueue> queues = pull.fetchSubscribeMessageQueues(topic);
        assertEquals(Set.of(0, 1, 2, 3), Consumers.queueIds(queues), "queues of the auto-created topic");
        MessageQueue chosen = queues.stream().filter(q -> q.getQueueId() == targetQueue).findFirst().get();

        List<MessageExt> pulled = new ArrayList<>();
        List<String> statuses = new ArrayList<>();
        long offset = 0;
        long deadline = System.nanoTime() + RECEIVE_TIMEOUT.toNanos();
        while (pulled.size() < 5) {
            PullResult pr = pull.pull(chosen, "*", offset, 32);
            statuses.add(pr.getPullStatus() + "@" + offset);
            if (pr.getPullStatus() == PullStatus.FOUND) {
                pulled.addAll(pr.getMsgFoundList());
                assertEquals(offset + pr.getMsgFoundList().size(), pr.getNextBeginOffset(), "nextBeginOffset");
                offset = pr.getNextBeginOffset();
            } else if (pr.getPullStatus() == PullStatus.OFFSET_ILLEGAL) {
                fail("pull of " + chosen + " at offset " + offset + " returned OFFSET_ILLEGAL: " + pr);
            } else if (System.nanoTime() > deadline) {
                fail("pulled only " + Inbox.summary(pulled) + " within " + RECEIVE_TIMEOUT.getSeconds() + " s; pulls: " + statuses);
            } else {
                Thread.sleep(100); // NO_NEW_MSG: poll again until the deadline
            }
        }
        assertEquals(List.of("ordered-0", "ordered-1", "ordered-2", "ordered-3", "ordered-4"),
            pulled.stream().map(Inbox::body).collect(Collectors.toList()), "pulled bodies in send order");
        for (int i = 0; i < pulled.size(); i++) {
            MessageExt m = pulled.get(i);
            int n = i;
            assertAll("pulled message " + i,
                () -> assertEquals(targetQueue, m.getQueueId()),
                () -> assertEquals(n, m.getQueueOffset()),
                () -> assertEquals("TagS", m.getTags()),
                () -> assertEquals("SK" + n, m.getKeys()));
        }

        PullResult end = pull.pull(chosen, "*", 5, 32);
        assertAll("pull at the end of queue " + targetQueue + ": " + end,
            () -> assertEquals(PullStatus.NO_NEW_MSG, end.getPullStatus()),
            () -> assertEquals(5, end.getNextBeginOffset()));
        for (MessageQueue q : queues) {
            long expectedMax = q.getQueueId() == targetQueue ? 5 : 0;
            assertEquals(expectedMax, pull.maxOffset(q), "max offset of queue " + q.getQueueId());
            assertEquals(0, pull.minOffset(q), "min offset of queue " + q.getQueueId());
        }
    }

    /** producer.send(Collection) of 32 messages: one SendResult, all 32 consumed, contiguous in one queue. */
    @Test
    void batchOf32IsDeliveredWhole(FerroMQ mq) throws Exception {
        String topic = mq.uniqueName("Batch");
        DefaultMQProducer producer = mq.startProducer();
        List<Message> batch = new ArrayList<>();
        for (int i = 0; i < 32; i++) {
            batch.add(new Message(topic, "TagB", "BK" + i, ("batch-" + i).getBytes(UTF_8)));
        }
        SendResult r = producer.send(batch);
        assertEquals(SendStatus.SEND_OK, r.getSendStatus(), "batch SendResult: " + r);
        assertNotNull(r.getMsgId(), "batch msgId");
        List<String> ids = Arrays.asList(r.getMsgId().split(","));
        assertEquals(32, ids.size(), "batch SendResult.msgId lists one id per message: " + r.getMsgId());

        DefaultMQPushConsumer consumer = mq.newPushConsumer(mq.uniqueName("CG"));
        Inbox inbox = new Inbox();
        consumer.subscribe(topic, "*");
        consumer.registerMessageListener(inbox);
        consumer.start();
        inbox.awaitCount(32, RECEIVE_TIMEOUT);
        Consumers.awaitCaughtUp(topic, RECEIVE_TIMEOUT, consumer);

        List<MessageExt> got = inbox.messages();
        assertEquals(32, got.size(), "each message delivered exactly once: " + Inbox.summary(got));
        Set<String> expectedBodies = IntStream.range(0, 32).mapToObj(i -> "batch-" + i)
            .collect(Collectors.toCollection(TreeSet::new));
        Set<String> gotBodies = got.stream().map(Inbox::body).collect(Collectors.toCollection(TreeSet::new));
        assertEquals(expectedBodies, gotBodies, "bodies");
        Set<String> gotIds = got.stream().map(MessageExt::getMsgId).collect(Collectors.toCollection(TreeSet::new));
        assertEquals(new TreeSet<>(ids), gotIds, "consumed msgIds are the batch SendResult's ids");
        for (MessageExt m : got) {
            int i = Integer.parseInt(body(m).substring("batch-".length()));
            assertAll("consumed " + body(m),
                () -> assertEquals(r.getMessageQueue().getQueueId(), m.getQueueId(), "the whole batch is in one queue"),
                () -> assertEquals(r.getQueueOffset() + i, m.getQueueOffset(), "contiguous queue offsets in batch order"),
                () -> assertEquals("BK" + i, m.getKeys()),
                () -> assertEquals("TagB", m.getTags()));
        }
    }

    /** Large incompressible and compressible (client compresses over 4 KiB) bodies survive byte for byte. */
    @Test
    void largeAndCompressedBodiesRoundTripExactly(FerroMQ mq) throws Exception {
        String topic = mq.uniqueName("Bodies");
        Map<String, byte[]> bodies = new LinkedHashMap<>();
        bodies.put("random-1MiB", Bodies.random(1 << 20, 1));
        bodies.put("text-10KiB", Bodies.compressible(10 * 1024));
        bodies.put("random-4095B", Bodies.random(4095, 2));
        bodies.put("binary-all-bytes", Bodies.allByteValues(4));

        DefaultMQProducer producer = mq.startProducer();
        for (Map.Entry<String, byte[]> e : bodies.entrySet()) {
            SendResult r = producer.send(new Message(topic, "TagA", e.getKey(), e.getValue()));
            assertEquals(SendStatus.SEND_OK, r.getSendStatus(), "send of " + e.getKey() + ": " + r);
        }

        DefaultMQPushConsumer consumer = mq.newPushConsumer(mq.uniqueName("CG"));
        Inbox inbox = new Inbox();
        consumer.subscribe(topic, "*");
        consumer.registerMessageListener(inbox);
        consumer.start();
        inbox.awaitCount(bodies.size(), RECEIVE_TIMEOUT);
        Consumers.awaitCaughtUp(topic, RECEIVE_TIMEOUT, consumer);

        Map<String, MessageExt> byKey = new HashMap<>();
        for (MessageExt m : inbox.messages()) {
            assertTrue(byKey.put(m.getKeys(), m) == null, "duplicate delivery of " + m.getKeys());
        }
        assertEquals(bodies.keySet(), byKey.keySet(), "keys received");
        bodies.forEach((key, expected) -> {
            byte[] actual = byKey.get(key).getBody();
            assertEquals(expected.length, actual.length, key + " body length");
            assertArrayEquals(expected, actual, key + " body bytes");
        });
    }

    /**
     * The broker also serves the "fast"/VIP port (listenPort - 2): a producer with
     * vipChannelEnabled sends there (4.3.x clients do by default), one without uses listenPort.
     */
    @Test
    void sendsWorkThroughBothTheNormalAndTheFastPort(FerroMQ mq) throws Exception {
        String topic = mq.uniqueName("Ports");
        DefaultMQProducer normal = mq.startProducer(p -> p.setVipChannelEnabled(false));
        DefaultMQProducer fast = mq.startProducer(p -> p.setVipChannelEnabled(true));
        for (int i = 0; i < 3; i++) {
            SendResult viaNormal = normal.send(new Message(topic, "TagA", ("normal-" + i).getBytes(UTF_8)));
            assertEquals(SendStatus.SEND_OK, viaNormal.getSendStatus(), "send via port " + mq.brokerPort() + ": " + viaNormal);
            SendResult viaFast = fast.send(new Message(topic, "TagA", ("fast-" + i).getBytes(UTF_8)));
            assertEquals(SendStatus.SEND_OK, viaFast.getSendStatus(), "send via fast port " + (mq.brokerPort() - 2) + ": " + viaFast);
        }

        DefaultMQPushConsumer consumer = mq.newPushConsumer(mq.uniqueName("CG"));
        Inbox inbox = new Inbox();
        consumer.subscribe(topic, "*");
        consumer.registerMessageListener(inbox);
        consumer.start();
        inbox.awaitCount(6, RECEIVE_TIMEOUT);
        Consumers.awaitCaughtUp(topic, RECEIVE_TIMEOUT, consumer);
        assertEquals(Set.of("normal-0", "normal-1", "normal-2", "fast-0", "fast-1", "fast-2"),
            inbox.messages().stream().map(Inbox::body).collect(Collectors.toSet()), "bodies");
        assertEquals(6, inbox.messages().size(), "each message delivered exactly once");
    }

    /** 0, 1, ... n-1 as longs. */
    static final class LongStreamRange {
        static List<Long> of(int n) {
            return IntStream.range(0, n).mapToObj(i -> (long) i).collect(Collectors.toList());
        }
    }
}
