package io.ferromq.interop;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.ThreadLocalRandom;
import java.util.stream.Collectors;
import org.apache.rocketmq.client.consumer.DefaultMQPushConsumer;
import org.apache.rocketmq.client.producer.DefaultMQProducer;
import org.apache.rocketmq.client.producer.SendResult;
import org.apache.rocketmq.client.producer.SendStatus;
import org.apache.rocketmq.common.consumer.ConsumeFromWhere;
import org.apache.rocketmq.common.message.Message;
import org.apache.rocketmq.common.protocol.route.BrokerData;
import org.apache.rocketmq.common.protocol.route.QueueData;
import org.apache.rocketmq.common.protocol.route.TopicRouteData;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Name servers and brokers of the two implementations mixed: an Apache RocketMQ 4.9.7 broker
 * registered with a ferromq name server (with plain JSON registrations and with
 * {@code compressedRegister=true}), and a ferromq broker registered with Apache's name server.
 * Real producers and consumers find their routes through them: a topic created through the
 * producer's admin API (which needs the broker's TBW102 route) is routed to the broker, and
 * every message sent is received. Needs Apache's classpath ({@code -Dinterop.target=apache}).
 */
class MixedNamesrvTest {
    private static final int MESSAGES = 60;

    @ParameterizedTest(name = "compressedRegister={0}")
    @ValueSource(booleans = {false, true})
    void apacheBrokerOnAFerromqNameServer(boolean compressed) throws Exception {
        try (Cluster c = new Cluster("apacheBrokerOnFerromqNamesrv-" + compressed)) {
            c.startFerromqNamesrv();
            c.startApacheBroker("ASYNC_MASTER", "compressedRegister=" + compressed + "\n");
            routeAndDeliver(c);
        }
    }

    @ParameterizedTest(name = "compressedRegister={0}")
    @ValueSource(booleans = {false, true})
    void ferromqBrokerOnAnApacheNameServer(boolean compressed) throws Exception {
        try (Cluster c = new Cluster("ferromqBrokerOnApacheNamesrv-" + compressed)) {
            c.startApacheNamesrv();
            c.startFerromqBroker("ferromq-master", c.brokerConf("broker-a", 0, "ASYNC_MASTER", c.masterPort, "master")
                + "compressedRegister=" + compressed + "\n");
            routeAndDeliver(c);
        }
    }

    private static void routeAndDeliver(Cluster c) throws Exception {
        String suffix = Long.toString(ThreadLocalRandom.current().nextLong(1L << 40), 36);
        String topic = "Mixed_" + suffix;
        DefaultMQProducer producer = new DefaultMQProducer("MixedPG");
        producer.setNamesrvAddr(c.namesrvAddr());
        producer.setInstanceName("interop-mixed-" + suffix);
        String key = System.getProperty("interop.createTopicKey", "TBW102");
        if (!key.isEmpty()) {
            producer.setCreateTopicKey(key);
        }
        producer.start();
        DefaultMQPushConsumer consumer = new DefaultMQPushConsumer("MixedCG_" + suffix);
        try {
            // The broker's registration carries TBW102; createTopic finds the broker through it.
            Await.until("the name server to route the broker's TBW102", Duration.ofSeconds(60), () -> {
                TopicRouteData r = route(producer, "TBW102");
                return r != null && !r.getBrokerDatas().isEmpty();
            });
            producer.createTopic("TBW102", topic, 4);
            Await.until("the name server to route " + topic, Duration.ofSeconds(60), () -> {
                TopicRouteData r = route(producer, topic);
                return r != null && !r.getQueueDatas().isEmpty();
            });
            TopicRouteData r = route(producer, topic);
            assertEquals(1, r.getBrokerDatas().size(), r.toString());
            BrokerData bd = r.getBrokerDatas().get(0);
            assertEquals("broker-a", bd.getBrokerName());
            assertEquals("DefaultCluster", bd.getCluster());
            assertEquals(c.masterAddr(), bd.getBrokerAddrs().get(0L), r.toString());
            QueueData qd = r.getQueueDatas().get(0);
            assertEquals(4, qd.getWriteQueueNums(), r.toString());
            assertEquals(4, qd.getReadQueueNums(), r.toString());

            Inbox inbox = new Inbox();
            consumer.setNamesrvAddr(c.namesrvAddr());
            consumer.setInstanceName("interop-mixed-c-" + suffix);
            consumer.setConsumeFromWhere(ConsumeFromWhere.CONSUME_FROM_FIRST_OFFSET);
            consumer.subscribe(topic, "*");
            consumer.registerMessageListener(inbox);
            consumer.start();

            List<String> sent = new ArrayList<>();
            Set<Integer> queues = new TreeSet<>();
            for (int i = 0; i < MESSAGES; i++) {
                String body = "mixed-" + i;
                SendResult s = producer.send(new Message(topic, "TagA", body.getBytes(StandardCharsets.UTF_8)));
                assertEquals(SendStatus.SEND_OK, s.getSendStatus());
                queues.add(s.getMessageQueue().getQueueId());
                sent.add(body);
            }
            assertEquals(4, queues.size(), "the producer spread over every routed queue: " + queues);
            List<String> got = inbox.awaitCount(MESSAGES, Duration.ofSeconds(90)).stream()
                .map(Inbox::body).collect(Collectors.toList());
            assertEquals(new TreeSet<>(sent), new TreeSet<>(got), "every message received");
            assertTrue(got.size() >= MESSAGES);
        } finally {
            consumer.shutdown();
            producer.shutdown();
        }
    }

    private static TopicRouteData route(DefaultMQProducer producer, String topic) {
        try {
            return producer.getDefaultMQProducerImpl().getmQClientFactory().getMQClientAPIImpl()
                .getTopicRouteInfoFromNameServer(topic, 3000);
        } catch (Exception e) {
            return null;
        }
    }
}
