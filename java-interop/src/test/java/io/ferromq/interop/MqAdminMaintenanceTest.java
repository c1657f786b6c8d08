package io.ferromq.interop;

import static io.ferromq.interop.MqAdminTest.BROKER;
import static io.ferromq.interop.MqAdminTest.CLUSTER;
import static io.ferromq.interop.MqAdminTest.RECEIVE_TIMEOUT;
import static io.ferromq.interop.MqAdminTest.assertContains;
import static io.ferromq.interop.MqAdminTest.client;
import static io.ferromq.interop.MqAdminTest.consumeAllThenShutDown;
import static io.ferromq.interop.MqAdminTest.send;
import static io.ferromq.interop.MqAdminTest.tokens;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import org.apache.rocketmq.client.consumer.DefaultMQPullConsumer;
import org.apache.rocketmq.client.consumer.DefaultMQPushConsumer;
import org.apache.rocketmq.client.consumer.PullResult;
import org.apache.rocketmq.client.consumer.PullStatus;
import org.apache.rocketmq.client.impl.factory.MQClientInstance;
import org.apache.rocketmq.client.producer.DefaultMQProducer;
import org.apache.rocketmq.common.message.MessageQueue;
import org.apache.rocketmq.common.protocol.route.QueueData;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * More of the stock {@code mqadmin} 4.9.7 (see {@link MqAdminTest}): broker-wide consume stats,
 * producers, write permission on the name server, the store maintenance commands and the consume
 * queue viewer; plus INVOKE_BROKER_TO_GET_CONSUMER_STATUS, which no 4.9.7 subcommand sends
 * (consumerStatus uses GET_CONSUMER_RUNNING_INFO), through the client API.
 */
@ExtendWith(FerroMQExtension.class)
class MqAdminMaintenanceTest {

    @BeforeEach
    void onlyWithA49Client() {
        MqAdmin.assumeClient49("mqadmin");
    }

    /**
     * brokerConsumeStats -b (GET_BROKER_CONSUME_STATS 317) prints one row per queue the group has
     * consumed from (#Topic #Group #Broker Name #QID #Broker Offset #Consumer Offset #Diff #LastTime)
     * and the broker-wide Diff Total.
     */
    @Test
    void brokerConsumeStatsShowsEveryGroupsLag(FerroMQ mq) throws Exception {
        MqAdmin admin = new MqAdmin(mq);
        String topic = mq.uniqueName("BCS");
        String group = mq.uniqueName("CG");
        DefaultMQProducer producer = mq.startProducer();
        send(producer, topic, "bcs-", 8);
        consumeAllThenShutDown(mq, topic, group, 8);
        send(producer, topic, "bcs-more-", 4);

        MqAdmin.Result r = admin.ok("brokerConsumeStats", "-b", mq.brokerAddr());
        assertTrue(r.lines().stream().map(MqAdminTest::tokens).anyMatch(t -> t.equals(List.of(
                "#Topic", "#Group", "#Broker", "Name", "#QID", "#Broker", "Offset", "#Consumer", "Offset", "#Diff",
                "#LastTime"))),
            "brokerConsumeStats should print its header: " + r);
        long brokerTotal = 0;
        long diffTotal = 0;
        int rows = 0;
        for (String line : r.lines()) {
            List<String> t = tokens(line);
            if (t.size() == 9 && t.get(0).equals(topic)) {
                assertEquals(group, t.get(1), line);
                assertEquals(BROKER, t.get(2), line);
                long brokerOffset = Long.parseLong(t.get(4));
                long consumerOffset = Long.parseLong(t.get(5));
                assertEquals(brokerOffset - consumerOffset, Long.parseLong(t.get(6)), line);
                assertTrue(t.get(7).matches("\\d{4}-\\d{2}-\\d{2}") && t.get(8).matches("\\d{2}:\\d{2}:\\d{2}"), line);
                brokerTotal += brokerOffset;
                diffTotal += brokerOffset - consumerOffset;
                rows++;
            }
        }
        assertEquals(4, rows, "one row per queue of " + topic + ": " + r);
        assertEquals(12, brokerTotal, "broker offsets of " + topic + ": " + r);
        assertEquals(4, diffTotal, "lag of " + group + " on " + topic + ": " + r);
        Matcher m = Pattern.compile("(?m)^Diff Total: (\\d+)\\s*$").matcher(r.output);
        assertTrue(m.find(), "brokerConsumeStats should end with 'Diff Total: <n>': " + r);
        assertTrue(Long.parseLong(m.group(1)) >= 4, "Diff Total counts the lag of " + group + ": " + r);
    }

