package io.ferromq.interop;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static java.nio.charset.StandardCharsets.UTF_8;

import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.stream.Collectors;
import java.util.stream.IntStream;

import org.apache.rocketmq.client.consumer.DefaultMQPushConsumer;
import org.apache.rocketmq.client.producer.DefaultMQProducer;
import org.apache.rocketmq.client.producer.SendResult;
import org.apache.rocketmq.client.producer.SendStatus;
import org.apache.rocketmq.common.message.Message;
import org.apache.rocketmq.common.message.MessageExt;
import org.apache.rocketmq.common.message.MessageQueue;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/** Consumer offsets, rebalancing and broker restarts. */
@ExtendWith(FerroMQExtension.class)
class ConsumerProgressTest {

    static final Duration RECEIVE_TIMEOUT = Duration.ofSeconds(45);
    static final Duration REBALANCE_TIMEOUT = Duration.ofSeconds(60);

    /** A consumer shut down (offsets persisted) and restarted in the same group resumes where it stopped. */
    @Test
    void restartedConsumerResumesAfterItsCommittedOffset(FerroMQ mq) throws Exception {
        String topic = mq.uniqueName("Resume");
        String group = mq.uniqueName("CG");
        DefaultMQProducer producer = mq.startProducer();
        Set<String> first = sendBodies(producer, topic, "first-", 8);

        DefaultMQPushConsumer c1 = mq.newPushConsumer(group);
        Inbox inbox1 = new Inbox();
        c1.subscribe(topic, "*");
        c1.registerMessageListener(inbox1);
        c1.start();
        inbox1.awaitCount(8, RECEIVE_TIMEOUT);
        Consumers.awaitCaughtUp(topic, RECEIVE_TIMEOUT, c1);
        assertEquals(first, bodies(inbox1.messages()), "first consumer got the first batch");
        assertEquals(8, inbox1.messages().size(), "first batch delivered exactly once");
        c1.shutdown(); // persists the consume offsets to the broker

        Set<String> second = sendBodies(producer, topic, "second-", 6);

        DefaultMQPushConsumer c2 = mq.newPushConsumer(group);
        Inbox inbox2 = new Inbox();
        c2.subscribe(topic, "*");
        c2.registerMessageListener(inbox2);
        c2.start();
        inbox2.awaitCount(6, RECEIVE_TIMEOUT, m -> Inbox.body(m).startsWith("second-"));
        Consumers.awaitCaughtUp(topic, RECEIVE_TIMEOUT, c2);
        List<MessageExt> got = inbox2.messages();
        assertEquals(second, bodies(got), "restarted consumer got exactly the new messages (no redelivery)");
        assertEquals(6, got.size(), "no duplicates: " + Inbox.summary(got));
    }

