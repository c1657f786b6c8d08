package io.ferromq.interop;

import static io.ferromq.interop.Inbox.body;
import static java.nio.charset.StandardCharsets.UTF_8;
import static org.junit.jupiter.api.Assertions.assertAll;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.text.SimpleDateFormat;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Date;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Predicate;
import java.util.stream.Collectors;

import org.apache.rocketmq.client.consumer.DefaultMQPullConsumer;
import org.apache.rocketmq.client.consumer.DefaultMQPushConsumer;
import org.apache.rocketmq.client.consumer.MessageSelector;
import org.apache.rocketmq.client.consumer.PullResult;
import org.apache.rocketmq.client.consumer.PullStatus;
import org.apache.rocketmq.client.consumer.listener.ConsumeConcurrentlyStatus;
import org.apache.rocketmq.client.consumer.listener.ConsumeOrderlyContext;
import org.apache.rocketmq.client.consumer.listener.ConsumeOrderlyStatus;
import org.apache.rocketmq.client.consumer.listener.MessageListenerConcurrently;
import org.apache.rocketmq.client.consumer.listener.MessageListenerOrderly;
import org.apache.rocketmq.client.exception.MQBrokerException;
import org.apache.rocketmq.client.exception.MQClientException;
import org.apache.rocketmq.client.producer.DefaultMQProducer;
import org.apache.rocketmq.client.producer.MessageQueueSelector;
import org.apache.rocketmq.client.producer.SendResult;
import org.apache.rocketmq.client.producer.SendStatus;
import org.apache.rocketmq.common.consumer.ConsumeFromWhere;
import org.apache.rocketmq.common.message.Message;
import org.apache.rocketmq.common.message.MessageExt;
import org.apache.rocketmq.common.message.MessageQueue;
import org.apache.rocketmq.common.protocol.heartbeat.MessageModel;
import org.apache.rocketmq.common.subscription.SubscriptionGroupConfig;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * Every consumption model of the 4.x client: orderly (with rebalance and suspend), broadcasting,
 * retry and dead-letter queues, delay levels, start positions of new groups, tag and SQL92
 * filters, the pull consumer's statuses and subscription-group auto-creation.
 * ({@code DefaultLitePullConsumer}, which 4.3.0 lacks, is in {@link LitePullConsumerTest}.)
 */
@ExtendWith(FerroMQExtension.class)
class ConsumptionModelsTest {

    static final Duration RECEIVE_TIMEOUT = Duration.ofSeconds(45);
    static final Duration REBALANCE_TIMEOUT = Duration.ofSeconds(60);
    /** ResponseCode values of the remoting protocol. */
    static final int SYSTEM_ERROR = 1;
    static final int SUBSCRIPTION_PARSE_FAILED = 23;
    static final int SUBSCRIPTION_GROUP_NOT_EXIST = 26;
    /** 18 levels of 1 s, so that retries (level 3 + reconsumeTimes) come back after 1 s. */
    static final String ONE_SECOND_DELAY_LEVELS =
        "messageDelayLevel=1s 1s 1s 1s 1s 1s 1s 1s 1s 1s 1s 1s 1s 1s 1s 1s 1s 1s";

    /** Picks the queue whose id is {@code arg} (an Integer). */
    static final MessageQueueSelector QUEUE_ID = (mqs, msg, arg) -> {
        for (MessageQueue q : mqs) {
            if (q.getQueueId() == (Integer) arg) {
                return q;
            }
        }
        throw new IllegalStateException("no queue " + arg + " in " + mqs);
    };

    // ------------------------------------------------------------------------------------------
    // 1. Orderly
    // ------------------------------------------------------------------------------------------

    /**
     * Two orderly consumers of one group on a 4-queue topic, 4 order ids (one per queue, chosen
     * by a MessageQueueSelector) x 25 steps: each order id's steps are consumed ascending without
     * gaps, each queue by at most one instance at a time. Then one instance shuts down, 25 more
     * steps per order id are sent, and the survivor takes over all queues with the order intact
     * (a redelivery is tolerated only where the survivor takes over from the other instance).
     */
    @Test
    void orderlyConsumersKeepPerQueueOrderAndTheSurvivorTakesOver(FerroMQ mq) throws Exception {
        String topic = mq.uniqueName("Orderly");
        String group = mq.uniqueName("CG");
        DefaultMQProducer producer = mq.startProducer();
        createTopicWithWarmups(producer, topic);

        OrderlyLog log = new OrderlyLog();
        DefaultMQPushConsumer a = mq.newPushConsumer(group);
        DefaultMQPushConsumer b = mq.newPushConsumer(group);
        a.subscribe(topic, "*");
        b.subscribe(topic, "*");
        a.registerMessageListener(log.listener("A"));
        b.registerMessageListener(log.listener("B"));
        a.start();
        b.start();
        awaitSplit(topic, group, a, b);
        mq.note("orderly: group settled at 2 + 2 queues");

        sendOrderSteps(producer, topic, 0, 25);
        Await.until("the first 4 x 25 steps consumed", RECEIVE_TIMEOUT,
            () -> log.distinctSteps() >= 100, () -> log.summary());
        Consumers.awaitCaughtUp(topic, RECEIVE_TIMEOUT, a, b);
        List<Delivery> before = log.deliveries();
        assertEquals(List.of(), log.overlaps(), "a queue was inside two instances' listeners at once");
        assertEquals(List.of(), orderViolations(before), "order violations before the shutdown");
        assertEquals(100, before.size(), "each of the 100 messages consumed exactly once while the group "
            + "was stable: " + summarize(before));
        Set<Integer> queuesOfA = new TreeSet<>();
        Set<Integer> queuesOfB = new TreeSet<>();
        before.forEach(d -> (d.instance.equals("A") ? queuesOfA : queuesOfB).add(d.queueId));
        assertEquals(Set.of(), intersection(queuesOfA, queuesOfB), "queues consumed by both A and B");
        assertEquals(Set.of(0, 1, 2, 3), union(queuesOfA, queuesOfB), "queues consumed");

        // A leaves mid-stream: the remaining steps are sent right after it is gone.
        mq.note("orderly: first 100 steps consumed; shutting down A");
        a.shutdown();
        sendOrderSteps(producer, topic, 25, 50);
        Await.stable("the survivor B to hold all 4 queues", REBALANCE_TIMEOUT, Duration.ofSeconds(1),
            () -> Consumers.assignedQueues(b, topic).size() == 4,
            () -> "B holds " + Consumers.queueIds(Consumers.assignedQueues(b, topic)));
        mq.note("orderly: B holds all 4 queues");
        Await.until("all 4 x 50 steps consumed", RECEIVE_TIMEOUT, () -> log.distinctSteps() >= 200,
            () -> log.summary());
        Consumers.awaitCaughtUp(topic, RECEIVE_TIMEOUT, b);
        mq.note("orderly: all 200 steps consumed");

        List<Delivery> all = log.deliveries();
        assertEquals(List.of(), log.overlaps(), "a queue was inside two instances' listeners at once");
        assertEquals(List.of(), orderViolations(all), "order violations (all deliveries: " + summarize(all) + ")");
        Set<String> missing = new TreeSet<>();
        for (int order = 0; order < 4; order++) {
            for (int step = 0; step < 50; step++) {
                missing.add(order + "/" + step);
            }
        }
        all.forEach(d -> missing.remove(d.orderId + "/" + d.step));
        assertEquals(Set.of(), missing, "order/step never consumed");
        List<Delivery> after = all.subList(before.size(), all.size());
        assertEquals(Set.of("B"), after.stream().map(d -> d.instance).collect(Collectors.toSet()),
            "only the survivor consumes after the shutdown");
        for (Delivery d : after) {
            assertTrue(d.step >= 25 || queuesOfA.contains(d.queueId),
                "after the shutdown only A's former queues may redeliver old steps: " + d);
        }
    }

