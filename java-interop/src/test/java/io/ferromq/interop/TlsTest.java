package io.ferromq.interop;

import static io.ferromq.interop.Inbox.body;
import static java.nio.charset.StandardCharsets.UTF_8;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
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
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInfo;

/**
 * TLS as RocketMQ's {@code TlsSystemConfig} sets it up: the servers run with
 * {@code tls.server.mode} (JVM system properties for Apache, broker.conf keys for ferromq) and a
 * self-signed certificate (test mode, the default); clients turn TLS on with
 * {@code ClientConfig.setUseTLS(true)} and, in test mode, trust any certificate.
 *
 * <p>The server needs its properties before it starts, so each test starts its own rather than
 * taking one from {@link FerroMQExtension}; logs land in the same place.
 */
class TlsTest {

    static final Duration RECEIVE_TIMEOUT = Duration.ofSeconds(45);
    static final int COUNT = 20;

    /** Permissive: a TLS producer and consumer, and a plain producer, on the same ports. */
    @Test
    void tlsAndPlainClientsInPermissiveMode(TestInfo info) throws Exception {
        try (FerroMQ mq = start(info, "permissive")) {
        String topic = mq.uniqueName("TlsPermissive");
        DefaultMQProducer tls = mq.startProducer(p -> p.setUseTLS(true));
        DefaultMQProducer plain = mq.startProducer();
        Set<String> expected = new TreeSet<>();
        for (int i = 0; i < COUNT; i++) {
            DefaultMQProducer producer = i % 2 == 0 ? tls : plain;
            String text = (i % 2 == 0 ? "tls " : "plain ") + i;
            SendResult r = producer.send(new Message(topic, "TagA", "KEY" + i, text.getBytes(UTF_8)));
            assertEquals(SendStatus.SEND_OK, r.getSendStatus(), "send " + i + ": " + r);
            expected.add(text);
        }
        assertEquals(expected, consumeAll(mq, topic, true), "a TLS push consumer gets every message");
        }
    }

    /** Enforcing: TLS clients send and consume every message. */
    @Test
    void tlsClientsInEnforcingMode(TestInfo info) throws Exception {
        try (FerroMQ mq = start(info, "enforcing")) {
        String topic = mq.uniqueName("TlsEnforcing");
        DefaultMQProducer producer = mq.startProducer(p -> p.setUseTLS(true));
        Set<String> expected = IntStream.range(0, COUNT).mapToObj(i -> "tls " + i).collect(Collectors.toCollection(TreeSet::new));
        for (int i = 0; i < COUNT; i++) {
            SendResult r = producer.send(new Message(topic, "TagA", "KEY" + i, ("tls " + i).getBytes(UTF_8)));
            assertEquals(SendStatus.SEND_OK, r.getSendStatus(), "send " + i + ": " + r);
        }
        assertEquals(expected, consumeAll(mq, topic, true), "a TLS push consumer gets every message");
        }
    }

    /**
     * Enforcing: the server reads a plain client's first request and closes the connection
     * without an answer, so the client's route lookup at the name server waits out its timeout
     * and the send fails. Client 4.9.x throws IllegalStateException around a
     * RemotingTimeoutException naming the name server's channel; client 4.3.0 swallows that and
     * throws MQClientException "No route info of this topic".
     */
    @Test
    void plainClientIsRefusedInEnforcingMode(TestInfo info) throws Exception {
        try (FerroMQ mq = start(info, "enforcing")) {
            String topic = mq.uniqueName("TlsRefused");
            DefaultMQProducer producer = mq.startProducer(p -> p.setSendMsgTimeout(3000));
            Exception e = assertThrows(Exception.class,
                () -> producer.send(new Message(topic, "TagA", "plain".getBytes(UTF_8))));
            String chain = causes(e);
            if (System.getProperty("interop.clientVersion", "4.9.7").startsWith("4.3.")) {
                assertTrue(chain.startsWith("org.apache.rocketmq.client.exception.MQClientException: No route info of this topic"),
                    "client 4.3: no route: " + chain);
            } else {
                assertTrue(chain.startsWith("java.lang.IllegalStateException")
                        && chain.contains("RemotingTimeoutException: wait response on the channel <" + mq.namesrvAddr() + "> timeout"),
                    "client 4.9: the route lookup times out on the name server's channel: " + chain);
            }
        }
    }

    private static String causes(Throwable t) {
        StringBuilder sb = new StringBuilder();
        for (Throwable c = t; c != null; c = c.getCause()) {
            sb.append(c.getClass().getName()).append(": ").append(c.getMessage()).append(" | ");
        }
        return sb.toString();
    }

    private static FerroMQ start(TestInfo info, String mode) throws Exception {
        FerroMQ mq = FerroMQ.create("TlsTest." + info.getTestMethod().get().getName());
        mq.serverProperty("tls.server.mode", mode);
        try {
            return mq.start();
        } catch (Exception | Error e) {
            mq.close();
            throw e;
        }
    }

    private static Set<String> consumeAll(FerroMQ mq, String topic, boolean useTls) throws Exception {
        DefaultMQPushConsumer consumer = mq.newPushConsumer(mq.uniqueName("CG"));
        consumer.setUseTLS(useTls);
        Inbox inbox = new Inbox();
        consumer.subscribe(topic, "*");
        consumer.registerMessageListener(inbox);
        consumer.start();
        List<MessageExt> got = inbox.awaitCount(COUNT, RECEIVE_TIMEOUT);
        return got.stream().map(Inbox::body).collect(Collectors.toCollection(TreeSet::new));
    }
}
