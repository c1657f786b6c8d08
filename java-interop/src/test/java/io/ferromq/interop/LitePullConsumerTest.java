package io.ferromq.interop;

import static io.ferromq.interop.Inbox.body;
import static java.nio.charset.StandardCharsets.UTF_8;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.fail;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.stream.Collectors;

import org.apache.rocketmq.client.consumer.DefaultLitePullConsumer;
import org.apache.rocketmq.client.impl.MQClientAPIImpl;
import org.apache.rocketmq.client.producer.DefaultMQProducer;
import org.apache.rocketmq.client.producer.SendResult;
import org.apache.rocketmq.client.producer.SendStatus;
import org.apache.rocketmq.common.consumer.ConsumeFromWhere;
import org.apache.rocketmq.common.message.Message;
import org.apache.rocketmq.common.message.MessageExt;
import org.apache.rocketmq.common.message.MessageQueue;
import org.apache.rocketmq.common.protocol.header.QueryConsumerOffsetRequestHeader;
import org.apache.rocketmq.common.protocol.header.UpdateConsumerOffsetRequestHeader;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * DefaultLitePullConsumer (client 4.6.0+): subscribe mode and assign mode with seek and
 * commitSync. The class does not exist in client 4.3.0, so the pom's {@code client-4.3.0}
 * profile leaves this file out of compilation and of the test run.
 */
@ExtendWith(FerroMQExtension.class)
class LitePullConsumerTest {

    static final Duration RECEIVE_TIMEOUT = Duration.ofSeconds(45);

    /**
     * Subscribe mode polls every message of the topic exactly once; after commitSync and
     * shutdown, a new instance of the group polls exactly the messages sent since.
     */
    @Test
    void subscribeModePollsEveryMessageAndANewInstanceResumes(FerroMQ mq) throws Exception {
        String topic = mq.uniqueName("LiteSub");
        String group = mq.uniqueName("LITEG");
        DefaultMQProducer producer = mq.startProducer();
        Set<String> first = send(producer, topic, "sub-", 0, 20);
        // Apache's broker 4.9.7 loses offsets when the very first commits of a group on a topic
        // arrive concurrently (ConsumerOffsetManager.commitOffset creates the topic@group map
        // with check-then-put), which the 4 oneway commits of c1's shutdown can do. Committing
        // offset 0 of one queue synchronously first (a no-op for a group that starts at the
        // first offset) keeps the test about the client and the broker, not that race.
        updateOffsetSync(producer, mq.brokerAddr(), group, new MessageQueue(topic, FerroMQ.BROKER_NAME, 0), 0);

        DefaultLitePullConsumer c1 = newLite(mq, group);
        c1.subscribe(topic, "*");
        c1.start();
        mq.note("lite subscribe: c1 started");
        List<MessageExt> got1 = pollUntil(c1, 20);
        mq.note("lite subscribe: c1 polled 20");
        assertEquals(first, bodies(got1), "subscribe mode polled every message");
        assertEquals(20, got1.size(), "each once: " + Inbox.summary(got1));
        c1.commitSync();
        StringBuilder diag = new StringBuilder();
        for (MessageQueue q : c1.assignment()) {
            diag.append(" q").append(q.getQueueId()).append("=").append(c1.committed(q));
        }
        mq.note("lite subscribe: c1 assignment and committed offsets:" + diag);
        c1.shutdown();
        // Every queue's committed offset is its max offset: all 20 were polled and committed.
        // (How the producer spread them over the queues is its business: a route refresh
        // between sends restarts its round-robin at a random queue.)
        awaitBrokerOffsets(producer, mq.brokerAddr(), group, allQueues(topic), q -> producer.maxOffset(q));

        Set<String> second = send(producer, topic, "sub-", 20, 28);
        DefaultLitePullConsumer c2 = newLite(mq, group);
        c2.subscribe(topic, "*");
        c2.start();
        mq.note("lite subscribe: c2 started");
        List<MessageExt> got2 = pollUntil(c2, 8);
        mq.note("lite subscribe: c2 polled 8");
        // Nothing more arrives: poll a little longer.
        got2.addAll(c2.poll(2000));
        assertEquals(second, bodies(got2), "a new instance resumes after the committed offsets");
        assertEquals(8, got2.size(), "no redelivery: " + Inbox.summary(got2));
    }