    /**
     * SUSPEND_CURRENT_QUEUE_A_MOMENT on the first delivery of one message: it is delivered again
     * (reconsumeTimes 1) after the suspend time, and the messages after it in its queue only
     * after that; the queue's order is intact.
     */
    @Test
    void suspendCurrentQueueAMomentRedeliversInOrder(FerroMQ mq) throws Exception {
        String topic = mq.uniqueName("Suspend");
        DefaultMQProducer producer = mq.startProducer();
        for (int i = 0; i < 10; i++) {
            sendTo(producer, topic, 0, new Message(topic, "TagS", "s-" + i, ("s-" + i).getBytes(UTF_8)));
        }
        for (int i = 0; i < 5; i++) {
            sendTo(producer, topic, 1, new Message(topic, "TagS", "t-" + i, ("t-" + i).getBytes(UTF_8)));
        }

        List<String> seen = Collections.synchronizedList(new ArrayList<>());
        Map<String, List<Long>> times = new ConcurrentHashMap<>();
        Map<String, List<Integer>> reconsumeTimes = new ConcurrentHashMap<>();
        DefaultMQPushConsumer consumer = mq.newPushConsumer(mq.uniqueName("CG"));
        consumer.setSuspendCurrentQueueTimeMillis(1000);
        consumer.subscribe(topic, "*");
        consumer.registerMessageListener((MessageListenerOrderly) (msgs, ctx) -> {
            for (MessageExt m : msgs) {
                String bd = body(m);
                seen.add(bd);
                times.computeIfAbsent(bd, k -> Collections.synchronizedList(new ArrayList<>()))
                    .add(System.currentTimeMillis());
                reconsumeTimes.computeIfAbsent(bd, k -> Collections.synchronizedList(new ArrayList<>()))
                    .add(m.getReconsumeTimes());
                if (bd.equals("s-3") && times.get(bd).size() == 1) {
                    return ConsumeOrderlyStatus.SUSPEND_CURRENT_QUEUE_A_MOMENT;
                }
            }
            return ConsumeOrderlyStatus.SUCCESS;
        });
        consumer.start();

        Await.until("s-9 and t-4 consumed", RECEIVE_TIMEOUT,
            () -> seen.contains("s-9") && seen.contains("t-4"), () -> seen.toString());
        Consumers.awaitCaughtUp(topic, RECEIVE_TIMEOUT, consumer);
        List<String> all;
        synchronized (seen) {
            all = new ArrayList<>(seen);
        }
        List<String> q0 = all.stream().filter(s -> s.startsWith("s-")).collect(Collectors.toList());
        List<String> q1 = all.stream().filter(s -> s.startsWith("t-")).collect(Collectors.toList());
        assertEquals(List.of("s-0", "s-1", "s-2", "s-3", "s-3", "s-4", "s-5", "s-6", "s-7", "s-8", "s-9"), q0,
            "queue 0: the suspended s-3 again, then the rest in order");
        assertEquals(List.of("t-0", "t-1", "t-2", "t-3", "t-4"), q1, "queue 1 in order, once each");
        assertEquals(List.of(0, 1), reconsumeTimes.get("s-3"), "reconsumeTimes of s-3's two deliveries");
        long gap = times.get("s-3").get(1) - times.get("s-3").get(0);
        assertTrue(gap >= 900, "s-3 redelivered after the 1000 ms suspend, was " + gap + " ms");
        assertTrue(times.get("s-4").get(0) >= times.get("s-3").get(1), "s-4 only after s-3's redelivery");
    }

    // ------------------------------------------------------------------------------------------
    // 3. Broadcasting
    // ------------------------------------------------------------------------------------------

    /** Two BROADCASTING consumers of one group each receive every message, exactly once. */
    @Test
    void broadcastingConsumersEachReceiveEveryMessage(FerroMQ mq) throws Exception {
        String topic = mq.uniqueName("Broadcast");
        String group = mq.uniqueName("CG");
        DefaultMQProducer producer = mq.startProducer();
        createTopicWithWarmups(producer, topic);

        DefaultMQPushConsumer c1 = mq.newPushConsumer(group);
        DefaultMQPushConsumer c2 = mq.newPushConsumer(group);
        Inbox in1 = new Inbox();
        Inbox in2 = new Inbox();
        for (DefaultMQPushConsumer c : List.of(c1, c2)) {
            c.setMessageModel(MessageModel.BROADCASTING);
            c.subscribe(topic, "*");
        }
        c1.registerMessageListener(in1);
        c2.registerMessageListener(in2);
        c1.start();
        c2.start();

        Set<String> expected = new TreeSet<>();
        for (int i = 0; i < 20; i++) {
            SendResult r = producer.send(new Message(topic, "TagA", ("bc-" + i).getBytes(UTF_8)));
            assertEquals(SendStatus.SEND_OK, r.getSendStatus());
            expected.add("bc-" + i);
        }
        Predicate<MessageExt> isBc = m -> body(m).startsWith("bc-");
        in1.awaitCount(20, RECEIVE_TIMEOUT, isBc);
        in2.awaitCount(20, RECEIVE_TIMEOUT, isBc);
        Consumers.awaitCaughtUp(topic, RECEIVE_TIMEOUT, c1);
        Consumers.awaitCaughtUp(topic, RECEIVE_TIMEOUT, c2);
        for (Inbox in : List.of(in1, in2)) {
            List<MessageExt> got = in.messages(isBc);
            assertEquals(expected, bodySet(got), "every message reaches each broadcasting consumer");
            assertEquals(20, got.size(), "exactly once each: " + Inbox.summary(got));
            assertEquals(4, in.messages(m -> body(m).startsWith("warmup-")).size(),
                "the 4 warm-up messages (sent before start, consumed from the first offset)");
        }
        assertEquals(4, Consumers.assignedQueues(c1, topic).size(), "broadcasting: c1 holds every queue");
        assertEquals(4, Consumers.assignedQueues(c2, topic).size(), "broadcasting: c2 holds every queue");
    }

