package io.ferromq.interop;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.time.Duration;
import java.util.List;
import java.util.stream.Collectors;

import org.apache.rocketmq.client.consumer.DefaultMQPushConsumer;
import org.apache.rocketmq.client.producer.DefaultMQProducer;
import org.apache.rocketmq.client.producer.SendResult;
import org.apache.rocketmq.client.producer.SendStatus;
import org.apache.rocketmq.common.consumer.ConsumeFromWhere;
import org.apache.rocketmq.common.message.Message;
import org.apache.rocketmq.common.message.MessageExt;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * Message trace (traceTopicEnable, RMQ_SYS_TRACE_TOPIC) as 4.9.7 clients built with
 * enableMsgTrace=true write it and the stock {@code mqadmin queryMsgTraceById} reads it back; and
 * the properties a delivered delayed message keeps.
 */
@ExtendWith(FerroMQExtension.class)
class TraceTest {

    static final Duration RECEIVE_TIMEOUT = Duration.ofSeconds(45);
    static final Duration TRACE_TIMEOUT = Duration.ofSeconds(60);

    @BeforeEach
    void onlyWithA49Client() {
        MqAdmin.assumeClient49("trace");
    }

    /**
     * With traceTopicEnable=true the broker serves RMQ_SYS_TRACE_TOPIC; a tracing producer's send
     * and a tracing push consumer's consumption of one message show up in queryMsgTraceById (which
     * queries the trace topic by key, the traced msgId) as a Pub row of the producer group and a
     * Sub row (the SubAfter record) of the consumer group, both "success".
     */
    @Test
    @BrokerConfig("traceTopicEnable=true")
    void tracedSendAndConsumeShowInQueryMsgTraceById(FerroMQ mq) throws Exception {
        String topic = mq.uniqueName("Traced");
        String pgroup = mq.uniqueName("TPG");
        String cgroup = mq.uniqueName("TCG");

        DefaultMQProducer producer = new DefaultMQProducer(pgroup, true);
        producer.setNamesrvAddr(mq.namesrvAddr());
        producer.setInstanceName(mq.newInstanceName());
        producer.setCreateTopicKey("TBW102");
        producer.start();
        mq.onClose(producer::shutdown);
        SendResult sent = producer.send(new Message(topic, "TagT", "trace-key", "traced".getBytes(UTF_8)));
        assertEquals(SendStatus.SEND_OK, sent.getSendStatus(), sent.toString());
        String msgId = sent.getMsgId();

        DefaultMQPushConsumer consumer = new DefaultMQPushConsumer(cgroup, true);
        consumer.setNamesrvAddr(mq.namesrvAddr());
        consumer.setInstanceName(mq.newInstanceName());
        consumer.setConsumeFromWhere(ConsumeFromWhere.CONSUME_FROM_FIRST_OFFSET);
        mq.onClose(consumer::shutdown);
        Inbox inbox = new Inbox();
        consumer.subscribe(topic, "*");
        consumer.registerMessageListener(inbox);
        consumer.start();
        List<MessageExt> got = inbox.awaitCount(1, RECEIVE_TIMEOUT);
        assertEquals(msgId, got.get(0).getMsgId());

        MqAdmin admin = new MqAdmin(mq);
        long deadline = System.nanoTime() + TRACE_TIMEOUT.toNanos();
        MqAdmin.Result last = null;
        while (System.nanoTime() < deadline) {
            last = admin.run("queryMsgTraceById", "-i", msgId);
            List<List<String>> rows = last.lines().stream().map(TraceTest::tokens).collect(Collectors.toList());
            boolean pub = rows.stream().anyMatch(t -> t.size() >= 7 && t.get(0).equals("Pub")
                && t.get(1).equals(pgroup) && t.get(t.size() - 1).equals("success"));
            boolean sub = rows.stream().anyMatch(t -> t.size() >= 7 && t.get(0).equals("Sub")
                && t.get(1).equals(cgroup) && t.get(t.size() - 1).equals("success"));
            if (pub && sub) {
                assertTrue(last.output.contains("#ProducerGroup") && last.output.contains("#ConsumerGroup"), last.toString());
                return;
            }
            Thread.sleep(1000);
        }
        fail("queryMsgTraceById -i " + msgId + " should show a 'Pub " + pgroup + " ... success' row and a 'Sub "
            + cgroup + " ... success' row within " + TRACE_TIMEOUT + "; last run: " + last);
    }

    /**
     * A delayed message reaches the consumer with its delay level still set
     * (MessageExt.getDelayTimeLevel()), as the Java broker's schedule service leaves the DELAY
     * property in the stored message; a level above the highest is clamped to it.
     */
    @Test
    @BrokerConfig("messageDelayLevel=1s 2s 3s")
    void deliveredDelayedMessagesKeepTheirDelayLevel(FerroMQ mq) throws Exception {
        String topic = mq.uniqueName("DelayProps");
        DefaultMQProducer producer = mq.startProducer();
        for (int level : new int[] {2, 9}) {
            Message m = new Message(topic, "TagD", ("delay-" + level).getBytes(UTF_8));
            m.setDelayTimeLevel(level);
            SendResult r = producer.send(m);
            assertEquals(SendStatus.SEND_OK, r.getSendStatus(), r.toString());
        }
        DefaultMQPushConsumer consumer = mq.newPushConsumer(mq.uniqueName("CG"));
        Inbox inbox = new Inbox();
        consumer.subscribe(topic, "*");
        consumer.registerMessageListener(inbox);
        consumer.start();
        List<MessageExt> got = inbox.awaitCount(2, RECEIVE_TIMEOUT);
        for (MessageExt m : got) {
            String body = new String(m.getBody(), UTF_8);
            int expected = body.equals("delay-2") ? 2 : 3;
            assertEquals(expected, m.getDelayTimeLevel(), body + " delivered with properties " + m.getProperties());
            assertEquals(topic, m.getProperty("REAL_TOPIC"), body + ": " + m.getProperties());
        }
    }

    static List<String> tokens(String line) {
        String t = line.trim();
        return t.isEmpty() ? List.of() : List.of(t.split("\\s+"));
    }
}