    /**
     * Assign mode: assign one queue, poll offsets 0..9, seek back to offset 3, poll 3..9 again in
     * order, commitSync; a new instance of the group assigned the same queue starts at the
     * committed offset 10.
     *
     * <p>The seek comes after the first poll on purpose: a seek right after assign races the
     * client's own first pull task. DefaultLitePullConsumerImpl's pull task reads the seek offset
     * without the lock seek holds, so the task assign started can take offset 3 just before seek
     * cancels it. The task seek starts then finds no seek offset and falls back to the stored
     * one, 0. After the first poll, that first task is already waiting at offset 10.
     */
    @Test
    void assignModeSeeksCommitsAndANewInstanceResumes(FerroMQ mq) throws Exception {
        String topic = mq.uniqueName("LiteAssign");
        String group = mq.uniqueName("LITEG");
        DefaultMQProducer producer = mq.startProducer();
        for (int i = 0; i < 10; i++) {
            ConsumptionModelsTest.sendTo(producer, topic, 0, new Message(topic, "TagL", ("as-" + i).getBytes(UTF_8)));
        }

        DefaultLitePullConsumer c1 = newLite(mq, group);
        c1.setAutoCommit(false);
        c1.start();
        MessageQueue q0 = ConsumptionModelsTest.queue(new java.util.HashSet<>(c1.fetchMessageQueues(topic)), 0);
        c1.assign(List.of(q0));
        List<MessageExt> first = pollUntil(c1, 10);
        assertEquals(List.of(0L, 1L, 2L, 3L, 4L, 5L, 6L, 7L, 8L, 9L),
            first.stream().map(MessageExt::getQueueOffset).collect(Collectors.toList()),
            "offsets polled after assign: " + Inbox.summary(first));
        c1.seek(q0, 3);
        List<MessageExt> got1 = pollUntil(c1, 7);
        assertEquals(List.of(3L, 4L, 5L, 6L, 7L, 8L, 9L),
            got1.stream().map(MessageExt::getQueueOffset).collect(Collectors.toList()),
            "offsets polled after seek(q0, 3): " + Inbox.summary(got1));
        c1.commitSync();
        assertEquals(10L, c1.committed(q0), "committed offset after commitSync");
        c1.shutdown();
        awaitBrokerOffsets(producer, mq.brokerAddr(), group, List.of(q0), q -> 10L);

        for (int i = 10; i < 15; i++) {
            ConsumptionModelsTest.sendTo(producer, topic, 0, new Message(topic, "TagL", ("as-" + i).getBytes(UTF_8)));
        }
        DefaultLitePullConsumer c2 = newLite(mq, group);
        c2.setAutoCommit(false);
        c2.start();
        assertEquals(10L, c2.committed(q0), "a new instance reads the committed offset from the broker");
        c2.assign(List.of(q0));
        List<MessageExt> got2 = pollUntil(c2, 5);
        got2.addAll(c2.poll(2000));
        assertEquals(List.of(10L, 11L, 12L, 13L, 14L),
            got2.stream().map(MessageExt::getQueueOffset).collect(Collectors.toList()),
            "offsets polled by the new instance: " + Inbox.summary(got2));
        assertEquals(List.of("as-10", "as-11", "as-12", "as-13", "as-14"),
            got2.stream().map(Inbox::body).collect(Collectors.toList()), "bodies");
    }

    static List<MessageQueue> allQueues(String topic) {
        List<MessageQueue> qs = new ArrayList<>();
        for (int i = 0; i < 4; i++) {
            qs.add(new MessageQueue(topic, FerroMQ.BROKER_NAME, i));
        }
        return qs;
    }