    /** Two consumers of one group split a 4-queue topic 2/2 and consume every message exactly once. */
    @Test
    void twoConsumersInOneGroupSplitFourQueuesAndConsumeEachMessageOnce(FerroMQ mq) throws Exception {
        String topic = mq.uniqueName("Split");
        String group = mq.uniqueName("CG");
        DefaultMQProducer producer = mq.startProducer();
        // Create the topic (4 queues, one warm-up message in each) so consumers find its route.
        for (int q = 0; q < 4; q++) {
            SendResult r = producer.send(new Message(topic, "TagW", ("warmup-" + q).getBytes(UTF_8)),
                (mqs, msg, arg) -> mqs.stream().filter(x -> x.getQueueId() == (Integer) arg).findFirst().get(), q);
            assertEquals(SendStatus.SEND_OK, r.getSendStatus(), "warm-up send: " + r);
        }

        DefaultMQPushConsumer a = mq.newPushConsumer(group);
        DefaultMQPushConsumer b = mq.newPushConsumer(group);
        Inbox inboxA = new Inbox();
        Inbox inboxB = new Inbox();
        for (DefaultMQPushConsumer c : List.of(a, b)) {
            c.subscribe(topic, "*");
        }
        a.registerMessageListener(inboxA);
        b.registerMessageListener(inboxB);
        a.start();
        b.start();

        // Settled: both consumers see each other (consumer id list from the broker) and hold
        // 2 + 2 disjoint queues, continuously for 2 s. (A rebalance adds queues one at a time,
        // with a broker round trip each, so a consumer whose first rebalance still saw only
        // itself can be caught half-way at 2 queues on its way to 4; messages sent then may
        // legitimately be consumed twice.)
        Await.stable("rebalance to settle at 2 + 2 queues", REBALANCE_TIMEOUT, Duration.ofSeconds(2), () -> {
            Set<MessageQueue> qa = Consumers.assignedQueues(a, topic);
            Set<MessageQueue> qb = Consumers.assignedQueues(b, topic);
            Set<MessageQueue> union = new HashSet<>(qa);
            union.addAll(qb);
            return qa.size() == 2 && qb.size() == 2 && union.size() == 4
                && Consumers.consumerIdsSeenBy(a, topic, group).size() == 2
                && Consumers.consumerIdsSeenBy(b, topic, group).size() == 2;
        }, () -> "A holds " + Consumers.queueIds(Consumers.assignedQueues(a, topic))
            + " and sees consumers " + Consumers.consumerIdsSeenBy(a, topic, group)
            + ", B holds " + Consumers.queueIds(Consumers.assignedQueues(b, topic))
            + " and sees consumers " + Consumers.consumerIdsSeenBy(b, topic, group));
        Set<Integer> queuesA = Consumers.queueIds(Consumers.assignedQueues(a, topic));
        Set<Integer> queuesB = Consumers.queueIds(Consumers.assignedQueues(b, topic));

        Set<String> expected = sendBodies(producer, topic, "split-", 40);
        java.util.function.Predicate<MessageExt> isTestMsg = m -> Inbox.body(m).startsWith("split-");
        Await.until("40 messages consumed across both consumers", RECEIVE_TIMEOUT,
            () -> inboxA.messages(isTestMsg).size() + inboxB.messages(isTestMsg).size() >= 40,
            () -> "A got " + inboxA.messages(isTestMsg).size() + ", B got " + inboxB.messages(isTestMsg).size());
        Consumers.awaitCaughtUp(topic, RECEIVE_TIMEOUT, a, b);

        List<MessageExt> gotA = inboxA.messages(isTestMsg);
        List<MessageExt> gotB = inboxB.messages(isTestMsg);
        List<MessageExt> all = new ArrayList<>(gotA);
        all.addAll(gotB);
        assertEquals(expected, bodies(all), "every message consumed by one of the two consumers");
        assertEquals(40, all.size(), "every message consumed exactly once: A " + Inbox.summary(gotA)
            + " B " + Inbox.summary(gotB));
        assertEquals(queuesA, queueIdsOf(gotA), "A received messages only from (all of) its queues");
        assertEquals(queuesB, queueIdsOf(gotB), "B received messages only from (all of) its queues");
        assertEquals(Set.of(0, 1, 2, 3), union(queuesA, queuesB), "together they cover all 4 queues");
        // Rebalance stayed put while consuming.
        assertEquals(queuesA, Consumers.queueIds(Consumers.assignedQueues(a, topic)), "A's queues after consuming");
        assertEquals(queuesB, Consumers.queueIds(Consumers.assignedQueues(b, topic)), "B's queues after consuming");
    }