    /**
     * producer -b (GET_ALL_PRODUCER_INFO 328) prints each live producer instance per group.
     */
    @Test
    void producerListsTheLiveProducers(FerroMQ mq) throws Exception {
        MqAdmin admin = new MqAdmin(mq);
        String topic = mq.uniqueName("Prod");
        DefaultMQProducer producer = mq.startProducer();
        send(producer, topic, "prod-", 1);
        MQClientInstance c = client(producer);
        c.sendHeartbeatToAllBrokerWithLock(); // register the producer group now, not in 30 s

        MqAdmin.Result r = admin.ok("producer", "-b", mq.brokerAddr());
        Pattern row = Pattern.compile("(?m)^producer group \\(" + Pattern.quote(producer.getProducerGroup())
            + "\\) instance : clientId=" + Pattern.quote(c.getClientId())
            + ",remoteIP=/127\\.0\\.0\\.1:\\d+, language=JAVA, version=(\\d+), lastUpdateTimestamp=(\\d+)\\s*$");
        Matcher m = row.matcher(r.output);
        assertTrue(m.find(), "producer should list " + c.getClientId() + " of " + producer.getProducerGroup() + ": " + r);
        long updated = Long.parseLong(m.group(2));
        assertTrue(Math.abs(System.currentTimeMillis() - updated) < 120_000, "lastUpdateTimestamp is recent: " + r);
    }

    /**
     * wipeWritePerm then addWritePerm -b (ADD_WRITE_PERM_OF_BROKER 327 on the name server) gives
     * the broker's queues their write permission back in the routes.
     */
    @Test
    void addWritePermUndoesWipeWritePerm(FerroMQ mq) throws Exception {
        MqAdmin admin = new MqAdmin(mq);
        String topic = mq.uniqueName("Perm");
        DefaultMQProducer producer = mq.startProducer();
        send(producer, topic, "perm-", 1);

        MqAdmin.Result wipe = admin.ok("wipeWritePerm", "-b", BROKER);
        assertTrue(wipe.output.contains("wipe write perm of broker[" + BROKER + "] in name server["), wipe.toString());
        assertEquals(4, routePerm(producer, topic), "after wipeWritePerm the route is read-only");

        MqAdmin.Result add = admin.ok("addWritePerm", "-b", BROKER);
        Matcher m = Pattern.compile("add write perm of broker\\[" + Pattern.quote(BROKER)
            + "\\] in name server\\[" + Pattern.quote(mq.namesrvAddr()) + "\\] OK, (\\d+)").matcher(add.output);
        assertTrue(m.find(), "addWritePerm should print 'add write perm of broker[..] in name server[..] OK, <n>': " + add);
        assertTrue(Integer.parseInt(m.group(1)) >= 1, "at least " + topic + " got write permission back: " + add);
        assertEquals(6, routePerm(producer, topic), "after addWritePerm the route is read-write again");
    }

    private static int routePerm(DefaultMQProducer producer, String topic) throws Exception {
        List<QueueData> qds = client(producer).getMQClientAPIImpl().getTopicRouteInfoFromNameServer(topic, 3000)
            .getQueueDatas();
        assertEquals(1, qds.size(), "one broker serves " + topic);
        return qds.get(0).getPerm();
    }

