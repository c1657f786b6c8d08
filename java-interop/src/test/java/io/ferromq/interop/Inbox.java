package io.ferromq.interop;

import static org.junit.jupiter.api.Assertions.fail;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;
import java.util.stream.Collectors;

import org.apache.rocketmq.client.consumer.listener.ConsumeConcurrentlyContext;
import org.apache.rocketmq.client.consumer.listener.ConsumeConcurrentlyStatus;
import org.apache.rocketmq.client.consumer.listener.MessageListenerConcurrently;
import org.apache.rocketmq.common.message.MessageExt;

/** A concurrent listener that records every message it is given and acknowledges it. */
public final class Inbox implements MessageListenerConcurrently {
    private final List<MessageExt> received = new ArrayList<>();

    @Override
    public ConsumeConcurrentlyStatus consumeMessage(List<MessageExt> msgs, ConsumeConcurrentlyContext context) {
        synchronized (this) {
            received.addAll(msgs);
            notifyAll();
        }
        return ConsumeConcurrentlyStatus.CONSUME_SUCCESS;
    }

    public synchronized List<MessageExt> messages() {
        return new ArrayList<>(received);
    }

    /** Messages whose body matches; in arrival order. */
    public synchronized List<MessageExt> messages(Predicate<MessageExt> filter) {
        return received.stream().filter(filter).collect(Collectors.toList());
    }

    public List<MessageExt> awaitCount(int n, Duration timeout) {
        return awaitCount(n, timeout, m -> true);
    }

    /** Waits until at least {@code n} messages matching {@code filter} arrived; returns all matching ones. */
    public List<MessageExt> awaitCount(int n, Duration timeout, Predicate<MessageExt> filter) {
        long deadline = System.nanoTime() + timeout.toNanos();
        synchronized (this) {
            while (true) {
                long matching = received.stream().filter(filter).count();
                if (matching >= n) {
                    return messages(filter);
                }
                long left = deadline - System.nanoTime();
                if (left <= 0) {
                    fail("timed out after " + timeout.getSeconds() + " s: received " + matching + " of " + n
                        + " expected messages (" + received.size() + " in total); bodies so far: "
                        + summary(received));
                }
                try {
                    TimeUnit.NANOSECONDS.timedWait(this, left);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    fail("interrupted while waiting for messages; received " + matching + " of " + n);
                }
            }
        }
    }

    public static String body(MessageExt m) {
        return new String(m.getBody(), StandardCharsets.UTF_8);
    }

    static String summary(List<MessageExt> msgs) {
        List<String> parts = new ArrayList<>();
        for (MessageExt m : msgs) {
            String b = m.getBody() == null ? "null" : m.getBody().length > 40
                ? "<" + m.getBody().length + " bytes>" : body(m);
            parts.add(b + "@q" + m.getQueueId() + ":" + m.getQueueOffset());
            if (parts.size() >= 60) {
                parts.add("...");
                break;
            }
        }
        return parts.toString();
    }
}