    static MQClientAPIImpl api(DefaultMQProducer producer) {
        return producer.getDefaultMQProducerImpl().getmQClientFactory().getMQClientAPIImpl();
    }

    /** UPDATE_CONSUMER_OFFSET, synchronously (the consumers' own commits are oneway). */
    static void updateOffsetSync(DefaultMQProducer producer, String brokerAddr, String group, MessageQueue q,
                                 long offset) throws Exception {
        UpdateConsumerOffsetRequestHeader h = new UpdateConsumerOffsetRequestHeader();
        h.setConsumerGroup(group);
        h.setTopic(q.getTopic());
        h.setQueueId(q.getQueueId());
        h.setCommitOffset(offset);
        api(producer).updateConsumerOffset(brokerAddr, h, 5000);
    }

    /** Waits until the broker's stored offset (QUERY_CONSUMER_OFFSET) of each queue is {@code expected}. */
    interface ExpectedOffset {
        long of(MessageQueue q) throws Exception;
    }

    static void awaitBrokerOffsets(DefaultMQProducer producer, String brokerAddr, String group,
                                   List<MessageQueue> queues, ExpectedOffset expectedOf) {
        List<String> state = new ArrayList<>();
        Await.until("the broker to store the expected committed offset of every queue", RECEIVE_TIMEOUT, () -> {
            state.clear();
            boolean ok = true;
            for (MessageQueue q : queues) {
                long expected;
                try {
                    expected = expectedOf.of(q);
                } catch (Exception e) {
                    state.add("q" + q.getQueueId() + ": " + e);
                    ok = false;
                    continue;
                }
                QueryConsumerOffsetRequestHeader h = new QueryConsumerOffsetRequestHeader();
                h.setConsumerGroup(group);
                h.setTopic(q.getTopic());
                h.setQueueId(q.getQueueId());
                try {
                    long offset = api(producer).queryConsumerOffset(brokerAddr, h, 5000);
                    state.add("q" + q.getQueueId() + "=" + offset + " (want " + expected + ")");
                    ok &= offset == expected;
                } catch (Exception e) {
                    state.add("q" + q.getQueueId() + ": " + e);
                    ok = false;
                }
            }
            return ok;
        }, () -> String.join(", ", state));
    }

    static DefaultLitePullConsumer newLite(FerroMQ mq, String group) {
        DefaultLitePullConsumer c = new DefaultLitePullConsumer(group);
        c.setNamesrvAddr(mq.namesrvAddr());
        c.setInstanceName(mq.newInstanceName());
        c.setConsumeFromWhere(ConsumeFromWhere.CONSUME_FROM_FIRST_OFFSET);
        mq.onClose(c::shutdown);
        return c;
    }

    static List<MessageExt> pollUntil(DefaultLitePullConsumer c, int n) {
        List<MessageExt> got = new ArrayList<>();
        long deadline = System.nanoTime() + RECEIVE_TIMEOUT.toNanos();
        while (got.size() < n) {
            if (System.nanoTime() > deadline) {
                fail("polled only " + got.size() + " of " + n + " messages within " + RECEIVE_TIMEOUT.getSeconds()
                    + " s: " + Inbox.summary(got));
            }
            got.addAll(c.poll(1000));
        }
        return got;
    }

    static Set<String> send(DefaultMQProducer producer, String topic, String prefix, int from, int to)
        throws Exception {
        Set<String> sent = new TreeSet<>();
        for (int i = from; i < to; i++) {
            SendResult r = producer.send(new Message(topic, "TagL", (prefix + i).getBytes(UTF_8)));
            assertEquals(SendStatus.SEND_OK, r.getSendStatus());
            sent.add(prefix + i);
        }
        return sent;
    }

    static Set<String> bodies(List<MessageExt> msgs) {
        return msgs.stream().map(m -> body(m)).collect(Collectors.toCollection(TreeSet::new));
    }
}
