package io.ferromq.interop;

import static io.ferromq.interop.Inbox.body;
import static java.nio.charset.StandardCharsets.UTF_8;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;

import org.apache.rocketmq.client.consumer.DefaultMQPushConsumer;
import org.apache.rocketmq.client.exception.MQBrokerException;
import org.apache.rocketmq.client.producer.DefaultMQProducer;
import org.apache.rocketmq.client.producer.SendResult;
import org.apache.rocketmq.client.producer.SendStatus;
import org.apache.rocketmq.common.message.Message;
import org.apache.rocketmq.common.message.MessageExt;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * Messages delivered at any time (5.x timer properties) sent by unmodified 4.x clients through
 * {@code Message.putUserProperty}. ferromq-only: Apache 4.9.7 ignores these properties and
 * delivers at once.
 */
@ExtendWith(FerroMQExtension.class)
class TimerMessageTest {

    static final Duration RECEIVE_TIMEOUT = Duration.ofSeconds(60);
    /** Broker and test share the host's clock; a little slack for the millisecond reads. */
    static final long CLOCK_TOLERANCE_MS = 20;
    /** timerPrecisionMs (default), the delivery tick, and a loaded CI machine. */
    static final long LATE_BOUND_MS = 1000 + 4000;

    private static void ferromqOnly(FerroMQ mq) {
        Assumptions.assumeTrue(mq.target() == FerroMQ.Target.FERROMQ,
            "timer messages are a 5.x feature ferromq gives 4.x clients; Apache 4.9.7 delivers them at once");
    }

    private static Message timer(String topic, String body, String key, String value) {
        Message m = new Message(topic, "TagA", body.getBytes(UTF_8));
        m.putUserProperty(key, value);
        return m;
    }

    private static Inbox consume(FerroMQ mq, String topic) throws Exception {
        DefaultMQPushConsumer consumer = mq.newPushConsumer(mq.uniqueName("CG"));
        Inbox inbox = new Inbox();
        consumer.subscribe(topic, "*");
        consumer.registerMessageListener(inbox);
        consumer.start();
        return inbox;
    }

    /**
     * 1 s, 7 s, 65 s (past the wheel's first minute), an absolute time and Alibaba's
     * __STARTDELIVERTIME: on time, never early.
     */
    @Test
    void timersArriveAtTheirTimeAndNeverEarly(FerroMQ mq) throws Exception {
        ferromqOnly(mq);
        String topic = mq.uniqueName("Timer");
        DefaultMQProducer producer = mq.startProducer();
        Inbox inbox = consume(mq, topic);
        Map<String, Long> due = new HashMap<>();
        Map<String, SendResult> sent = new HashMap<>();
        long abs = System.currentTimeMillis() + 3000;
        Object[][] cases = {
            {"oneSecond", "TIMER_DELAY_SEC", "1", 1000L},
            {"sevenSeconds", "TIMER_DELAY_MS", "7000", 7000L},
            {"sixtyFiveSeconds", "TIMER_DELAY_SEC", "65", 65_000L},
            {"absolute", "TIMER_DELIVER_MS", Long.toString(abs), -1L},
            {"alibaba", "__STARTDELIVERTIME", Long.toString(abs + 1000), -2L},
        };
        for (Object[] c : cases) {
            long before = System.currentTimeMillis();
            SendResult r = producer.send(timer(topic, (String) c[0], (String) c[1], (String) c[2]));
            assertEquals(SendStatus.SEND_OK, r.getSendStatus(), c[0] + ": " + r);
            long delay = (Long) c[3];
            due.put((String) c[0], delay == -1 ? abs : delay == -2 ? abs + 1000 : before + delay);
            sent.put((String) c[0], r);
        }
        List<MessageExt> got = inbox.awaitCount(cases.length, RECEIVE_TIMEOUT.plusSeconds(65));
        assertEquals(cases.length, got.size(), Inbox.summary(got));
        for (MessageExt m : got) {
            String name = body(m);
            long target = due.get(name);
            assertTrue(m.getStoreTimestamp() >= target - CLOCK_TOLERANCE_MS,
                name + " delivered " + (target - m.getStoreTimestamp()) + " ms early");
            assertTrue(m.getStoreTimestamp() <= target + LATE_BOUND_MS,
                name + " delivered " + (m.getStoreTimestamp() - target) + " ms late");
            assertEquals(topic, m.getTopic());
            assertEquals(sent.get(name).getMessageQueue().getQueueId(), m.getQueueId(), name + ": the queue it was sent to");
            assertEquals("TagA", m.getTags());
            assertNotNull(m.getProperty("TIMER_OUT_MS"), "5.x leaves TIMER_OUT_MS");
            assertNull(m.getProperty("REAL_TOPIC"));
        }
    }