    // ------------------------------------------------------------------------------------------
    // 4./5. Retry and DLQ
    // ------------------------------------------------------------------------------------------

    /**
     * RECONSUME_LATER three times, then CONSUME_SUCCESS: 4 deliveries with reconsumeTimes 0..3,
     * each with the original topic, msgId, body, tags, keys and user properties; none after.
     */
    @Test
    @BrokerConfig(ONE_SECOND_DELAY_LEVELS)
    void reconsumeLaterRedeliversWithIncreasingReconsumeTimes(FerroMQ mq) throws Exception {
        String topic = mq.uniqueName("Retry");
        String group = mq.uniqueName("CG");
        DefaultMQProducer producer = mq.startProducer();
        Message msg = new Message(topic, "TagR", "retry-key", "retry me".getBytes(UTF_8));
        msg.putUserProperty("color", "blue");
        msg.putUserProperty("n", "42");
        SendResult sent = producer.send(msg);
        assertEquals(SendStatus.SEND_OK, sent.getSendStatus());

        List<MessageExt> deliveries = Collections.synchronizedList(new ArrayList<>());
        DefaultMQPushConsumer consumer = mq.newPushConsumer(group);
        consumer.subscribe(topic, "*");
        consumer.registerMessageListener((MessageListenerConcurrently) (msgs, ctx) -> {
            deliveries.addAll(msgs);
            return deliveries.size() <= 3 ? ConsumeConcurrentlyStatus.RECONSUME_LATER
                : ConsumeConcurrentlyStatus.CONSUME_SUCCESS;
        });
        consumer.start();

        Await.until("4 deliveries", Duration.ofSeconds(60), () -> deliveries.size() >= 4,
            () -> describe(deliveries));
        String retryTopic = "%RETRY%" + group;
        Consumers.awaitCaughtUp(topic, RECEIVE_TIMEOUT, consumer);
        Consumers.awaitCaughtUp(retryTopic, RECEIVE_TIMEOUT, consumer);
        // A 5th delivery would come 1 s (one delay level) after a 4th RECONSUME_LATER; watch for 3 s.
        Await.never("a 5th delivery after CONSUME_SUCCESS", Duration.ofSeconds(3),
            () -> deliveries.size() > 4, () -> describe(deliveries));

        List<MessageExt> got;
        synchronized (deliveries) {
            got = new ArrayList<>(deliveries);
        }
        assertEquals(List.of(0, 1, 2, 3), got.stream().map(MessageExt::getReconsumeTimes).collect(Collectors.toList()),
            "reconsumeTimes of the 4 deliveries");
        for (MessageExt m : got) {
            assertAll("delivery with reconsumeTimes " + m.getReconsumeTimes() + ": " + m,
                () -> assertEquals(topic, m.getTopic(), "topic (the client restores it from RETRY_TOPIC)"),
                () -> assertEquals(sent.getMsgId(), m.getMsgId(), "msgId"),
                () -> assertEquals("retry me", body(m), "body"),
                () -> assertEquals("TagR", m.getTags(), "tags"),
                () -> assertEquals("retry-key", m.getKeys(), "keys"),
                () -> assertEquals("blue", m.getUserProperty("color"), "user property color"),
                () -> assertEquals("42", m.getUserProperty("n"), "user property n"));
        }
    }

    /**
     * maxReconsumeTimes=2 and a listener that always says RECONSUME_LATER: 3 deliveries, then
     * the message is in %DLQ%{group}, where a consumer of another group receives it with its
     * body, keys and user properties, ORIGIN_MESSAGE_ID and RETRY_TOPIC.
     */
    @Test
    @BrokerConfig(ONE_SECOND_DELAY_LEVELS)
    void exhaustedRetriesEndInTheDeadLetterQueue(FerroMQ mq) throws Exception {
        String topic = mq.uniqueName("Dlq");
        String group = mq.uniqueName("CG");
        String dlq = "%DLQ%" + group;
        DefaultMQProducer producer = mq.startProducer();
        Message msg = new Message(topic, "TagD", "dlq-key", "doomed".getBytes(UTF_8));
        msg.putUserProperty("color", "red");
        SendResult sent = producer.send(msg);
        assertEquals(SendStatus.SEND_OK, sent.getSendStatus());

        List<MessageExt> deliveries = Collections.synchronizedList(new ArrayList<>());
        DefaultMQPushConsumer consumer = mq.newPushConsumer(group);
        consumer.setMaxReconsumeTimes(2);
        consumer.subscribe(topic, "*");
        consumer.registerMessageListener((MessageListenerConcurrently) (msgs, ctx) -> {
            deliveries.addAll(msgs);
            return ConsumeConcurrentlyStatus.RECONSUME_LATER;
        });
        consumer.start();
        Await.until("3 deliveries (reconsumeTimes 0, 1, 2)", Duration.ofSeconds(60),
            () -> deliveries.size() >= 3, () -> describe(deliveries));

        // The broker creates the DLQ topic when the message goes there; wait for its route.
        DefaultMQPullConsumer probe = mq.startPullConsumer();
        List<String> probeState = new ArrayList<>();
        Await.until(dlq + " to exist and hold the message", RECEIVE_TIMEOUT, () -> {
            try {
                long total = 0;
                for (MessageQueue q : probe.fetchSubscribeMessageQueues(dlq)) {
                    total += probe.maxOffset(q);
                }
                probeState.add("max offsets total " + total);
                return total >= 1;
            } catch (MQClientException e) {
                probeState.add(e.getErrorMessage() == null ? e.toString() : e.getErrorMessage());
                return false;
            }
        }, () -> probeState.isEmpty() ? "" : probeState.get(probeState.size() - 1));

        DefaultMQPushConsumer dlqConsumer = mq.newPushConsumer(mq.uniqueName("CGDLQ"));
        Inbox dlqInbox = new Inbox();
        dlqConsumer.subscribe(dlq, "*");
        dlqConsumer.registerMessageListener(dlqInbox);
        dlqConsumer.start();
        dlqInbox.awaitCount(1, RECEIVE_TIMEOUT);
        Consumers.awaitCaughtUp(dlq, RECEIVE_TIMEOUT, dlqConsumer);
        Await.never("a 4th delivery to the original group", Duration.ofSeconds(3),
            () -> deliveries.size() > 3, () -> describe(deliveries));

        assertEquals(List.of(0, 1, 2), reconsumeTimesOf(deliveries), "deliveries before the DLQ");
        assertEquals(1, probe.fetchSubscribeMessageQueues(dlq).size(), "queues of " + dlq);
        assertEquals(1, probe.fetchSubscribeMessageQueues("%RETRY%" + group).size(), "queues of %RETRY%" + group);
        List<MessageExt> dead = dlqInbox.messages();
        assertEquals(1, dead.size(), "exactly one message in the DLQ: " + Inbox.summary(dead));
        MessageExt d = dead.get(0);
        assertAll("DLQ message " + d,
            () -> assertEquals(dlq, d.getTopic(), "topic"),
            () -> assertEquals("doomed", body(d), "body"),
            () -> assertEquals("dlq-key", d.getKeys(), "keys"),
            () -> assertEquals("TagD", d.getTags(), "tags"),
            () -> assertEquals("red", d.getUserProperty("color"), "user property"),
            () -> assertEquals(sent.getMsgId(), d.getMsgId(), "msgId (UNIQ_KEY)"),
            () -> assertEquals(topic, d.getProperty("RETRY_TOPIC"), "property RETRY_TOPIC"),
            () -> assertEquals(sent.getOffsetMsgId(), d.getProperty("ORIGIN_MESSAGE_ID"),
                "property ORIGIN_MESSAGE_ID (the original's offset msgId)"),
            () -> assertEquals(3, d.getReconsumeTimes(), "reconsumeTimes"));
    }