    /**
     * cleanExpiredCQ (CLEAN_EXPIRED_CONSUMEQUEUE 306), deleteExpiredCommitLog (DELETE_EXPIRED_COMMITLOG
     * 329) and cleanUnusedTopic (CLEAN_UNUSED_TOPIC 316), by -b and by -c, print "success"; nothing
     * live is lost: the topic's messages can still be pulled.
     */
    @Test
    void storeMaintenanceCommandsSucceedAndKeepLiveData(FerroMQ mq) throws Exception {
        MqAdmin admin = new MqAdmin(mq);
        String topic = mq.uniqueName("Maint");
        DefaultMQProducer producer = mq.startProducer();
        send(producer, topic, "maint-", 8);

        for (String cmd : List.of("cleanExpiredCQ", "deleteExpiredCommitLog", "cleanUnusedTopic")) {
            MqAdmin.Result byAddr = admin.ok(cmd, "-b", mq.brokerAddr());
            assertEquals("success", byAddr.output.trim(), cmd + " -b: " + byAddr);
            MqAdmin.Result byCluster = admin.ok(cmd, "-c", CLUSTER);
            assertEquals("success", byCluster.output.trim(), cmd + " -c: " + byCluster);
        }

        DefaultMQPullConsumer puller = mq.startPullConsumer();
        int found = 0;
        for (MessageQueue q : puller.fetchSubscribeMessageQueues(topic)) {
            PullResult pr = puller.pull(q, "*", 0, 32);
            assertEquals(PullStatus.FOUND, pr.getPullStatus(), "queue " + q + " still has its messages");
            found += pr.getMsgFoundList().size();
        }
        assertEquals(8, found, "every message of " + topic + " is still there");
    }

    /**
     * queryCq (QUERY_CONSUME_QUEUE 321) prints a queue's min/max index and its entries (physical
     * offset, size, tags code); with -g of an online consumer also its subscription and filter data.
     */
    @Test
    void queryCqPrintsConsumeQueueEntries(FerroMQ mq) throws Exception {
        MqAdmin admin = new MqAdmin(mq);
        String topic = mq.uniqueName("Cq");
        String group = mq.uniqueName("CG");
        DefaultMQProducer producer = mq.startProducer();
        send(producer, topic, "cq-", 12);
        DefaultMQPushConsumer consumer = mq.newPushConsumer(group);
        Inbox inbox = new Inbox();
        consumer.subscribe(topic, "TagA");
        consumer.registerMessageListener(inbox);
        consumer.start();
        inbox.awaitCount(12, RECEIVE_TIMEOUT);

        DefaultMQPullConsumer puller = mq.startPullConsumer();
        MessageQueue q0 = new MessageQueue(topic, BROKER, 0);
        long max = puller.maxOffset(q0);
        assertTrue(max >= 2, "queue 0 of " + topic + " holds messages");

        MqAdmin.Result r = admin.ok("queryCq", "-t", topic, "-q", "0", "-i", "1", "-c", "10", "-g", group);
        assertContains(r, "Queue data: \nmax: " + max + ", min: 0\n");
        assertContains(r, "Subscription data: \n");
        assertContains(r, "\"subString\":\"TagA\"");
        assertContains(r, "Filter data: \nnull\n");
        Pattern entry = Pattern.compile("idx: (\\d+)\nConsumeQueueData\\{physicOffset=(\\d+), physicSize=(\\d+), "
            + "tagsCode=(-?\\d+), extendDataJson='null', bitMap='null', eval=false, msg='null'}\n");
        Matcher m = entry.matcher(r.output);
        List<Long> idx = new ArrayList<>();
        Map<Long, Long> tags = new TreeMap<>();
        while (m.find()) {
            idx.add(Long.parseLong(m.group(1)));
            assertTrue(Long.parseLong(m.group(3)) > 0, m.group());
            tags.put(Long.parseLong(m.group(1)), Long.parseLong(m.group(4)));
        }
        List<Long> want = new ArrayList<>();
        for (long i = 1; i < Math.min(max, 11); i++) {
            want.add(i);
        }
        assertEquals(want, idx, "entries from index 1 to the end of queue 0: " + r);
        assertTrue(tags.values().stream().allMatch(t -> t == "TagA".hashCode()), "tags codes are TagA's hash: " + r);

        MqAdmin.Result offline = admin.ok("queryCq", "-t", topic, "-q", "0", "-i", "0", "-g", "NoSuchGroup");
        assertContains(offline, "Filter data: \nNoSuchGroup@" + topic + " is not online!\n");
    }