    /** Java 5's answer to a bad value: MESSAGE_ILLEGAL (13); nothing is stored. */
    @Test
    void invalidTimerValuesAreRefused(FerroMQ mq) throws Exception {
        ferromqOnly(mq);
        String topic = mq.uniqueName("TimerBad");
        DefaultMQProducer producer = mq.startProducer();
        String[][] bad = {
            {"TIMER_DELAY_SEC", "soon"},
            {"TIMER_DELAY_SEC", "-3"},
            {"TIMER_DELAY_MS", Long.toString(3L * 86_400_000 + 60_000)},
            {"TIMER_DELIVER_MS", Long.toString(System.currentTimeMillis() + 4L * 86_400_000)},
        };
        for (String[] kv : bad) {
            MQBrokerException e = assertThrows(MQBrokerException.class,
                () -> producer.send(timer(topic, "bad", kv[0], kv[1])), kv[0] + "=" + kv[1]);
            assertEquals(13, e.getResponseCode(), kv[0] + "=" + kv[1] + ": " + e);
            assertTrue(e.getErrorMessage().contains("timer message illegal"), e.getErrorMessage());
        }
        // A good one still goes, and only it arrives.
        Inbox inbox = consume(mq, topic);
        producer.send(timer(topic, "good", "TIMER_DELAY_MS", "500"));
        List<MessageExt> got = inbox.awaitCount(1, RECEIVE_TIMEOUT);
        assertEquals("good", body(got.get(0)));
    }

    /** A few thousand timers over ~30 s all arrive, once each, none early. */
    @Test
    @BrokerConfig({"timerPrecisionMs=100"})
    void thousandsOfTimersArriveOnceEach(FerroMQ mq) throws Exception {
        ferromqOnly(mq);
        String topic = mq.uniqueName("TimerMany");
        DefaultMQProducer producer = mq.startProducer();
        Inbox inbox = consume(mq, topic);
        int n = 3000;
        Random rnd = new Random(42);
        Map<String, Long> due = new HashMap<>();
        for (int i = 0; i < n; i++) {
            long delay = rnd.nextInt(30_000);
            String name = "t" + i;
            long before = System.currentTimeMillis();
            producer.send(timer(topic, name, "TIMER_DELAY_MS", Long.toString(delay)));
            due.put(name, before + delay);
        }
        List<MessageExt> got = inbox.awaitCount(n, RECEIVE_TIMEOUT.plusSeconds(30));
        Map<String, Integer> times = new HashMap<>();
        for (MessageExt m : got) {
            String name = body(m);
            times.merge(name, 1, Integer::sum);
            long target = due.get(name);
            assertTrue(m.getStoreTimestamp() >= target - CLOCK_TOLERANCE_MS,
                name + " delivered " + (target - m.getStoreTimestamp()) + " ms early");
        }
        assertEquals(n, times.size(), "every timer arrived");
        times.forEach((name, k) -> assertEquals(1, k, name + " arrived " + k + " times"));
    }
}