    // ------------------------------------------------------------------------------------------
    // 6. Delay levels
    // ------------------------------------------------------------------------------------------

    /**
     * messageDelayLevel=1s 2s 3s: level 2 arrives 2 s after the send (at most 1.5 s late), level 9
     * is clamped to level 3 (3 s). A level-3 message survives a graceful restart right after its
     * send and is delivered once.
     */
    @Test
    @BrokerConfig("messageDelayLevel=1s 2s 3s")
    void delayLevelsDelayDeliveryAndSurviveARestart(FerroMQ mq) throws Exception {
        String topic = mq.uniqueName("Delay");
        DefaultMQProducer producer = mq.startProducer();
        createTopicWithWarmups(producer, topic);

        Map<String, List<Long>> arrivals = new ConcurrentHashMap<>();
        DefaultMQPushConsumer consumer = mq.newPushConsumer(mq.uniqueName("CG"));
        consumer.subscribe(topic, "*");
        consumer.registerMessageListener((MessageListenerConcurrently) (msgs, ctx) -> {
            long now = System.currentTimeMillis();
            for (MessageExt m : msgs) {
                arrivals.computeIfAbsent(body(m), k -> Collections.synchronizedList(new ArrayList<>())).add(now);
            }
            return ConsumeConcurrentlyStatus.CONSUME_SUCCESS;
        });
        consumer.start();
        Await.until("the 4 warm-up messages", RECEIVE_TIMEOUT,
            () -> arrivals.keySet().stream().filter(k -> k.startsWith("warmup-")).count() == 4,
            () -> arrivals.keySet().toString());
        Await.stable("the consumer to hold all 4 queues", REBALANCE_TIMEOUT, Duration.ofMillis(500),
            () -> Consumers.assignedQueues(consumer, topic).size() == 4, () -> "");

        long sent2 = System.currentTimeMillis();
        sendDelayed(producer, topic, "delay-2", 2);
        long sent9 = System.currentTimeMillis();
        sendDelayed(producer, topic, "delay-9", 9);
        Await.until("delay-2 and delay-9 delivered", Duration.ofSeconds(20),
            () -> arrivals.containsKey("delay-2") && arrivals.containsKey("delay-9"), () -> arrivals.keySet().toString());
        long d2 = arrivals.get("delay-2").get(0) - sent2;
        long d9 = arrivals.get("delay-9").get(0) - sent9;
        mq.note("delay: level 2 after " + d2 + " ms, level 9 after " + d9 + " ms");
        assertTrue(d2 >= 2000 && d2 <= 3500, "level 2 (2 s) delivered after " + d2 + " ms");
        assertTrue(d9 >= 3000 && d9 <= 4500, "level 9, clamped to the max level 3 (3 s), delivered after " + d9 + " ms");

        sendDelayed(producer, topic, "delay-restart", 3);
        mq.note("delay: delay-restart sent, restarting");
        mq.restart();
        mq.note("delay: restarted");
        // Clients re-register within their 30 s heartbeat period; do it now to keep the test short.
        heartbeat(consumer);
        heartbeat(producer);
        Await.until("delay-restart delivered after the restart", Duration.ofSeconds(60),
            () -> arrivals.containsKey("delay-restart"), () -> arrivals.keySet().toString());
        mq.note("delay: delay-restart delivered");
        Consumers.awaitCaughtUp(topic, RECEIVE_TIMEOUT, consumer);
        Map<String, Integer> counts = new TreeMap<>();
        arrivals.forEach((k, v) -> counts.put(k, v.size()));
        for (String k : List.of("delay-2", "delay-9", "delay-restart")) {
            assertEquals(1, counts.get(k), k + " delivered exactly once; all counts " + counts);
        }
    }

    // ------------------------------------------------------------------------------------------
    // 7. Start positions
    // ------------------------------------------------------------------------------------------