    /**
     * A graceful server restart keeps messages and consumer offsets: of 20 stored messages, 10 were
     * consumed before the restart; afterwards the same group gets exactly the other 10 and a new
     * group gets all 20. The producer from before the restart still works after it.
     */
    @Test
    void gracefulRestartKeepsMessagesAndConsumerOffsets(FerroMQ mq) throws Exception {
        String topic = mq.uniqueName("Restart");
        String group = mq.uniqueName("CG");
        DefaultMQProducer producer = mq.startProducer();
        Set<String> consumedBefore = sendBodies(producer, topic, "old-", 10);

        DefaultMQPushConsumer c1 = mq.newPushConsumer(group);
        Inbox inbox1 = new Inbox();
        c1.subscribe(topic, "*");
        c1.registerMessageListener(inbox1);
        c1.start();
        inbox1.awaitCount(10, RECEIVE_TIMEOUT);
        Consumers.awaitCaughtUp(topic, RECEIVE_TIMEOUT, c1);
        assertEquals(consumedBefore, bodies(inbox1.messages()));
        c1.shutdown();

        Set<String> remaining = sendBodies(producer, topic, "new-", 10);

        mq.restart();

        DefaultMQPushConsumer c2 = mq.newPushConsumer(group);
        Inbox inbox2 = new Inbox();
        c2.subscribe(topic, "*");
        c2.registerMessageListener(inbox2);
        c2.start();
        inbox2.awaitCount(10, RECEIVE_TIMEOUT, m -> Inbox.body(m).startsWith("new-"));
        Consumers.awaitCaughtUp(topic, RECEIVE_TIMEOUT, c2);
        List<MessageExt> got2 = inbox2.messages();
        assertEquals(remaining, bodies(got2), "same group after the restart: exactly the 10 unconsumed messages");
        assertEquals(10, got2.size(), "no duplicates: " + Inbox.summary(got2));

        DefaultMQPushConsumer c3 = mq.newPushConsumer(mq.uniqueName("CGNEW"));
        Inbox inbox3 = new Inbox();
        c3.subscribe(topic, "*");
        c3.registerMessageListener(inbox3);
        c3.start();
        inbox3.awaitCount(20, RECEIVE_TIMEOUT);
        Consumers.awaitCaughtUp(topic, RECEIVE_TIMEOUT, c3);
        Set<String> all = new TreeSet<>(consumedBefore);
        all.addAll(remaining);
        assertEquals(all, bodies(inbox3.messages()), "a new group from the first offset sees all 20");
        assertEquals(20, inbox3.messages().size(), "no duplicates: " + Inbox.summary(inbox3.messages()));

        // The producer created before the restart reconnects and sends again.
        SendResult r = producer.send(new Message(topic, "TagA", "after-restart".getBytes(UTF_8)));
        assertEquals(SendStatus.SEND_OK, r.getSendStatus(), "send after restart: " + r);
        inbox3.awaitCount(21, RECEIVE_TIMEOUT);
        assertTrue(bodies(inbox3.messages()).contains("after-restart"));
    }

    static Set<String> sendBodies(DefaultMQProducer producer, String topic, String prefix, int n) throws Exception {
        Set<String> sent = new TreeSet<>();
        for (int i = 0; i < n; i++) {
            String body = prefix + i;
            SendResult r = producer.send(new Message(topic, "TagA", "K-" + body, body.getBytes(UTF_8)));
            assertEquals(SendStatus.SEND_OK, r.getSendStatus(), "send of " + body + ": " + r);
            sent.add(body);
        }
        return sent;
    }

    static Set<String> bodies(List<MessageExt> msgs) {
        return msgs.stream().map(Inbox::body).collect(Collectors.toCollection(TreeSet::new));
    }

    static Set<Integer> queueIdsOf(List<MessageExt> msgs) {
        return msgs.stream().map(MessageExt::getQueueId).collect(Collectors.toCollection(TreeSet::new));
    }

    static Set<Integer> union(Set<Integer> x, Set<Integer> y) {
        Set<Integer> u = new TreeSet<>(x);
        u.addAll(y);
        return u;
    }

    static List<Integer> range(int n) {
        return IntStream.range(0, n).boxed().collect(Collectors.toList());
    }
}