    /**
     * INVOKE_BROKER_TO_GET_CONSUMER_STATUS (223): the broker asks each live consumer of the group
     * for its offsets (GET_CONSUMER_STATUS_FROM_CLIENT 221) and answers them per client id.
     */
    @Test
    void brokerRelaysGetConsumerStatusToTheLiveConsumer(FerroMQ mq) throws Exception {
        String topic = mq.uniqueName("CStatus");
        String group = mq.uniqueName("CG");
        DefaultMQProducer producer = mq.startProducer();
        send(producer, topic, "cs-", 8);
        DefaultMQPushConsumer consumer = mq.newPushConsumer(group);
        Inbox inbox = new Inbox();
        consumer.subscribe(topic, "*");
        consumer.registerMessageListener(inbox);
        consumer.start();
        inbox.awaitCount(8, RECEIVE_TIMEOUT);
        Consumers.awaitCaughtUp(topic, RECEIVE_TIMEOUT, consumer);
        String clientId = consumer.getDefaultMQPushConsumerImpl().getmQClientFactory().getClientId();

        Map<String, Map<MessageQueue, Long>> status = client(producer).getMQClientAPIImpl()
            .invokeBrokerToGetConsumerStatus(mq.brokerAddr(), topic, group, null, 15_000);
        assertEquals(List.of(clientId), new ArrayList<>(status.keySet()), "one entry per live consumer: " + status);
        Map<MessageQueue, Long> offsets = status.get(clientId);
        assertEquals(4, offsets.size(), "the consumer's offset of every queue of " + topic + ": " + offsets);
        assertEquals(8L, offsets.values().stream().mapToLong(Long::longValue).sum(), "all 8 consumed: " + offsets);

        Map<String, Map<MessageQueue, Long>> one = client(producer).getMQClientAPIImpl()
            .invokeBrokerToGetConsumerStatus(mq.brokerAddr(), topic, group, clientId, 15_000);
        assertEquals(status, one, "clientAddr picks that client");
    }

    /**
     * exportConfigs -c (name server config, every master's broker config, cluster scale) and
     * exportMetrics -c (runtime stats, topic and group figures per broker) write their JSON files
     * with the broker's own values in them.
     */
    @Test
    void exportConfigsAndMetricsWriteTheirFiles(FerroMQ mq) throws Exception {
        MqAdmin admin = new MqAdmin(mq);
        String topic = mq.uniqueName("Export");
        String group = mq.uniqueName("CG");
        DefaultMQProducer producer = mq.startProducer();
        send(producer, topic, "e", 5);
        consumeAllThenShutDown(mq, topic, group, 5);

        java.nio.file.Path dir = java.nio.file.Files.createTempDirectory("export");
        admin.ok("exportConfigs", "-c", CLUSTER, "-f", dir.toString());
        String configs = java.nio.file.Files.readString(dir.resolve("configs.json"));
        com.alibaba.fastjson.JSONObject c = com.alibaba.fastjson.JSON.parseObject(configs);
        assertEquals(1, c.getJSONObject("clusterScale").getIntValue("masterBrokerSize"), "one master: " + configs);
        com.alibaba.fastjson.JSONObject broker = c.getJSONObject("brokerConfigs").getJSONObject(BROKER);
        assertEquals(CLUSTER, broker.getString("brokerClusterName"), "the broker's own settings: " + configs);
        assertEquals("0", broker.getString("brokerId"), "brokerId: " + configs);

        admin.ok("exportMetrics", "-c", CLUSTER, "-f", dir.toString());
        String metrics = java.nio.file.Files.readString(dir.resolve("metrics.json"));
        com.alibaba.fastjson.JSONObject m = com.alibaba.fastjson.JSON.parseObject(metrics);
        assertTrue(!m.isEmpty(), "metrics.json has content: " + metrics);
        assertTrue(metrics.contains(BROKER), "the broker's name in metrics.json: " + metrics);
    }
}