    /**
     * New groups on a topic whose (few) messages are all still in memory. The Java broker answers
     * a new group's offset query with 0 while the queue's first message is not swapped out
     * (ConsumerManageProcessor.queryConsumerOffset), so CONSUME_FROM_LAST_OFFSET and
     * CONSUME_FROM_TIMESTAMP both start at offset 0 and get the old messages too, like
     * CONSUME_FROM_FIRST_OFFSET; the timestamp only matters via searchOffset, which finds the
     * first message of the later batch.
     */
    @Test
    void newGroupsStartPositionsOnATopicWithExistingMessages(FerroMQ mq) throws Exception {
        String topic = mq.uniqueName("StartPos");
        DefaultMQProducer producer = mq.startProducer();
        Set<String> all = new TreeSet<>();
        for (int i = 0; i < 4; i++) {
            sendTo(producer, topic, 0, new Message(topic, "TagA", ("old-" + i).getBytes(UTF_8)));
            all.add("old-" + i);
        }
        // A whole second strictly between the two batches (consumeTimestamp has 1 s resolution).
        long between = (System.currentTimeMillis() / 1000 + 1) * 1000;
        Await.until("the clock to pass the boundary", Duration.ofSeconds(5),
            () -> System.currentTimeMillis() >= between + 300);
        sendTo(producer, topic, 0, new Message(topic, "TagA", "new-0".getBytes(UTF_8)));
        long afterFirstNew = System.currentTimeMillis();
        Await.until("the clock to tick", Duration.ofSeconds(2), () -> System.currentTimeMillis() > afterFirstNew + 5);
        all.add("new-0");
        for (int i = 1; i < 4; i++) {
            sendTo(producer, topic, 0, new Message(topic, "TagA", ("new-" + i).getBytes(UTF_8)));
            all.add("new-" + i);
        }

        Map<ConsumeFromWhere, Inbox> inboxes = new LinkedHashMap<>();
        List<DefaultMQPushConsumer> consumers = new ArrayList<>();
        for (ConsumeFromWhere where : List.of(ConsumeFromWhere.CONSUME_FROM_FIRST_OFFSET,
            ConsumeFromWhere.CONSUME_FROM_LAST_OFFSET, ConsumeFromWhere.CONSUME_FROM_TIMESTAMP)) {
            DefaultMQPushConsumer c = mq.newPushConsumer(mq.uniqueName("CG" + where.ordinal()));
            c.setConsumeFromWhere(where);
            c.setConsumeTimestamp(new SimpleDateFormat("yyyyMMddHHmmss").format(new Date(between)));
            Inbox in = new Inbox();
            c.subscribe(topic, "*");
            c.registerMessageListener(in);
            c.start();
            inboxes.put(where, in);
            consumers.add(c);
        }
        inboxes.get(ConsumeFromWhere.CONSUME_FROM_FIRST_OFFSET).awaitCount(8, RECEIVE_TIMEOUT);
        for (DefaultMQPushConsumer c : consumers) {
            Consumers.awaitCaughtUp(topic, RECEIVE_TIMEOUT, c);
        }
        inboxes.forEach((where, in) -> {
            List<MessageExt> got = in.messages();
            assertEquals(all, bodySet(got), where + ": a new group starts at offset 0 while the queue's "
                + "messages are in memory (Java broker rule), so it receives old and new messages");
            assertEquals(8, got.size(), where + ": each once: " + Inbox.summary(got));
        });

        MessageExt firstNew = inboxes.get(ConsumeFromWhere.CONSUME_FROM_FIRST_OFFSET)
            .messages(m -> body(m).equals("new-0")).get(0);
        assertEquals(4, firstNew.getQueueOffset(), "queue offset of new-0");
        DefaultMQPullConsumer pull = mq.startPullConsumer();
        MessageQueue q0 = queue(pull.fetchSubscribeMessageQueues(topic), 0);
        long storeTs = firstNew.getStoreTimestamp();
        assertEquals(4, pull.searchOffset(q0, storeTs), "searchOffset at new-0's store timestamp " + storeTs);
        assertEquals(4, pull.searchOffset(q0, storeTs - 1),
            "searchOffset 1 ms before new-0 (between the batches, nearest is new-0)");
    }

    // ------------------------------------------------------------------------------------------
    // 8./9. Filters
    // ------------------------------------------------------------------------------------------

    /** subscribe("TagA || TagB") gets exactly the TagA and TagB messages, no TagC. */
    @Test
    void tagExpressionReceivesExactlyTheListedTags(FerroMQ mq) throws Exception {
        String topic = mq.uniqueName("Tags");
        DefaultMQProducer producer = mq.startProducer();
        Set<String> expected = new TreeSet<>();
        for (int i = 0; i < 3; i++) {
            for (String tag : List.of("TagA", "TagB", "TagC")) {
                sendTo(producer, topic, 0, new Message(topic, tag, (tag + "-" + i).getBytes(UTF_8)));
                if (!tag.equals("TagC")) {
                    expected.add(tag + "-" + i);
                }
            }
        }
        // The queue ends with a matching message, so the consumer's offset reaches the max offset.
        sendTo(producer, topic, 0, new Message(topic, "TagA", "TagA-last".getBytes(UTF_8)));
        expected.add("TagA-last");

        DefaultMQPushConsumer consumer = mq.newPushConsumer(mq.uniqueName("CG"));
        Inbox inbox = new Inbox();
        consumer.subscribe(topic, "TagA || TagB");
        consumer.registerMessageListener(inbox);
        consumer.start();
        inbox.awaitCount(7, RECEIVE_TIMEOUT);
        Consumers.awaitCaughtUp(topic, RECEIVE_TIMEOUT, consumer);
        List<MessageExt> got = inbox.messages();
        assertEquals(expected, bodySet(got), "bodies received");
        assertEquals(7, got.size(), "each once: " + Inbox.summary(got));
        for (MessageExt m : got) {
            assertEquals(body(m).substring(0, 4), m.getTags(), "tags of " + body(m));
        }
    }

    /**
     * enablePropertyFilter=true: MessageSelector.bySql("a > 5 AND b = 'x'") receives exactly the
     * messages whose user properties match; a malformed expression makes start() fail with
     * SUBSCRIPTION_PARSE_FAILED from the broker's CHECK_CLIENT_CONFIG.
     */
    @Test
    @BrokerConfig("enablePropertyFilter=true")
    void sql92FilterReceivesExactlyTheMatchingMessages(FerroMQ mq) throws Exception {
        String topic = mq.uniqueName("Sql");
        DefaultMQProducer producer = mq.startProducer();
        Set<String> expected = new TreeSet<>();
        for (int a : new int[] {3, 6, 9}) {
            for (String b : List.of("x", "y")) {
                String bd = "a" + a + "-b" + b;
                Message m = new Message(topic, "TagQ", bd.getBytes(UTF_8));
                m.putUserProperty("a", Integer.toString(a));
                m.putUserProperty("b", b);
                sendTo(producer, topic, 0, m);
                if (a > 5 && b.equals("x")) {
                    expected.add(bd);
                }
            }
        }
        sendTo(producer, topic, 0, new Message(topic, "TagQ", "no-properties".getBytes(UTF_8)));
        Message only = new Message(topic, "TagQ", "only-b".getBytes(UTF_8));
        only.putUserProperty("b", "x");
        sendTo(producer, topic, 0, only);
        Message last = new Message(topic, "TagQ", "a7-bx-last".getBytes(UTF_8));
        last.putUserProperty("a", "7");
        last.putUserProperty("b", "x");
        sendTo(producer, topic, 0, last);
        expected.add("a7-bx-last");

        DefaultMQPushConsumer consumer = mq.newPushConsumer(mq.uniqueName("CG"));
        Inbox inbox = new Inbox();
        consumer.subscribe(topic, MessageSelector.bySql("a > 5 AND b = 'x'"));
        consumer.registerMessageListener(inbox);
        consumer.start();
        inbox.awaitCount(expected.size(), RECEIVE_TIMEOUT);
        Consumers.awaitCaughtUp(topic, RECEIVE_TIMEOUT, consumer);
        List<MessageExt> got = inbox.messages();
        assertEquals(expected, bodySet(got), "bodies matching a > 5 AND b = 'x'");
        assertEquals(expected.size(), got.size(), "each once: " + Inbox.summary(got));

        DefaultMQPushConsumer bad = mq.newPushConsumer(mq.uniqueName("CGBAD"));
        bad.subscribe(topic, MessageSelector.bySql("a > AND (b = 'x'"));
        bad.registerMessageListener(new Inbox());
        MQClientException e = assertThrows(MQClientException.class, bad::start,
            "start() of a consumer with a malformed SQL92 expression");
        mq.note("malformed SQL92: code " + e.getResponseCode() + ", message: " + e.getMessage());
        assertEquals(SUBSCRIPTION_PARSE_FAILED, e.getResponseCode(),
            "response code (SUBSCRIPTION_PARSE_FAILED); message: " + e.getMessage());
    }

