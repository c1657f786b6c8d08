package io.ferromq.interop;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.List;
import java.util.stream.Collectors;

import org.apache.rocketmq.client.consumer.DefaultMQPushConsumer;
import org.apache.rocketmq.client.exception.MQBrokerException;
import org.apache.rocketmq.client.exception.MQClientException;
import org.apache.rocketmq.client.producer.DefaultMQProducer;
import org.apache.rocketmq.client.producer.SendResult;
import org.apache.rocketmq.client.producer.SendStatus;
import org.apache.rocketmq.common.message.Message;
import org.apache.rocketmq.common.message.MessageExt;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/** Errors the broker reports to clients, with the Java broker's codes and messages. */
@ExtendWith(FerroMQExtension.class)
class BrokerErrorsTest {

    /** ResponseCode.MESSAGE_ILLEGAL in the remoting protocol. */
    static final int MESSAGE_ILLEGAL = 13;
    static final Duration RECEIVE_TIMEOUT = Duration.ofSeconds(45);

    /**
     * A 3 MiB body passes the client's 4 MiB limit but not the broker's maxMessageSize=2 MiB:
     * MQBrokerException with code 13, and the producer keeps working afterwards.
     */
    @Test
    @BrokerConfig("maxMessageSize=2097152")
    void messageOverBrokerMaxMessageSizeIsRejectedWithMessageIllegal(FerroMQ mq) throws Exception {
        String topic = mq.uniqueName("TooBig");
        DefaultMQProducer producer = mq.startProducer();
        assertEquals(4 * 1024 * 1024, producer.getMaxMessageSize(), "client-side limit (default)");

        SendResult before = producer.send(new Message(topic, "TagA", "before", "before".getBytes(UTF_8)));
        assertEquals(SendStatus.SEND_OK, before.getSendStatus(), "send before the oversized one: " + before);

        Message big = new Message(topic, "TagA", "big", Bodies.random(3 * 1024 * 1024, 3));
        MQBrokerException e = assertThrows(MQBrokerException.class, () -> producer.send(big),
            "a 3 MiB message on a broker with maxMessageSize=2097152");
        assertEquals(MESSAGE_ILLEGAL, e.getResponseCode(),
            "response code (MESSAGE_ILLEGAL); remark: " + e.getErrorMessage());

        SendResult after = producer.send(new Message(topic, "TagA", "after", "after".getBytes(UTF_8)));
        assertEquals(SendStatus.SEND_OK, after.getSendStatus(), "same producer sends normally afterwards: " + after);

        // The rejected message was not stored: a consumer sees exactly the two small ones.
        DefaultMQPushConsumer consumer = mq.newPushConsumer(mq.uniqueName("CG"));
        Inbox inbox = new Inbox();
        consumer.subscribe(topic, "*");
        consumer.registerMessageListener(inbox);
        consumer.start();
        inbox.awaitCount(2, RECEIVE_TIMEOUT);
        Consumers.awaitCaughtUp(topic, RECEIVE_TIMEOUT, consumer);
        List<String> keys = inbox.messages().stream().map(MessageExt::getKeys).sorted().collect(Collectors.toList());
        assertEquals(List.of("after", "before"), keys, "keys of the stored messages");
    }

    /** autoCreateTopicEnable=false: sending to a topic nobody created fails on the client with "No route info". */
    @Test
    @BrokerConfig("autoCreateTopicEnable=false")
    void sendToUnknownTopicWithoutAutoCreateFailsWithNoRouteInfo(FerroMQ mq) throws Exception {
        String topic = mq.uniqueName("Unknown");
        DefaultMQProducer producer = mq.startProducer();
        MQClientException e = assertThrows(MQClientException.class,
            () -> producer.send(new Message(topic, "TagA", "hello".getBytes(UTF_8))));
        assertTrue(e.getMessage() != null && e.getMessage().contains("No route info"),
            "exception message should contain 'No route info', was: " + e.getMessage());
        // Still true on a second attempt (nothing got auto-created by the first one).
        MQClientException again = assertThrows(MQClientException.class,
            () -> producer.send(new Message(topic, "TagA", "hello".getBytes(UTF_8))));
        assertTrue(again.getMessage().contains("No route info"), again.getMessage());
    }

    /**
     * Stock client 4.3.0 models new topics on "AUTO_CREATE_TOPIC_KEY" (its createTopicKey
     * default) instead of TBW102. ferromq serves that key topic too, so such a producer
     * auto-creates topics with no setting; Apache 4.9.7 has only TBW102 (there the send fails
     * with "No route info"), so this test is ferromq's.
     */
    @Test
    void producerUsingTheAutoCreateTopicKeyOf430CreatesTopics(FerroMQ mq) throws Exception {
        org.junit.jupiter.api.Assumptions.assumeTrue(mq.target() == FerroMQ.Target.FERROMQ,
            "Apache 4.9.7 has no AUTO_CREATE_TOPIC_KEY topic");
        String topic = mq.uniqueName("Key430");
        DefaultMQProducer producer = mq.startProducer(p -> p.setCreateTopicKey("AUTO_CREATE_TOPIC_KEY"));
        SendResult r = producer.send(new Message(topic, "TagA", "k", "auto".getBytes(UTF_8)));
        assertEquals(SendStatus.SEND_OK, r.getSendStatus(), "send to a new topic: " + r);

        DefaultMQPushConsumer consumer = mq.newPushConsumer(mq.uniqueName("CG"));
        Inbox inbox = new Inbox();
        consumer.subscribe(topic, "*");
        consumer.registerMessageListener(inbox);
        consumer.start();
        inbox.awaitCount(1, RECEIVE_TIMEOUT);
        assertEquals(List.of("auto"), inbox.messages().stream().map(Inbox::body).collect(Collectors.toList()));
    }
}
