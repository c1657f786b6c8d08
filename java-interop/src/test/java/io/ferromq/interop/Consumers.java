package io.ferromq.interop;

import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.stream.Collectors;

import org.apache.rocketmq.client.consumer.DefaultMQPushConsumer;
import org.apache.rocketmq.client.consumer.store.ReadOffsetType;
import org.apache.rocketmq.client.impl.consumer.ProcessQueue;
import org.apache.rocketmq.common.message.MessageQueue;

/** Looks into push consumers' state (assigned queues, in-flight messages, committed offsets). */
public final class Consumers {
    private Consumers() {
    }

    /** The queues of {@code topic} this consumer currently holds after rebalancing. */
    public static Set<MessageQueue> assignedQueues(DefaultMQPushConsumer consumer, String topic) {
        Map<MessageQueue, ProcessQueue> table =
            consumer.getDefaultMQPushConsumerImpl().getRebalanceImpl().getProcessQueueTable();
        Set<MessageQueue> out = new HashSet<>();
        table.forEach((mq, pq) -> {
            if (mq.getTopic().equals(topic) && !pq.isDropped()) {
                out.add(mq);
            }
        });
        return out;
    }

    /** The group's consumer ids as this consumer's client gets them from the broker (empty on error). */
    public static List<String> consumerIdsSeenBy(DefaultMQPushConsumer consumer, String topic, String group) {
        try {
            List<String> ids = consumer.getDefaultMQPushConsumerImpl().getmQClientFactory()
                .findConsumerIdList(topic, group);
            return ids == null ? List.of() : ids;
        } catch (RuntimeException e) {
            return List.of();
        }
    }

    public static Set<Integer> queueIds(Set<MessageQueue> queues) {
        return queues.stream().map(MessageQueue::getQueueId).collect(Collectors.toCollection(TreeSet::new));
    }

    /**
     * Waits until, between them, {@code consumers} hold every queue of {@code topic}, have
     * nothing in flight, and have advanced their (in-memory) consume offsets to the broker's max
     * offset of each queue. After that, every message stored so far has been handed to a
     * listener exactly as many times as it ever will be, so counts can be asserted.
     */
    public static void awaitCaughtUp(String topic, Duration timeout, DefaultMQPushConsumer... consumers) {
        List<String> state = new ArrayList<>();
        Await.until("consumers to catch up on " + topic, timeout, () -> {
            state.clear();
            try {
                Set<MessageQueue> all = new HashSet<>(consumers[0].fetchSubscribeMessageQueues(topic));
                Set<MessageQueue> held = new HashSet<>();
                boolean ok = true;
                for (DefaultMQPushConsumer c : consumers) {
                    for (MessageQueue mq : assignedQueues(c, topic)) {
                        held.add(mq);
                        ProcessQueue pq = c.getDefaultMQPushConsumerImpl().getRebalanceImpl()
                            .getProcessQueueTable().get(mq);
                        long inFlight = pq == null ? 0 : pq.getMsgCount().get();
                        long offset = c.getDefaultMQPushConsumerImpl().getOffsetStore()
                            .readOffset(mq, ReadOffsetType.READ_FROM_MEMORY);
                        long max = c.maxOffset(mq);
                        state.add("q" + mq.getQueueId() + "{offset=" + offset + ", max=" + max
                            + ", inFlight=" + inFlight + "}");
                        if (inFlight != 0 || !(offset == max || (max == 0 && offset <= 0))) {
                            ok = false;
                        }
                    }
                }
                if (!held.equals(all)) {
                    state.add("held " + queueIds(held) + " of " + queueIds(all));
                    ok = false;
                }
                return ok;
            } catch (Exception e) {
                state.add(e.toString());
                return false;
            }
        }, () -> String.join(", ", state));
    }
}