    /**
     * Default config (enablePropertyFilter=false): a SQL92 consumer's start() fails with the
     * broker's "The broker does not support consumer to filter message by SQL92".
     */
    @Test
    void sql92FilterIsRejectedWhenThePropertyFilterIsOff(FerroMQ mq) throws Exception {
        String topic = mq.uniqueName("SqlOff");
        DefaultMQProducer producer = mq.startProducer();
        createTopicWithWarmups(producer, topic);
        DefaultMQPushConsumer consumer = mq.newPushConsumer(mq.uniqueName("CG"));
        consumer.subscribe(topic, MessageSelector.bySql("a > 5"));
        consumer.registerMessageListener(new Inbox());
        MQClientException e = assertThrows(MQClientException.class, consumer::start,
            "start() of a SQL92 consumer on a broker without enablePropertyFilter");
        String text = e.getMessage();
        mq.note("SQL92 with the property filter off: code " + e.getResponseCode() + ", message: " + text);
        assertTrue(text != null && text.contains("does not support") && text.contains("SQL92"),
            "exception message should say the broker does not support SQL92, was: " + text);
        assertEquals(SYSTEM_ERROR, e.getResponseCode(), "response code (SYSTEM_ERROR); message: " + text);
    }

    // ------------------------------------------------------------------------------------------
    // 10. Pull consumer
    // ------------------------------------------------------------------------------------------

    /**
     * DefaultMQPullConsumer on one queue: FOUND with the messages, NO_NEW_MSG at the max offset,
     * OFFSET_ILLEGAL (pointing back to the max offset) far beyond it, NO_MATCHED_MSG when no
     * message matches the tag; on an empty queue NO_NEW_MSG at 0 and OFFSET_ILLEGAL beyond 0.
     */
    @Test
    @SuppressWarnings("deprecation")
    void pullConsumerStatuses(FerroMQ mq) throws Exception {
        String topic = mq.uniqueName("Pull");
        DefaultMQProducer producer = mq.startProducer();
        for (int i = 0; i < 6; i++) {
            sendTo(producer, topic, 1, new Message(topic, "TagP", "PK" + i, ("pull-" + i).getBytes(UTF_8)));
        }
        DefaultMQPullConsumer pull = mq.startPullConsumer();
        Set<MessageQueue> queues = pull.fetchSubscribeMessageQueues(topic);
        MessageQueue q1 = queue(queues, 1);
        MessageQueue q0 = queue(queues, 0);

        PullResult found = pull.pull(q1, "*", 0, 32);
        assertEquals(PullStatus.FOUND, found.getPullStatus(), "pull at 0: " + found);
        assertEquals(List.of("pull-0", "pull-1", "pull-2", "pull-3", "pull-4", "pull-5"),
            found.getMsgFoundList().stream().map(Inbox::body).collect(Collectors.toList()), "bodies in order");
        assertAll("FOUND result " + found,
            () -> assertEquals(6, found.getNextBeginOffset(), "nextBeginOffset"),
            () -> assertEquals(0, found.getMinOffset(), "minOffset"),
            () -> assertEquals(6, found.getMaxOffset(), "maxOffset"));
        for (int i = 0; i < 6; i++) {
            MessageExt m = found.getMsgFoundList().get(i);
            assertEquals(i, m.getQueueOffset(), "queue offset of " + body(m));
            assertEquals("PK" + i, m.getKeys(), "keys of " + body(m));
        }

        PullResult middle = pull.pull(q1, "*", 2, 2);
        assertEquals(PullStatus.FOUND, middle.getPullStatus(), "pull 2 at offset 2: " + middle);
        assertEquals(List.of("pull-2", "pull-3"),
            middle.getMsgFoundList().stream().map(Inbox::body).collect(Collectors.toList()), "maxNums honoured");
        assertEquals(4, middle.getNextBeginOffset(), "nextBeginOffset after 2 of offset 2");

        PullResult end = pull.pull(q1, "*", 6, 32);
        assertAll("pull at the max offset 6: " + end,
            () -> assertEquals(PullStatus.NO_NEW_MSG, end.getPullStatus()),
            () -> assertEquals(6, end.getNextBeginOffset(), "nextBeginOffset"));

        PullResult far = pull.pull(q1, "*", 1000, 32);
        assertAll("pull at offset 1000 of a queue with max offset 6: " + far,
            () -> assertEquals(PullStatus.OFFSET_ILLEGAL, far.getPullStatus()),
            () -> assertEquals(6, far.getNextBeginOffset(), "nextBeginOffset (back to the max offset)"));

        PullResult unmatched = pull.pull(q1, "NoSuchTag", 0, 32);
        assertAll("pull with a tag no message has: " + unmatched,
            () -> assertEquals(PullStatus.NO_MATCHED_MSG, unmatched.getPullStatus()),
            () -> assertEquals(6, unmatched.getNextBeginOffset(), "nextBeginOffset (past the scanned messages)"));

        PullResult empty = pull.pull(q0, "*", 0, 32);
        assertAll("pull at 0 of the empty queue 0: " + empty,
            () -> assertEquals(PullStatus.NO_NEW_MSG, empty.getPullStatus()),
            () -> assertEquals(0, empty.getNextBeginOffset(), "nextBeginOffset"));
        PullResult emptyFar = pull.pull(q0, "*", 5, 32);
        assertAll("pull at 5 of the empty queue 0: " + emptyFar,
            () -> assertEquals(PullStatus.OFFSET_ILLEGAL, emptyFar.getPullStatus()),
            () -> assertEquals(0, emptyFar.getNextBeginOffset(), "nextBeginOffset"));
    }

    // ------------------------------------------------------------------------------------------
    // 11. Subscription groups
    // ------------------------------------------------------------------------------------------

    /** autoCreateSubscriptionGroup=true (default): a group nobody created just works, push and pull. */
    @Test
    @SuppressWarnings("deprecation")
    void newGroupWorksWithAutoCreateSubscriptionGroup(FerroMQ mq) throws Exception {
        String topic = mq.uniqueName("AutoGroup");
        DefaultMQProducer producer = mq.startProducer();
        for (int i = 0; i < 3; i++) {
            sendTo(producer, topic, 0, new Message(topic, "TagA", ("auto-" + i).getBytes(UTF_8)));
        }
        DefaultMQPushConsumer consumer = mq.newPushConsumer(mq.uniqueName("CGNEW"));
        Inbox inbox = new Inbox();
        consumer.subscribe(topic, "*");
        consumer.registerMessageListener(inbox);
        consumer.start();
        inbox.awaitCount(3, RECEIVE_TIMEOUT);

        DefaultMQPullConsumer pull = mq.startPullConsumer(mq.uniqueName("PULLNEW"));
        PullResult r = pull.pull(queue(pull.fetchSubscribeMessageQueues(topic), 0), "*", 0, 32);
        assertEquals(PullStatus.FOUND, r.getPullStatus(), "pull of a new group: " + r);
        assertEquals(3, r.getMsgFoundList().size(), "messages pulled");
    }

    /**
     * autoCreateSubscriptionGroup=false: pulls of an unknown group fail with
     * SUBSCRIPTION_GROUP_NOT_EXIST (26), so a push consumer of such a group gets nothing; once the
     * group is created (UPDATE_AND_CREATE_SUBSCRIPTIONGROUP) the same consumer gets the messages.
     */
    @Test
    @BrokerConfig("autoCreateSubscriptionGroup=false")
    @SuppressWarnings("deprecation")
    void unknownGroupIsRejectedWithoutAutoCreateSubscriptionGroup(FerroMQ mq) throws Exception {
        String topic = mq.uniqueName("NoAutoGroup");
        DefaultMQProducer producer = mq.startProducer();
        for (int i = 0; i < 5; i++) {
            sendTo(producer, topic, 0, new Message(topic, "TagA", ("g-" + i).getBytes(UTF_8)));
        }

        String pullGroup = mq.uniqueName("PULLUNKNOWN");
        DefaultMQPullConsumer pull = mq.startPullConsumer(pullGroup);
        MessageQueue q0 = queue(pull.fetchSubscribeMessageQueues(topic), 0);
        MQBrokerException e = assertThrows(MQBrokerException.class, () -> pull.pull(q0, "*", 0, 32),
            "pull by a group the broker does not know");
        mq.note("pull of an unknown group: code " + e.getResponseCode() + ", remark: " + e.getErrorMessage());
        assertEquals(SUBSCRIPTION_GROUP_NOT_EXIST, e.getResponseCode(),
            "response code (SUBSCRIPTION_GROUP_NOT_EXIST); remark: " + e.getErrorMessage());

        String group = mq.uniqueName("CGUNKNOWN");
        DefaultMQPushConsumer consumer = mq.newPushConsumer(group);
        Inbox inbox = new Inbox();
        consumer.subscribe(topic, "*");
        consumer.registerMessageListener(inbox);
        consumer.start();
        Await.until("the push consumer to be assigned the queues", REBALANCE_TIMEOUT,
            () -> Consumers.assignedQueues(consumer, topic).size() == 4,
            () -> "holds " + Consumers.queueIds(Consumers.assignedQueues(consumer, topic)));
        // Its pulls fail and are retried every 3 s; watch two retry rounds.
        Await.never("a push consumer of an unknown group received a message", Duration.ofSeconds(7),
            () -> !inbox.messages().isEmpty(), () -> Inbox.summary(inbox.messages()));

        // Positive control: create the groups; then the same clients get the messages.
        for (String g : List.of(group, pullGroup)) {
            SubscriptionGroupConfig config = new SubscriptionGroupConfig();
            config.setGroupName(g);
            consumer.getDefaultMQPushConsumerImpl().getmQClientFactory().getMQClientAPIImpl()
                .createSubscriptionGroup(mq.brokerAddr(), config, 5000);
        }
        PullResult r = pull.pull(q0, "*", 0, 32);
        assertEquals(PullStatus.FOUND, r.getPullStatus(), "pull after the group was created: " + r);
        inbox.awaitCount(5, RECEIVE_TIMEOUT);
        assertEquals(Set.of("g-0", "g-1", "g-2", "g-3", "g-4"), bodySet(inbox.messages()),
            "push consumer after its group was created");
    }

    // ------------------------------------------------------------------------------------------
    // Helpers
    // ------------------------------------------------------------------------------------------

    /** Creates the topic (4 queues) with one "warmup-{q}" message in each queue. */
    static void createTopicWithWarmups(DefaultMQProducer producer, String topic) throws Exception {
        for (int q = 0; q < 4; q++) {
            sendTo(producer, topic, q, new Message(topic, "TagW", ("warmup-" + q).getBytes(UTF_8)));
        }
    }

    static SendResult sendTo(DefaultMQProducer producer, String topic, int queueId, Message msg) throws Exception {
        SendResult r = producer.send(msg, QUEUE_ID, queueId);
        assertEquals(SendStatus.SEND_OK, r.getSendStatus(), "send of " + new String(msg.getBody(), UTF_8) + ": " + r);
        assertEquals(queueId, r.getMessageQueue().getQueueId(), "queue chosen by the selector");
        return r;
    }

    static void sendDelayed(DefaultMQProducer producer, String topic, String bd, int level) throws Exception {
        Message m = new Message(topic, "TagD", bd.getBytes(UTF_8));
        m.setDelayTimeLevel(level);
        SendResult r = producer.send(m);
        assertEquals(SendStatus.SEND_OK, r.getSendStatus(), "send of " + bd + ": " + r);
    }

    static void heartbeat(DefaultMQPushConsumer consumer) {
        consumer.getDefaultMQPushConsumerImpl().getmQClientFactory().sendHeartbeatToAllBrokerWithLock();
    }

    static void heartbeat(DefaultMQProducer producer) {
        producer.getDefaultMQProducerImpl().getmQClientFactory().sendHeartbeatToAllBrokerWithLock();
    }

    static MessageQueue queue(Set<MessageQueue> queues, int id) {
        return queues.stream().filter(q -> q.getQueueId() == id).findFirst()
            .orElseThrow(() -> new AssertionError("no queue " + id + " in " + queues));
    }

    static Set<String> bodySet(List<MessageExt> msgs) {
        return msgs.stream().map(Inbox::body).collect(Collectors.toCollection(TreeSet::new));
    }

    static List<Integer> reconsumeTimesOf(List<MessageExt> msgs) {
        synchronized (msgs) {
            return msgs.stream().map(MessageExt::getReconsumeTimes).collect(Collectors.toList());
        }
    }

    static String describe(List<MessageExt> msgs) {
        synchronized (msgs) {
            return msgs.stream().map(m -> body(m) + "{reconsumeTimes=" + m.getReconsumeTimes() + ", topic="
                + m.getTopic() + "}").collect(Collectors.joining(", ", "[", "]"));
        }
    }

    static Set<Integer> union(Set<Integer> x, Set<Integer> y) {
        Set<Integer> u = new TreeSet<>(x);
        u.addAll(y);
        return u;
    }

    static Set<Integer> intersection(Set<Integer> x, Set<Integer> y) {
        Set<Integer> i = new TreeSet<>(x);
        i.retainAll(y);
        return i;
    }

    /** Waits until a and b hold 2 + 2 disjoint queues and see each other, continuously for 2 s. */
    static void awaitSplit(String topic, String group, DefaultMQPushConsumer a, DefaultMQPushConsumer b) {
        Await.stable("rebalance to settle at 2 + 2 queues", REBALANCE_TIMEOUT, Duration.ofSeconds(2), () -> {
            Set<MessageQueue> qa = Consumers.assignedQueues(a, topic);
            Set<MessageQueue> qb = Consumers.assignedQueues(b, topic);
            Set<MessageQueue> u = new HashSet<>(qa);
            u.addAll(qb);
            return qa.size() == 2 && qb.size() == 2 && u.size() == 4
                && Consumers.consumerIdsSeenBy(a, topic, group).size() == 2
                && Consumers.consumerIdsSeenBy(b, topic, group).size() == 2;
        }, () -> "A holds " + Consumers.queueIds(Consumers.assignedQueues(a, topic))
            + " and sees " + Consumers.consumerIdsSeenBy(a, topic, group)
            + ", B holds " + Consumers.queueIds(Consumers.assignedQueues(b, topic))
            + " and sees " + Consumers.consumerIdsSeenBy(b, topic, group));
    }

    /** Steps [from, to) of order ids 0..3, interleaved, each order id to queue (id % 4). */
    static void sendOrderSteps(DefaultMQProducer producer, String topic, int from, int to) throws Exception {
        for (int step = from; step < to; step++) {
            for (int order = 0; order < 4; order++) {
                Message m = new Message(topic, "TagO", "O" + order + "-S" + step,
                    ("order-" + order + "-step-" + step).getBytes(UTF_8));
                m.putUserProperty("orderId", Integer.toString(order));
                m.putUserProperty("step", Integer.toString(step));
                SendResult r = producer.send(m, (mqs, msg, arg) -> {
                    int id = (Integer) arg % mqs.size();
                    return QUEUE_ID.select(mqs, msg, id);
                }, order);
                assertEquals(SendStatus.SEND_OK, r.getSendStatus(), "send of order " + order + " step " + step);
            }
        }
    }

    /** One orderly delivery. */
    static final class Delivery {
        final String instance;
        final int queueId;
        final int orderId;
        final int step;
        final long queueOffset;

        Delivery(String instance, int queueId, int orderId, int step, long queueOffset) {
            this.instance = instance;
            this.queueId = queueId;
            this.orderId = orderId;
            this.step = step;
            this.queueOffset = queueOffset;
        }

        @Override
        public String toString() {
            return instance + ":q" + queueId + ":o" + orderId + "s" + step + "@" + queueOffset;
        }
    }

    /**
     * Per order id, each delivery must be the next step after the previous delivery; going back
     * (a redelivery) is allowed only where a different instance takes over.
     */
    static List<String> orderViolations(List<Delivery> log) {
        List<String> out = new ArrayList<>();
        Map<Integer, Delivery> last = new HashMap<>();
        for (Delivery d : log) {
            Delivery prev = last.get(d.orderId);
            int expected = prev == null ? 0 : prev.step + 1;
            boolean ok = d.step == expected
                || (prev != null && d.step < expected && !prev.instance.equals(d.instance));
            if (!ok) {
                out.add(d + " after " + prev);
            }
            last.put(d.orderId, d);
        }
        return out;
    }

    static String summarize(List<Delivery> log) {
        Map<String, List<Integer>> per = new TreeMap<>();
        for (Delivery d : log) {
            per.computeIfAbsent(d.instance + ":o" + d.orderId, k -> new ArrayList<>()).add(d.step);
        }
        return per.toString();
    }

    /** Shared record of two orderly consumers' deliveries and of concurrent use of a queue. */
    static final class OrderlyLog {
        private final List<Delivery> deliveries = new ArrayList<>();
        private final Map<Integer, String> inside = new ConcurrentHashMap<>();
        private final List<String> overlaps = Collections.synchronizedList(new ArrayList<>());

        MessageListenerOrderly listener(String instance) {
            return (List<MessageExt> msgs, ConsumeOrderlyContext ctx) -> {
                int q = ctx.getMessageQueue().getQueueId();
                String other = inside.putIfAbsent(q, instance);
                if (other != null) {
                    overlaps.add("queue " + q + " entered by " + instance + " while " + other + " was inside");
                }
                try {
                    for (MessageExt m : msgs) {
                        String order = m.getUserProperty("orderId");
                        if (order == null) {
                            continue; // warm-up message
                        }
                        synchronized (this) {
                            deliveries.add(new Delivery(instance, q, Integer.parseInt(order),
                                Integer.parseInt(m.getUserProperty("step")), m.getQueueOffset()));
                        }
                    }
                    Thread.sleep(2); // a little work, so that overlapping consumption would show
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                } finally {
                    inside.remove(q, instance);
                }
                return ConsumeOrderlyStatus.SUCCESS;
            };
        }

        synchronized List<Delivery> deliveries() {
            return new ArrayList<>(deliveries);
        }

        synchronized int distinctSteps() {
            return (int) deliveries.stream().map(d -> d.orderId + "/" + d.step).distinct().count();
        }

        List<String> overlaps() {
            synchronized (overlaps) {
                return new ArrayList<>(overlaps);
            }
        }

        synchronized String summary() {
            return deliveries.size() + " deliveries, " + distinctSteps() + " distinct: " + summarize(deliveries);
        }
    }
}
