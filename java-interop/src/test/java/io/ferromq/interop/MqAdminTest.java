package io.ferromq.interop;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.io.IOException;
import java.io.StringReader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.function.Predicate;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import java.util.stream.IntStream;

import org.apache.rocketmq.client.consumer.DefaultMQPullConsumer;
import org.apache.rocketmq.client.consumer.DefaultMQPushConsumer;
import org.apache.rocketmq.client.consumer.PullResult;
import org.apache.rocketmq.client.consumer.PullStatus;
import org.apache.rocketmq.client.exception.MQBrokerException;
import org.apache.rocketmq.client.exception.MQClientException;
import org.apache.rocketmq.client.impl.factory.MQClientInstance;
import org.apache.rocketmq.client.producer.DefaultMQProducer;
import org.apache.rocketmq.client.producer.SendResult;
import org.apache.rocketmq.client.producer.SendStatus;
import org.apache.rocketmq.common.message.Message;
import org.apache.rocketmq.common.message.MessageExt;
import org.apache.rocketmq.common.message.MessageQueue;
import org.apache.rocketmq.common.protocol.header.QueryConsumerOffsetRequestHeader;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * The stock {@code mqadmin} tool (rocketmq-tools 4.9.7, run as its own JVM by {@link MqAdmin})
 * against the server: every test asserts on what mqadmin prints and, where it makes sense, on the
 * broker's state as the Java client sees it. The wire contract behind each command is described
 * in the mqadmin notes (request codes in brackets below).
 *
 * <p>Runs only with a 4.9.x Java client: the tools jar brings its own 4.9.7 client, and the
 * helper calls below are the 4.9 API.
 */
@ExtendWith(FerroMQExtension.class)
class MqAdminTest {

    static final String CLUSTER = FerroMQ.CLUSTER_NAME;
    static final String BROKER = FerroMQ.BROKER_NAME;
    static final Duration RECEIVE_TIMEOUT = Duration.ofSeconds(45);
    /** The client sleeps ~10 s inside its RESET_CONSUMER_CLIENT_OFFSET handling before it re-pulls. */
    static final Duration RESET_REDELIVERY_TIMEOUT = Duration.ofSeconds(40);
    static final int NO_PERMISSION = 16;
    static final int TOPIC_NOT_EXIST = 17;
    static final int QUERY_NOT_FOUND = 22;
    static final int SUBSCRIPTION_GROUP_NOT_EXIST = 26;

    @BeforeEach
    void onlyWithA49Client() {
        MqAdmin.assumeClient49("mqadmin");
    }

    // ------------------------------------------------------------------------------------------
    // Topics
    // ------------------------------------------------------------------------------------------

    /**
     * updateTopic -c (GET_BROKER_CLUSTER_INFO 106 + UPDATE_AND_CREATE_TOPIC 17) makes an 8/8 topic;
     * topicRoute (105) shows it; a producer spreads 64 messages over all 8 queues; topicList (206),
     * topicList -c (106, 206, 105, QUERY_TOPIC_CONSUME_BY_WHO 300), topicClusterList and
     * topicStatus (GET_TOPIC_STATS_INFO 202) all agree with what was sent and who consumes it.
     */
    @Test
    void updateTopicThenRouteListClusterAndStatusShowIt(FerroMQ mq) throws Exception {
        MqAdmin admin = new MqAdmin(mq);
        String topic = mq.uniqueName("AdminTopic");
        String group = mq.uniqueName("CG");

        MqAdmin.Result created = admin.ok("updateTopic", "-c", CLUSTER, "-t", topic, "-r", "8", "-w", "8");
        assertContains(created, "create topic to " + mq.brokerAddr() + " success.");
        assertContains(created, "TopicConfig [topicName=" + topic
            + ", readQueueNums=8, writeQueueNums=8, perm=RW-, topicFilterType=SINGLE_TAG, topicSysFlag=0, order=false]");

        MqAdmin.Result route = admin.ok("topicRoute", "-t", topic);
        String compact = route.output.replaceAll("\\s", "");
        assertTrue(compact.contains("\"readQueueNums\":8") && compact.contains("\"writeQueueNums\":8")
            && compact.contains("\"perm\":6") && compact.contains("\"brokerName\":\"" + BROKER + "\"")
            && compact.contains("\"" + mq.brokerAddr() + "\"") && compact.contains("\"cluster\":\"" + CLUSTER + "\""),
            "topicRoute should show 8 read / 8 write queues with perm 6 on " + BROKER + " at " + mq.brokerAddr()
                + ": " + route);

        DefaultMQProducer producer = mq.startProducer();
        int[] perQueue = new int[8];
        for (int i = 0; i < 64; i++) {
            SendResult r = producer.send(new Message(topic, "TagA", "K-" + i, ("spread-" + i).getBytes(UTF_8)));
            assertEquals(SendStatus.SEND_OK, r.getSendStatus(), "send #" + i + ": " + r);
            perQueue[r.getMessageQueue().getQueueId()]++;
        }
        for (int q = 0; q < 8; q++) {
            assertTrue(perQueue[q] > 0, "64 round-robin sends reach every one of the 8 queues; per queue: "
                + java.util.Arrays.toString(perQueue));
        }

        DefaultMQPushConsumer consumer = mq.newPushConsumer(group);
        Inbox inbox = new Inbox();
        consumer.subscribe(topic, "*");
        consumer.registerMessageListener(inbox);
        consumer.start();
        inbox.awaitCount(64, RECEIVE_TIMEOUT);
        Consumers.awaitCaughtUp(topic, RECEIVE_TIMEOUT, consumer);

        MqAdmin.Result list = admin.ok("topicList");
        assertTrue(trimmedLines(list).contains(topic), "topicList should list " + topic + ": " + list);

        MqAdmin.Result listC = admin.ok("topicList", "-c");
        assertTrue(listC.lines().stream().map(MqAdminTest::tokens)
                .anyMatch(t -> t.equals(List.of(CLUSTER, topic, group))),
            "topicList -c should print a row '" + CLUSTER + "  " + topic + "  " + group
                + "' (cluster, topic, consumer group): " + listC);

        MqAdmin.Result clusters = admin.ok("topicClusterList", "-t", topic);
        assertEquals(List.of(CLUSTER), trimmedLines(clusters).stream().filter(l -> !l.isEmpty())
            .collect(Collectors.toList()), "topicClusterList -t " + topic + ": " + clusters);

        MqAdmin.Result status = admin.ok("topicStatus", "-t", topic);
        Map<Integer, long[]> rows = topicStatusRows(status);
        assertEquals(IntStream.range(0, 8).boxed().collect(Collectors.toSet()), rows.keySet(),
            "topicStatus rows (queue ids): " + status);
        long sum = 0;
        for (int q = 0; q < 8; q++) {
            assertEquals(0, rows.get(q)[0], "min offset of queue " + q + ": " + status);
            assertEquals(perQueue[q], rows.get(q)[1], "max offset of queue " + q + " (messages sent to it): " + status);
            sum += rows.get(q)[1];
        }
        assertEquals(64, sum, "topicStatus max offsets sum to the messages sent: " + status);
    }

    /**
     * deleteTopic -c (106, DELETE_TOPIC_IN_BROKER 215, DELETE_TOPIC_IN_NAMESRV 216) removes the topic:
     * topicList no longer lists it, topicRoute gets code 17, and with autoCreateTopicEnable=false a
     * fresh producer's send fails with "No route info".
     */
    @Test
    @BrokerConfig("autoCreateTopicEnable=false")
    void deleteTopicRemovesItFromBrokerAndNameServer(FerroMQ mq) throws Exception {
        MqAdmin admin = new MqAdmin(mq);
        String topic = mq.uniqueName("Doomed");
        admin.ok("updateTopic", "-c", CLUSTER, "-t", topic);
        DefaultMQProducer producer = mq.startProducer();
        SendResult r = producer.send(new Message(topic, "TagA", "before-delete".getBytes(UTF_8)));
        assertEquals(SendStatus.SEND_OK, r.getSendStatus(), "send to the created topic: " + r);

        MqAdmin.Result deleted = admin.ok("deleteTopic", "-c", CLUSTER, "-t", topic);
        assertContains(deleted, "delete topic [" + topic + "] from cluster [" + CLUSTER + "] success.");
        assertContains(deleted, "delete topic [" + topic + "] from NameServer success.");

        MqAdmin.Result list = admin.ok("topicList");
        assertFalse(trimmedLines(list).contains(topic), "topicList must not list the deleted " + topic + ": " + list);
        MqAdmin.Result route = admin.fails(TOPIC_NOT_EXIST, "topicRoute", "-t", topic);
        assertTrue(route.errorRemark().contains("No topic route info in name server for the topic: " + topic),
            "remark: " + route);

        DefaultMQProducer fresh = mq.startProducer();
        MQClientException e = assertThrows(MQClientException.class,
            () -> fresh.send(new Message(topic, "TagA", "after-delete".getBytes(UTF_8))),
            "send to the deleted topic with autoCreateTopicEnable=false");
        assertTrue(e.getMessage() != null && e.getMessage().contains("No route info"),
            "exception message should contain 'No route info', was: " + e.getMessage());
    }

    // ------------------------------------------------------------------------------------------
    // Subscription groups
    // ------------------------------------------------------------------------------------------

    /**
     * With autoCreateSubscriptionGroup=false a pull in an unknown group fails with code 26;
     * updateSubGroup -c (UPDATE_AND_CREATE_SUBSCRIPTIONGROUP 200) creates the group and the pull
     * works; deleteSubGroup -c (DELETE_SUBSCRIPTIONGROUP 207, then deleteTopic of %RETRY% / %DLQ%)
     * removes it again and the pull fails with 26 again.
     */
    @Test
    @BrokerConfig("autoCreateSubscriptionGroup=false")
    void updateSubGroupLetsAGroupPullAndDeleteSubGroupRemovesIt(FerroMQ mq) throws Exception {
        MqAdmin admin = new MqAdmin(mq);
        String topic = mq.uniqueName("SubGroupTopic");
        String group = mq.uniqueName("SubG");
        DefaultMQProducer producer = mq.startProducer();
        SendResult sent = producer.send(new Message(topic, "TagA", "sub-0".getBytes(UTF_8)));
        assertEquals(SendStatus.SEND_OK, sent.getSendStatus(), "send: " + sent);
        MessageQueue queue = sent.getMessageQueue();

        DefaultMQPullConsumer puller = mq.startPullConsumer(group);
        MQBrokerException before = assertThrows(MQBrokerException.class, () -> puller.pull(queue, "*", 0, 32),
            "pull in group " + group + " before updateSubGroup (autoCreateSubscriptionGroup=false)");
        assertEquals(SUBSCRIPTION_GROUP_NOT_EXIST, before.getResponseCode(),
            "code of a pull in an unknown group; remark: " + before.getErrorMessage());

        MqAdmin.Result created = admin.ok("updateSubGroup", "-c", CLUSTER, "-g", group, "-r", "3");
        assertContains(created, "create subscription group to " + mq.brokerAddr() + " success.");
        assertContains(created, "SubscriptionGroupConfig [groupName=" + group + ", consumeEnable=true");
        assertContains(created, "retryMaxTimes=3");

        PullResult pulled = puller.pull(queue, "*", 0, 32);
        assertEquals(PullStatus.FOUND, pulled.getPullStatus(), "pull after updateSubGroup: " + pulled);
        assertEquals(List.of("sub-0"), pulled.getMsgFoundList().stream().map(Inbox::body).collect(Collectors.toList()));

        MqAdmin.Result deleted = admin.ok("deleteSubGroup", "-c", CLUSTER, "-g", group);
        assertContains(deleted, "delete subscription group [" + group + "] from broker [" + mq.brokerAddr()
            + "] in cluster [" + CLUSTER + "] success.");

        MQBrokerException after = assertThrows(MQBrokerException.class, () -> puller.pull(queue, "*", 0, 32),
            "pull in group " + group + " after deleteSubGroup");
        assertEquals(SUBSCRIPTION_GROUP_NOT_EXIST, after.getResponseCode(),
            "code of a pull in the deleted group; remark: " + after.getErrorMessage());
    }

    // ------------------------------------------------------------------------------------------
    // Cluster / broker status and configuration
    // ------------------------------------------------------------------------------------------

    /**
     * clusterList (106 + GET_BROKER_RUNTIME_INFO 28) prints the broker row with V4_9_7 and numeric
     * TPS; after 200 sends its InTPS becomes positive, and clusterList -m counts them as InTotalToday.
     */
    @Test
    void clusterListShowsTheBrokerAndItsTraffic(FerroMQ mq) throws Exception {
        MqAdmin admin = new MqAdmin(mq);
        String topic = mq.uniqueName("ClusterTraffic");
        awaitApacheRuntimeInfo(mq, admin);
        ClusterRow idle = clusterRow(mq, admin.ok("clusterList"));
        assertEquals("V4_9_7", idle.version, "clusterList #Version");

        DefaultMQProducer producer = mq.startProducer();
        for (int i = 0; i < 200; i++) {
            SendResult r = producer.send(new Message(topic, "TagA", ("traffic-" + i).getBytes(UTF_8)));
            assertEquals(SendStatus.SEND_OK, r.getSendStatus(), "send #" + i + ": " + r);
        }

        MqAdmin.Result busy = pollAdmin(admin, "clusterList InTPS > 0 after 200 sends", Duration.ofSeconds(12),
            r -> clusterRow(mq, r).inTps > 0, "clusterList");
        ClusterRow row = clusterRow(mq, busy);
        assertTrue(row.inTps > 0, "InTPS: " + busy);

        MqAdmin.Result totals = admin.ok("clusterList", "-m");
        Matcher m = Pattern.compile("(?m)^" + CLUSTER + "\\s+" + BROKER + "\\s+(\\d+)\\s+(\\d+)\\s+(\\d+)\\s+(\\d+)\\s*$")
            .matcher(totals.output);
        assertTrue(m.find(), "clusterList -m row for " + BROKER + ": " + totals);
        assertEquals(200, Long.parseLong(m.group(3)), "clusterList -m #InTotalToday: " + totals);
    }

    /** brokerStatus -b (GET_BROKER_RUNTIME_INFO 28) prints the runtime keys, with the put count. */
    @Test
    void brokerStatusPrintsRuntimeInfo(FerroMQ mq) throws Exception {
        MqAdmin admin = new MqAdmin(mq);
        String topic = mq.uniqueName("StatusTopic");
        DefaultMQProducer producer = mq.startProducer();
        for (int i = 0; i < 37; i++) {
            SendResult r = producer.send(new Message(topic, "TagA", ("status-" + i).getBytes(UTF_8)));
            assertEquals(SendStatus.SEND_OK, r.getSendStatus(), "send #" + i + ": " + r);
        }
        awaitApacheRuntimeInfo(mq, admin);
        MqAdmin.Result status = admin.ok("brokerStatus", "-b", mq.brokerAddr());
        Map<String, String> kv = status.colonTable();
        for (String key : List.of("putTps", "getTransferedTps", "msgPutTotalTodayNow", "msgGetTotalTodayNow",
            "msgPutTotalYesterdayMorning", "msgPutTotalTodayMorning", "sendThreadPoolQueueSize",
            "pullThreadPoolQueueSize", "pageCacheLockTimeMills", "earliestMessageTimeStamp", "commitLogDiskRatio",
            "commitLogMaxOffset", "brokerVersionDesc", "brokerVersion", "bootTimestamp", "runtime")) {
            assertTrue(kv.containsKey(key), "brokerStatus should print " + key + ": " + status);
        }
        assertEquals("V4_9_7", kv.get("brokerVersionDesc"), "brokerVersionDesc: " + status);
        assertEquals("407", kv.get("brokerVersion"), "brokerVersion: " + status);
        assertEquals(37, Long.parseLong(kv.get("msgPutTotalTodayNow").trim()), "msgPutTotalTodayNow: " + status);
        assertTrue(Long.parseLong(kv.get("commitLogMaxOffset").trim()) > 0, "commitLogMaxOffset: " + status);
        // clusterList parses these two outside its try block. (Apache reports -1 as the earliest
        // message time until the commit log holds 2 x maxMessageSize bytes.)
        long earliest = Long.parseLong(kv.get("earliestMessageTimeStamp").trim());
        assertTrue(earliest == -1 || earliest > 0 && earliest <= System.currentTimeMillis(),
            "earliestMessageTimeStamp: " + status);
        double ratio = Double.parseDouble(kv.get("commitLogDiskRatio").trim());
        assertTrue(ratio >= 0 && ratio <= 1, "commitLogDiskRatio: " + status);
    }

    /**
     * brokerStatus prints everything GET_BROKER_RUNTIME_INFO (28) returns; the Java broker always
     * returns these keys (besides remainHowManyDataToCommit and scheduleMessageOffset_<level>, which
     * depend on the configuration and on delay levels used), including one
     * commitLogDiskRatio_<store path> per commit-log directory.
     */
    @Test
    void brokerStatusPrintsEveryRuntimeKeyOfTheJavaBroker(FerroMQ mq) throws Exception {
        MqAdmin admin = new MqAdmin(mq);
        DefaultMQProducer producer = mq.startProducer();
        send(producer, mq.uniqueName("AllKeys"), "k-", 3);
        awaitApacheRuntimeInfo(mq, admin);
        MqAdmin.Result status = admin.ok("brokerStatus", "-b", mq.brokerAddr());
        Set<String> printed = new TreeSet<>(status.colonTable().keySet());
        Set<String> missing = new TreeSet<>(List.of(
            "EndTransactionQueueSize", "EndTransactionThreadPoolQueueCapacity", "bootTimestamp", "brokerVersion",
            "brokerVersionDesc", "commitLogDirCapacity", "commitLogDiskRatio",
            "commitLogDiskRatio_" + mq.storeDir().resolve("commitlog"), "commitLogMaxOffset", "commitLogMinOffset",
            "consumeQueueDiskRatio", "dispatchBehindBytes", "dispatchMaxBuffer", "earliestMessageTimeStamp",
            "getFoundTps", "getMessageEntireTimeMax", "getMissTps", "getTotalTps", "getTransferedTps",
            "msgGetTotalTodayMorning", "msgGetTotalTodayNow", "msgGetTotalYesterdayMorning",
            "msgPutTotalTodayMorning", "msgPutTotalTodayNow", "msgPutTotalYesterdayMorning",
            "pageCacheLockTimeMills", "pullThreadPoolQueueCapacity", "pullThreadPoolQueueHeadWaitTimeMills",
            "pullThreadPoolQueueSize", "putLatency99", "putLatency999", "putMessageAverageSize",
            "putMessageDistributeTime", "putMessageEntireTimeMax", "putMessageFailedTimes", "putMessageSizeTotal",
            "putMessageTimesTotal", "putTps", "queryThreadPoolQueueCapacity", "queryThreadPoolQueueHeadWaitTimeMills",
            "queryThreadPoolQueueSize", "remainHowManyDataToFlush", "remainTransientStoreBufferNumbs", "runtime",
            "sendThreadPoolQueueCapacity", "sendThreadPoolQueueHeadWaitTimeMills", "sendThreadPoolQueueSize",
            "startAcceptSendRequestTimeStamp"));
        missing.removeAll(printed);
        assertEquals(Set.of(), missing, "runtime keys the Java broker prints but " + mq.targetName()
            + " does not (printed: " + printed + "): " + status);
    }

    /**
     * getBrokerConfig (GET_BROKER_CONFIG 26) prints every key the Java 4.9.7 broker prints (its
     * BrokerConfig, NettyServerConfig, NettyClientConfig and MessageStoreConfig fields; all but
     * rocketmqHome, which it prints only when ROCKETMQ_HOME is set), each with a value, and the
     * host-derived ones consistent with the broker's own settings.
     */
    @Test
    void getBrokerConfigPrintsEveryKeyOfTheJavaBroker(FerroMQ mq) throws Exception {
        MqAdmin admin = new MqAdmin(mq);
        MqAdmin.Result got = admin.ok("getBrokerConfig", "-b", mq.brokerAddr());
        Map<String, String> props = got.properties();
        Set<String> missing = new TreeSet<>(List.of(
            "accessMessageInMemoryMaxRatio", "aclEnable", "adminBrokerThreadPoolNums",
            "autoCreateSubscriptionGroup", "autoCreateTopicEnable", "autoDeleteUnusedStats",
            "bitMapLengthConsumeQueueExt", "brokerClusterName", "brokerFastFailureEnable", "brokerIP1",
            "brokerIP2", "brokerId", "brokerName", "brokerPermission", "brokerRole", "brokerTopicEnable",
            "channelNotActiveInterval", "checkCRCOnRecover", "cleanFileForciblyEnable", "cleanResourceInterval",
            "clientAsyncSemaphoreValue", "clientCallbackExecutorThreads", "clientChannelMaxIdleTimeSeconds",
            "clientCloseSocketIfTimeout", "clientManageThreadPoolNums", "clientManagerThreadPoolQueueCapacity",
            "clientOnewaySemaphoreValue", "clientPooledByteBufAllocatorEnable", "clientSocketRcvBufSize",
            "clientSocketSndBufSize", "clientWorkerThreads", "clusterTopicEnable", "commercialBaseCount",
            "commercialBigCount", "commercialEnable", "commercialTimerCount", "commercialTransCount",
            "commitCommitLogLeastPages", "commitCommitLogThoroughInterval", "commitIntervalCommitLog",
            "compressedRegister", "connectTimeoutMillis", "consumerFallbehindThreshold",
            "consumerManageThreadPoolNums", "consumerManagerThreadPoolQueueCapacity", "debugLockEnable",
            "defaultQueryMaxNum", "defaultTopicQueueNums", "deleteCommitLogFilesInterval",
            "deleteConsumeQueueFilesInterval", "deleteWhen", "destroyMapedFileIntervalForcibly",
            "disableConsumeIfConsumerReadSlowly", "diskFallRecorded", "diskMaxUsedSpaceRatio",
            "duplicationEnable", "enableCalcFilterBitMap", "enableConsumeQueueExt", "enableDLegerCommitLog",
            "enableDetailStat", "enableLmq", "enableMultiDispatch", "enablePropertyFilter",
            "enableScheduleAsyncDeliver", "enableScheduleMessageStats", "endTransactionPoolQueueCapacity",
            "endTransactionThreadPoolNums", "expectConsumerNumUseFilter", "fastFailIfNoBufferInStorePool",
            "fetchNamesrvAddrByAddressServer", "fileReservedTime", "filterDataCleanTimeSpan", "filterServerNums",
            "filterSupportRetry", "flushCommitLogLeastPages", "flushCommitLogThoroughInterval",
            "flushCommitLogTimed", "flushConsumeQueueLeastPages", "flushConsumeQueueThoroughInterval",
            "flushConsumerOffsetHistoryInterval", "flushConsumerOffsetInterval", "flushDelayOffsetInterval",
            "flushDiskType", "flushIntervalCommitLog", "flushIntervalConsumeQueue",
            "flushLeastPagesWhenWarmMapedFile", "forceRegister", "haHousekeepingInterval", "haListenPort",
            "haSendHeartbeatInterval", "haSlaveFallbehindMax", "haTransferBatchSize", "heartbeatThreadPoolNums",
            "heartbeatThreadPoolQueueCapacity", "highSpeedMode", "isEnableBatchPush", "isolateLogEnable",
            "listenPort", "longPollingEnable", "mappedFileSizeCommitLog", "mappedFileSizeConsumeQueue",
            "mappedFileSizeConsumeQueueExt", "maxDelayTime", "maxErrorRateOfBloomFilter", "maxHashSlotNum",
            "maxIndexNum", "maxLmqConsumeQueueNum", "maxMessageSize", "maxMsgsNumBatch",
            "maxTransferBytesOnMessageInDisk", "maxTransferBytesOnMessageInMemory",
            "maxTransferCountOnMessageInDisk", "maxTransferCountOnMessageInMemory", "messageDelayLevel",
            "messageIndexEnable", "messageIndexSafe", "messageStorePlugIn", "msgTraceTopicName", "namesrvAddr",
            "notifyConsumerIdsChangedEnable", "offsetCheckInSlave", "osPageCacheBusyTimeOutMills",
            "processReplyMessageThreadPoolNums", "pullMessageThreadPoolNums", "pullThreadPoolQueueCapacity",
            "putMessageFutureThreadPoolNums", "putMsgIndexHightWater", "putThreadPoolQueueCapacity",
            "queryMessageThreadPoolNums", "queryThreadPoolQueueCapacity", "redeleteHangedFileInterval",
            "regionId", "registerBrokerTimeoutMills", "registerNameServerPeriod", "rejectTransactionMessage",
            "replyThreadPoolQueueCapacity", "scheduleAsyncDeliverMaxPendingLimit",
            "scheduleAsyncDeliverMaxResendNum2Blocked", "sendMessageThreadPoolNums",
            "sendThreadPoolQueueCapacity", "serverAsyncSemaphoreValue", "serverCallbackExecutorThreads",
            "serverChannelMaxIdleTimeSeconds", "serverOnewaySemaphoreValue", "serverPooledByteBufAllocatorEnable",
            "serverSelectorThreads", "serverSocketBacklog", "serverSocketRcvBufSize", "serverSocketSndBufSize",
            "serverWorkerThreads", "shortPollingTimeMills", "slaveReadEnable", "slaveTimeout",
            "startAcceptSendRequestTimeStamp", "storePathRootDir", "storeReplyMessageEnable", "syncFlushTimeout",
            "traceOn", "traceTopicEnable", "transactionCheckInterval", "transactionCheckMax",
            "transactionTimeOut", "transferMsgByHeap", "transientStorePoolEnable", "transientStorePoolSize",
            "useEpollNativeSelector", "useReentrantLockWhenPutMessage", "useTLS", "waitTimeMillsInHeartbeatQueue",
            "waitTimeMillsInPullQueue", "waitTimeMillsInSendQueue", "waitTimeMillsInTransactionQueue",
            "warmMapedFileEnable", "writeBufferHighWaterMark", "writeBufferLowWaterMark"));
        assertEquals(175, missing.size());
        missing.removeAll(props.keySet());
        assertEquals(Set.of(), missing, "config keys the Java broker prints but " + mq.targetName()
            + " does not (printed: " + props.keySet() + "): " + got);
        assertEquals(Integer.toString(mq.brokerPort() + 1), props.get("haListenPort"), "haListenPort: " + got);
        assertEquals("1s 5s 10s 30s 1m 2m 3m 4m 5m 6m 7m 8m 9m 10m 20m 30m 1h 2h", props.get("messageDelayLevel"),
            "messageDelayLevel: " + got);
        assertEquals("ASYNC_MASTER", props.get("brokerRole"), "brokerRole: " + got);
        assertEquals("false", props.get("useTLS"), "useTLS: " + got);
        assertTrue(Integer.parseInt(props.get("sendMessageThreadPoolNums")) >= 1, "sendMessageThreadPoolNums: " + got);
    }

    /**
     * getBrokerConfig (GET_BROKER_CONFIG 26) prints the broker's settings; updateBrokerConfig
     * (UPDATE_BROKER_CONFIG 25) of autoCreateTopicEnable=false takes effect at once, shows in
     * getBrokerConfig, is persisted to the broker's config file, and a send to a new topic fails.
     */
    @Test
    void getAndUpdateBrokerConfig(FerroMQ mq) throws Exception {
        MqAdmin admin = new MqAdmin(mq);
        Path brokerConf = mq.storeDir().getParent().resolve("broker.conf");

        MqAdmin.Result got = admin.ok("getBrokerConfig", "-b", mq.brokerAddr());
        assertContains(got, "============" + mq.brokerAddr() + "============");
        Map<String, String> props = got.properties();
        assertEquals(Integer.toString(mq.brokerPort()), props.get("listenPort"), "listenPort: " + got);
        assertEquals(BROKER, props.get("brokerName"), "brokerName: " + got);
        assertEquals(CLUSTER, props.get("brokerClusterName"), "brokerClusterName: " + got);
        assertEquals("0", props.get("brokerId"), "brokerId: " + got);
        assertEquals("127.0.0.1", props.get("brokerIP1"), "brokerIP1: " + got);
        assertEquals(mq.storeDir().toString(), props.get("storePathRootDir"), "storePathRootDir: " + got);
        assertEquals("true", props.get("autoCreateTopicEnable"), "autoCreateTopicEnable: " + got);

        MqAdmin.Result updated = admin.ok("updateBrokerConfig", "-b", mq.brokerAddr(),
            "-k", "autoCreateTopicEnable", "-v", "false");
        assertContains(updated, "update broker config success, " + mq.brokerAddr());

        MqAdmin.Result again = admin.ok("getBrokerConfig", "-b", mq.brokerAddr());
        assertEquals("false", again.properties().get("autoCreateTopicEnable"), "after the update: " + again);

        Properties file = loadProperties(brokerConf);
        assertEquals("false", file.getProperty("autoCreateTopicEnable"),
            "autoCreateTopicEnable in the persisted " + brokerConf + ":\n" + Files.readString(brokerConf));
        assertEquals(Integer.toString(mq.brokerPort()), file.getProperty("listenPort"),
            "listenPort still in " + brokerConf);
        assertEquals(mq.storeDir().toString(), file.getProperty("storePathRootDir"),
            "storePathRootDir still in " + brokerConf);

        // A new topic is no longer created on first send. (TBW102 stays routable, so the client
        // sends with defaultTopic=TBW102 and the broker answers TOPIC_NOT_EXIST, as Apache's does:
        // "Send [3] times, still failed", not "No route info".)
        String newTopic = mq.uniqueName("NotAutoCreated");
        DefaultMQProducer producer = mq.startProducer();
        MQClientException e = assertThrows(MQClientException.class,
            () -> producer.send(new Message(newTopic, "TagA", "nope".getBytes(UTF_8))),
            "send to a new topic after autoCreateTopicEnable was switched off");
        Throwable cause = e.getCause();
        assertTrue(cause instanceof MQBrokerException
                && ((MQBrokerException) cause).getResponseCode() == TOPIC_NOT_EXIST,
            "cause should be the broker's TOPIC_NOT_EXIST (17), was: " + e + " caused by " + cause);
        admin.fails(TOPIC_NOT_EXIST, "topicRoute", "-t", newTopic);
    }

    /**
     * ferromq refuses run-time changes of settings that name a path, a command or a class
     * (CVE-2023-33246 family), and unknown keys: UPDATE_BROKER_CONFIG (25) answers code 16 and the
     * config file keeps its value. (Apache 4.9.7 accepts any key; this is ferromq's own hardening.)
     */
    @Test
    void updateBrokerConfigRefusesPathKeysAndUnknownKeys(FerroMQ mq) throws Exception {
        Assumptions.assumeTrue(mq.target() == FerroMQ.Target.FERROMQ,
            "ferromq-specific: Apache 4.9.7 accepts every key (no blacklist)");
        MqAdmin admin = new MqAdmin(mq);
        Path brokerConf = mq.storeDir().getParent().resolve("broker.conf");
        String confBefore = Files.readString(brokerConf);

        MqAdmin.Result path = admin.fails(NO_PERMISSION, "updateBrokerConfig", "-b", mq.brokerAddr(),
            "-k", "storePathRootDir", "-v", "/tmp/x");
        String remark = path.errorRemark().toLowerCase(Locale.ROOT);
        assertTrue(remark.contains("storepathrootdir") && remark.contains("path") && remark.contains("command")
            && remark.contains("class"), "remark should name the key and say path/command/class: " + path);

        MqAdmin.Result commitLog = admin.fails(NO_PERMISSION, "updateBrokerConfig", "-b", mq.brokerAddr(),
            "-k", "storePathCommitLog", "-v", "/tmp/x");
        assertTrue(commitLog.errorRemark().contains("storePathCommitLog"), "remark: " + commitLog);

        MqAdmin.Result unknown = admin.fails(NO_PERMISSION, "updateBrokerConfig", "-b", mq.brokerAddr(),
            "-k", "noSuchBrokerConfigKey", "-v", "1");
        assertTrue(unknown.errorRemark().contains("noSuchBrokerConfigKey"), "remark: " + unknown);

        Properties file = loadProperties(brokerConf);
        assertEquals(mq.storeDir().toString(), file.getProperty("storePathRootDir"),
            "storePathRootDir in " + brokerConf + " after the refused update:\n" + Files.readString(brokerConf)
                + "\n(before:\n" + confBefore + ")");
        assertNotEquals("/tmp/x", file.getProperty("storePathCommitLog"),
            "storePathCommitLog in " + brokerConf + " after the refused update");
        assertNull(file.getProperty("noSuchBrokerConfigKey"), "unknown key must not reach " + brokerConf);

        MqAdmin.Result got = admin.ok("getBrokerConfig", "-b", mq.brokerAddr());
        assertEquals(mq.storeDir().toString(), got.properties().get("storePathRootDir"),
            "storePathRootDir after the refused update: " + got);
    }

    // ------------------------------------------------------------------------------------------
    // Consumer groups
    // ------------------------------------------------------------------------------------------

    /**
     * consumerProgress -g (105 %RETRY%G + GET_CONSUME_STATS 208) after a group consumed half of 16
     * messages: per-queue broker / consumer offsets with a total diff of 8; consumerProgress
     * without -g lists the group (offline, diff 8).
     */
    @Test
    void consumerProgressShowsPerQueueOffsetsAndTheLag(FerroMQ mq) throws Exception {
        MqAdmin admin = new MqAdmin(mq);
        String topic = mq.uniqueName("Progress");
        String group = mq.uniqueName("CG");
        DefaultMQProducer producer = mq.startProducer();
        Map<Integer, Integer> firstPerQueue = new TreeMap<>();
        Map<Integer, Integer> allPerQueue = new TreeMap<>();
        for (SendResult r : send(producer, topic, "first-", 8)) {
            firstPerQueue.merge(r.getMessageQueue().getQueueId(), 1, Integer::sum);
            allPerQueue.merge(r.getMessageQueue().getQueueId(), 1, Integer::sum);
        }
        consumeAllThenShutDown(mq, topic, group, 8);
        for (SendResult r : send(producer, topic, "second-", 8)) {
            allPerQueue.merge(r.getMessageQueue().getQueueId(), 1, Integer::sum);
        }

        MqAdmin.Result progress = admin.ok("consumerProgress", "-g", group);
        Map<Integer, long[]> rows = progressRows(progress, topic);
        assertEquals(allPerQueue.keySet(), rows.keySet(), "queues of " + topic + " in consumerProgress: " + progress);
        long diff = 0;
        for (Map.Entry<Integer, long[]> e : rows.entrySet()) {
            int q = e.getKey();
            long[] row = e.getValue();
            assertEquals((long) allPerQueue.get(q), row[0], "broker offset of queue " + q + ": " + progress);
            assertEquals((long) firstPerQueue.getOrDefault(q, 0), row[1], "consumer offset of queue " + q + ": " + progress);
            assertEquals(row[0] - row[1], row[2], "diff of queue " + q + ": " + progress);
            diff += row[2];
        }
        assertEquals(8, diff, "sum of the per-queue diffs of " + topic + ": " + progress);
        assertContains(progress, "Diff Total: 8");

        MqAdmin.Result groups = admin.ok("consumerProgress");
        List<String> row = progress(groups, group);
        assertEquals(List.of(group, "0", "OFFLINE", "0", "8"), row,
            "consumerProgress (no -g) row of the offline group (#Group #Count #Version #TPS #Diff Total): " + groups);
    }

    /**
     * consumerConnection -g (105 %RETRY%G + GET_CONSUMER_CONNECTION_LIST 203) lists the live consumer
     * and its subscription; producerConnection -g -t (105 + GET_PRODUCER_CONNECTION_LIST 204) lists
     * the producer.
     */
    @Test
    void consumerAndProducerConnectionListTheLiveClients(FerroMQ mq) throws Exception {
        MqAdmin admin = new MqAdmin(mq);
        String topic = mq.uniqueName("Conn");
        String group = mq.uniqueName("CG");
        DefaultMQProducer producer = mq.startProducer();
        send(producer, topic, "conn-", 4);
        MQClientInstance producerClient = producer.getDefaultMQProducerImpl().getmQClientFactory();
        producerClient.sendHeartbeatToAllBrokerWithLock(); // register the producer group now, not in 30 s

        DefaultMQPushConsumer consumer = mq.newPushConsumer(group);
        Inbox inbox = new Inbox();
        consumer.subscribe(topic, "TagA || TagB");
        consumer.registerMessageListener(inbox);
        consumer.start();
        inbox.awaitCount(4, RECEIVE_TIMEOUT);
        String consumerId = consumer.getDefaultMQPushConsumerImpl().getmQClientFactory().getClientId();

        MqAdmin.Result cc = admin.ok("consumerConnection", "-g", group);
        assertTrue(cc.lines().stream().map(MqAdminTest::tokens).anyMatch(t -> t.size() == 4
                && t.get(0).equals(consumerId) && t.get(1).startsWith("127.0.0.1:") && t.get(2).equals("JAVA")
                && t.get(3).equals("V4_9_7")),
            "consumerConnection should list " + consumerId + " (127.0.0.1:port, JAVA, V4_9_7): " + cc);
        assertTrue(cc.lines().stream().map(MqAdminTest::tokens)
                .anyMatch(t -> t.size() >= 2 && t.get(0).equals(topic)
                    && String.join(" ", t.subList(1, t.size())).equals("TagA || TagB")),
            "consumerConnection should show the subscription '" + topic + " TagA || TagB': " + cc);
        assertContains(cc, "ConsumeType: CONSUME_PASSIVELY");
        assertContains(cc, "MessageModel: CLUSTERING");
        assertContains(cc, "ConsumeFromWhere: CONSUME_FROM_FIRST_OFFSET");

        String producerId = producerClient.getClientId();
        MqAdmin.Result pc = admin.ok("producerConnection", "-g", producer.getProducerGroup(), "-t", topic);
        assertTrue(pc.lines().stream().map(MqAdminTest::tokens).anyMatch(t -> t.size() == 5
                && t.get(1).equals(producerId) && t.get(2).startsWith("127.0.0.1:") && t.get(3).equals("JAVA")
                && t.get(4).equals("V4_9_7")),
            "producerConnection should list " + producerId + " (127.0.0.1:port, JAVA, V4_9_7): " + pc);
    }

    /**
     * consumerStatus -g relays GET_CONSUMER_RUNNING_INFO (307) through the broker to the live
     * consumer: it prints the client id, writes the running info file and finds the rebalance OK;
     * with -i it prints the running info itself.
     */
    @Test
    void consumerStatusGetsTheRunningInfoFromTheConsumer(FerroMQ mq) throws Exception {
        MqAdmin admin = new MqAdmin(mq);
        String topic = mq.uniqueName("Status");
        String group = mq.uniqueName("CG");
        DefaultMQProducer producer = mq.startProducer();
        send(producer, topic, "status-", 4);
        DefaultMQPushConsumer consumer = mq.newPushConsumer(group);
        Inbox inbox = new Inbox();
        consumer.subscribe(topic, "*");
        consumer.registerMessageListener(inbox);
        consumer.start();
        inbox.awaitCount(4, RECEIVE_TIMEOUT);
        Consumers.awaitCaughtUp(topic, RECEIVE_TIMEOUT, consumer);
        String clientId = consumer.getDefaultMQPushConsumerImpl().getmQClientFactory().getClientId();

        MqAdmin.Result status = admin.ok("consumerStatus", "-g", group);
        Matcher m = Pattern.compile("(?m)^1\\s+" + Pattern.quote(clientId) + "\\s+V4_9_7\\s+(\\S+)\\s*$")
            .matcher(status.output);
        assertTrue(m.find(), "consumerStatus should print the row '1 " + clientId + " V4_9_7 <file>': " + status);
        assertContains(status, "Same subscription in the same group of consumer");
        assertContains(status, "Rebalance OK");
        Path infoFile = admin.home().resolve(m.group(1));
        assertTrue(Files.isRegularFile(infoFile), "consumerStatus wrote the running info to " + infoFile);
        String info = Files.readString(infoFile);
        assertTrue(info.contains("#Consumer Subscription#") && info.contains(topic),
            "running info file should show the subscription of " + topic + ":\n" + info);

        MqAdmin.Result direct = admin.ok("consumerStatus", "-g", group, "-i", clientId);
        assertContains(direct, "#Consumer Properties#");
        assertContains(direct, "PROP_CONSUME_TYPE");
        assertContains(direct, "#Consumer Subscription#");
        assertContains(direct, topic);
    }

    // ------------------------------------------------------------------------------------------
    // Messages
    // ------------------------------------------------------------------------------------------

    /**
     * After a graceful restart, queryMsgByKey (QUERY_MESSAGE 12) finds a message by key,
     * queryMsgByUniqueKey (12 with _UNIQUE_KEY_QUERY) and queryMsgById (VIEW_MESSAGE_BY_ID 33) show
     * it, queryMsgByOffset (PULL_MESSAGE 11 as TOOLS_CONSUMER) prints it and printMsg (30/31 + 11)
     * prints every message of the topic.
     */
    @Test
    void queryMessagesByKeyIdUniqueKeyAndOffsetAfterARestart(FerroMQ mq) throws Exception {
        MqAdmin admin = new MqAdmin(mq);
        String topic = mq.uniqueName("Query");
        DefaultMQProducer producer = mq.startProducer();
        List<SendResult> sent = new ArrayList<>();
        for (int i = 0; i < 8; i++) {
            SendResult r = producer.send(new Message(topic, "TagQ", "QK-" + i, ("query-" + i).getBytes(UTF_8)));
            assertEquals(SendStatus.SEND_OK, r.getSendStatus(), "send #" + i + ": " + r);
            sent.add(r);
        }
        SendResult target = sent.get(3);
        int qid = target.getMessageQueue().getQueueId();
        long qoffset = target.getQueueOffset();

        mq.restart();

        MqAdmin.Result byKey = admin.ok("queryMsgByKey", "-t", topic, "-k", "QK-3");
        List<List<String>> keyRows = byKey.lines().stream().map(MqAdminTest::tokens)
            .filter(t -> t.size() == 3 && !t.get(0).startsWith("#")).collect(Collectors.toList());
        assertEquals(List.of(List.of(target.getMsgId(), Integer.toString(qid), Long.toString(qoffset))), keyRows,
            "queryMsgByKey rows (msgId, queue id, queue offset): " + byKey);

        MqAdmin.Result byUnique = admin.ok("queryMsgByUniqueKey", "-t", topic, "-i", target.getMsgId());
        assertShowsMessage(byUnique, topic, "TagQ", "QK-3", qid, qoffset, "query-3");

        MqAdmin.Result byId = admin.ok("queryMsgById", "-i", target.getOffsetMsgId());
        assertContains(byId, "OffsetID:            " + target.getOffsetMsgId());
        assertShowsMessage(byId, topic, "TagQ", "QK-3", qid, qoffset, "query-3");

        MqAdmin.Result byOffset = admin.ok("queryMsgByOffset", "-t", topic, "-b", BROKER,
            "-i", Integer.toString(qid), "-o", Long.toString(qoffset));
        assertShowsMessage(byOffset, topic, "TagQ", "QK-3", qid, qoffset, "query-3");

        MqAdmin.Result printed = admin.ok("printMsg", "-t", topic);
        List<String> bodies = bodies(printed);
        assertEquals(IntStream.range(0, 8).mapToObj(i -> "query-" + i).collect(Collectors.toList()), bodies,
            "printMsg prints every message of the topic once: " + printed);
    }

    /**
     * sendMessage (SEND_MESSAGE_V2 310) prints SEND_OK and a consumer receives exactly that message;
     * consumeMessage pulls the topic (or one queue with -b/-i/-o) and prints the bodies, then stops.
     */
    @Test
    void sendMessageAndConsumeMessage(FerroMQ mq) throws Exception {
        MqAdmin admin = new MqAdmin(mq);
        String topic = mq.uniqueName("SendCmd");
        String group = mq.uniqueName("CG");

        MqAdmin.Result sent = admin.ok("sendMessage", "-t", topic, "-p", "hello-mqadmin", "-k", "mqkey", "-c", "TagA");
        Matcher m = Pattern.compile("(?m)^" + BROKER + "\\s+(\\d+)\\s+SEND_OK\\s+(\\S+)\\s*$").matcher(sent.output);
        assertTrue(m.find(), "sendMessage should print '" + BROKER + " <qid> SEND_OK <msgId>': " + sent);
        int qid = Integer.parseInt(m.group(1));
        String msgId = m.group(2);

        DefaultMQProducer producer = mq.startProducer();
        send(producer, topic, "java-", 6);

        DefaultMQPushConsumer consumer = mq.newPushConsumer(group);
        Inbox inbox = new Inbox();
        consumer.subscribe(topic, "*");
        consumer.registerMessageListener(inbox);
        consumer.start();
        inbox.awaitCount(7, RECEIVE_TIMEOUT);
        Consumers.awaitCaughtUp(topic, RECEIVE_TIMEOUT, consumer);
        List<MessageExt> fromAdmin = inbox.messages(x -> Inbox.body(x).equals("hello-mqadmin"));
        assertEquals(1, fromAdmin.size(), "the mqadmin message arrives exactly once: " + Inbox.summary(inbox.messages()));
        MessageExt got = fromAdmin.get(0);
        assertEquals("mqkey", got.getKeys(), "keys");
        assertEquals("TagA", got.getTags(), "tags");
        assertEquals(qid, got.getQueueId(), "queue id printed by sendMessage");
        assertEquals(msgId, got.getMsgId(), "msgId printed by sendMessage");

        MqAdmin.Result consumed = admin.ok("consumeMessage", "-t", topic);
        List<String> bodies = bodies(consumed);
        List<String> expected = new ArrayList<>(List.of("hello-mqadmin"));
        IntStream.range(0, 6).forEach(i -> expected.add("java-" + i));
        expected.sort(null);
        assertEquals(expected, bodies, "consumeMessage prints every message once: " + consumed);

        MqAdmin.Result oneQueue = admin.ok("consumeMessage", "-t", topic, "-b", BROKER, "-i", Integer.toString(qid),
            "-o", "0");
        List<String> queueBodies = bodies(oneQueue);
        List<String> expectedQueue = inbox.messages().stream().filter(x -> x.getQueueId() == qid).map(Inbox::body)
            .sorted().collect(Collectors.toList());
        assertEquals(expectedQueue, queueBodies, "consumeMessage -b -i " + qid + " -o 0 prints that queue: " + oneQueue);
        assertTrue(queueBodies.contains("hello-mqadmin"), "queue " + qid + " holds the mqadmin message: " + oneQueue);
    }

    // ------------------------------------------------------------------------------------------
    // Offsets
    // ------------------------------------------------------------------------------------------

    /**
     * resetOffsetByTime with a running consumer (INVOKE_BROKER_TO_RESET_OFFSET 222, the broker then
     * sends RESET_CONSUMER_CLIENT_OFFSET 220 to the client): the consumer gets every message again.
     */
    @Test
    void resetOffsetByTimeRewindsARunningConsumer(FerroMQ mq) throws Exception {
        MqAdmin admin = new MqAdmin(mq);
        String topic = mq.uniqueName("ResetOnline");
        String group = mq.uniqueName("CG");
        long beforeFirstSend = System.currentTimeMillis() - 1000;
        DefaultMQProducer producer = mq.startProducer();
        List<SendResult> sent = send(producer, topic, "reset-", 12);
        Set<Integer> queues = sent.stream().map(r -> r.getMessageQueue().getQueueId()).collect(Collectors.toSet());

        DefaultMQPushConsumer consumer = mq.newPushConsumer(group);
        Inbox inbox = new Inbox();
        consumer.subscribe(topic, "*");
        consumer.registerMessageListener(inbox);
        consumer.start();
        inbox.awaitCount(12, RECEIVE_TIMEOUT);
        Consumers.awaitCaughtUp(topic, RECEIVE_TIMEOUT, consumer);
        awaitCommittedOffsets(producer, mq, group, topic, queues, true);

        String ts = Long.toString(beforeFirstSend);
        MqAdmin.Result reset = admin.ok("resetOffsetByTime", "-g", group, "-t", topic, "-s", ts);
        assertContains(reset, "rollback consumer offset by specified group[" + group + "], topic[" + topic
            + "], force[true], timestamp(string)[" + ts + "], timestamp(long)[" + ts + "]");
        Map<Integer, Long> rows = new TreeMap<>();
        Matcher m = Pattern.compile("(?m)^" + BROKER + "\\s+(\\d+)\\s+(-?\\d+)\\s*$").matcher(reset.output);
        while (m.find()) {
            rows.put(Integer.parseInt(m.group(1)), Long.parseLong(m.group(2)));
        }
        assertEquals(queues, rows.keySet(), "#brokerName #queueId #offset rows: " + reset);
        rows.forEach((q, off) -> assertEquals(0L, (long) off, "reset offset of queue " + q + ": " + reset));

        inbox.awaitCount(24, RESET_REDELIVERY_TIMEOUT);
        Consumers.awaitCaughtUp(topic, RECEIVE_TIMEOUT, consumer);
        Map<String, Long> deliveries = inbox.messages().stream()
            .collect(Collectors.groupingBy(Inbox::body, TreeMap::new, Collectors.counting()));
        for (int i = 0; i < 12; i++) {
            assertEquals(2L, (long) deliveries.getOrDefault("reset-" + i, 0L),
                "deliveries of reset-" + i + " (once before, once after the reset): " + deliveries);
        }
    }

    /**
     * resetOffsetByTime for a group that is not online: the broker answers 206 and mqadmin falls
     * back to GET_CONSUME_STATS 208 + SEARCH_OFFSET_BY_TIMESTAMP 29 + UPDATE_CONSUMER_OFFSET 15;
     * consumerProgress then shows the offsets rewound to 0 (diff = all messages).
     */
    @Test
    void resetOffsetByTimeRewindsAnOfflineGroup(FerroMQ mq) throws Exception {
        MqAdmin admin = new MqAdmin(mq);
        String topic = mq.uniqueName("ResetOffline");
        String group = mq.uniqueName("CG");
        long beforeFirstSend = System.currentTimeMillis() - 1000;
        DefaultMQProducer producer = mq.startProducer();
        List<SendResult> sent = send(producer, topic, "offline-", 12);
        Set<Integer> queues = sent.stream().map(r -> r.getMessageQueue().getQueueId()).collect(Collectors.toSet());
        consumeAllThenShutDown(mq, topic, group, 12);
        awaitCommittedOffsets(producer, mq, group, topic, queues, true);

        String ts = Long.toString(beforeFirstSend);
        MqAdmin.Result reset = admin.ok("resetOffsetByTime", "-g", group, "-t", topic, "-s", ts);
        assertContains(reset, "rollback consumer offset by specified consumerGroup[" + group + "], topic[" + topic
            + "], force[true], timestamp(string)[" + ts + "], timestamp(long)[" + ts + "]");
        Matcher m = Pattern.compile("(?m)^" + BROKER + "\\s+(\\d+)\\s+(\\d+)\\s+(\\d+)\\s+(\\d+)\\s+(\\d+)\\s*$")
            .matcher(reset.output);
        Set<Integer> rolledBack = new TreeSet<>();
        while (m.find()) {
            rolledBack.add(Integer.parseInt(m.group(1)));
            assertEquals("0", m.group(5), "#rollbackOffset of queue " + m.group(1) + ": " + reset);
        }
        assertEquals(queues, rolledBack, "queues in the rollback table: " + reset);

        MqAdmin.Result progress = admin.ok("consumerProgress", "-g", group);
        Map<Integer, long[]> rows = progressRows(progress, topic);
        assertEquals(queues, rows.keySet(), "queues in consumerProgress: " + progress);
        rows.forEach((q, row) -> assertEquals(0, row[1], "consumer offset of queue " + q + " after the reset: " + progress));
        assertContains(progress, "Diff Total: 12");
        for (int q : queues) {
            assertEquals(0L, committedOffset(producer, mq, group, topic, q),
                "committed offset of queue " + q + " as the broker reports it to a client");
        }
    }

    /**
     * cloneGroupOffset (208 for the source group, then UPDATE_CONSUMER_OFFSET 15 per queue for the
     * destination) gives G2 the offsets of G; consumerProgress -g G2 shows them.
     */
    @Test
    void cloneGroupOffsetCopiesOffsetsToAnotherGroup(FerroMQ mq) throws Exception {
        MqAdmin admin = new MqAdmin(mq);
        String topic = mq.uniqueName("Clone");
        String group = mq.uniqueName("CG");
        String group2 = mq.uniqueName("CG2");
        DefaultMQProducer producer = mq.startProducer();
        List<SendResult> first = send(producer, topic, "clone-", 8);
        Set<Integer> queues = first.stream().map(r -> r.getMessageQueue().getQueueId()).collect(Collectors.toSet());
        consumeAllThenShutDown(mq, topic, group, 8);
        awaitCommittedOffsets(producer, mq, group, topic, queues, true);
        send(producer, topic, "later-", 4);

        // consumerProgress looks a group up by its retry topic, which the broker creates when a
        // consumer of the group sends a heartbeat: let G2 exist (without any offsets) first.
        DefaultMQPullConsumer g2 = mq.startPullConsumer(group2);
        MQClientInstance g2Client = g2.getDefaultMQPullConsumerImpl().getRebalanceImpl().getmQClientFactory();
        g2Client.updateTopicRouteInfoFromNameServer(topic); // the client heartbeats only to brokers of known routes
        g2Client.sendHeartbeatToAllBrokerWithLock();
        g2.shutdown();
        String retry2 = "%RETRY%" + group2;
        Await.until("route of " + retry2 + " in the name server", Duration.ofSeconds(10), () -> {
            try {
                return client(producer).getMQClientAPIImpl().getTopicRouteInfoFromNameServer(retry2, 3000) != null;
            } catch (Exception e) {
                return false;
            }
        });

        MqAdmin.Result clone = admin.ok("cloneGroupOffset", "-s", group, "-d", group2, "-t", topic);
        assertContains(clone, "clone group offset success. srcGroup[" + group + "], destGroup=[" + group2
            + "], topic[" + topic + "]");

        MqAdmin.Result src = admin.ok("consumerProgress", "-g", group);
        MqAdmin.Result dst = admin.ok("consumerProgress", "-g", group2);
        Map<Integer, long[]> srcRows = progressRows(src, topic);
        Map<Integer, long[]> dstRows = progressRows(dst, topic);
        assertEquals(queues, srcRows.keySet(), "queues of " + group + ": " + src);
        assertEquals(srcRows.keySet(), dstRows.keySet(), "queues of " + group2 + ": " + dst);
        for (int q : queues) {
            assertEquals(srcRows.get(q)[1], dstRows.get(q)[1], "consumer offset of queue " + q + " in " + group2
                + " equals " + group + "'s\n" + src + "\n" + dst);
            assertEquals(srcRows.get(q)[0], dstRows.get(q)[0], "broker offset of queue " + q);
            assertEquals(committedOffset(producer, mq, group, topic, q), committedOffset(producer, mq, group2, topic, q),
                "committed offsets of queue " + q + " as the broker reports them to a client");
        }
        assertContains(dst, "Diff Total: 4");
    }

    // ------------------------------------------------------------------------------------------
    // Stats, name server
    // ------------------------------------------------------------------------------------------

    /**
     * statsAll (206, 105, 300, VIEW_BROKER_STATS_DATA 315, 208) prints the topic with its in-TPS and
     * 24 h in-count, and the consuming group's 24 h out-count.
     */
    @Test
    void statsAllShowsTopicAndGroupTraffic(FerroMQ mq) throws Exception {
        MqAdmin admin = new MqAdmin(mq);
        String topic = mq.uniqueName("Stats");
        String group = mq.uniqueName("CG");
        DefaultMQProducer producer = mq.startProducer();
        Set<Integer> queues = send(producer, topic, "stats-", 20).stream()
            .map(r -> r.getMessageQueue().getQueueId()).collect(Collectors.toSet());
        DefaultMQPushConsumer consumer = mq.newPushConsumer(group);
        Inbox inbox = new Inbox();
        consumer.subscribe(topic, "*");
        consumer.registerMessageListener(inbox);
        consumer.start();
        inbox.awaitCount(20, RECEIVE_TIMEOUT);
        Consumers.awaitCaughtUp(topic, RECEIVE_TIMEOUT, consumer);
        awaitCommittedOffsets(producer, mq, group, topic, queues, true);

        // The broker samples its stats every 10 s; poll.
        Predicate<MqAdmin.Result> ready = r -> {
            StatsRow s = statsRow(r, topic, group);
            return s != null && s.inTps > 0 && s.inMsg24h == 20 && s.outMsg24h == 20;
        };
        pollAdmin(admin, "statsAll -t to show in-TPS > 0 and 20 messages in and out", Duration.ofSeconds(30),
            ready, "statsAll", "-t", topic);
        MqAdmin.Result all = admin.ok("statsAll");
        StatsRow row = statsRow(all, topic, group);
        assertNotNull(row, "statsAll (all topics) should print a row for " + topic + " / " + group + ": " + all);
        assertEquals(0, row.accumulation, "#Accumulation: " + all);
        assertEquals(20, row.inMsg24h, "#InMsg24Hour: " + all);
        assertEquals(20, row.outMsg24h, "#OutMsg24Hour: " + all);
    }

    /**
     * getNamesrvConfig (GET_NAMESRV_CONFIG 319) prints the name server's settings;
     * updateKvConfig / deleteKvConfig (PUT_KV_CONFIG 100 / DELETE_KV_CONFIG 102) change what a client
     * reads with GET_KV_CONFIG (101).
     */
    @Test
    void namesrvConfigAndKvConfig(FerroMQ mq) throws Exception {
        MqAdmin admin = new MqAdmin(mq);
        MqAdmin.Result config = admin.ok("getNamesrvConfig");
        assertContains(config, "============" + mq.namesrvAddr() + "============");
        String port = mq.namesrvAddr().substring(mq.namesrvAddr().lastIndexOf(':') + 1);
        assertEquals(port, config.properties().get("listenPort"), "name server listenPort: " + config);
        // A setting the name server reads while running changes at once (both servers).
        MqAdmin.Result update = admin.ok("updateNamesrvConfig", "-k", "orderMessageEnable", "-v", "true");
        assertContains(update, "update name server config success!");
        assertEquals("true", admin.ok("getNamesrvConfig").properties().get("orderMessageEnable"),
            "orderMessageEnable after updateNamesrvConfig");
        // Its config paths never change (Java's refusal, word for word, on both servers).
        MqAdmin.Result path = admin.fails(16, "updateNamesrvConfig", "-k", "kvConfigPath", "-v", "/tmp/elsewhere");
        assertTrue(path.errorRemark().contains("Can not update config path"), path.toString());

        String ns = mq.uniqueName("NS");
        String key = mq.uniqueName("k");
        DefaultMQProducer producer = mq.startProducer();
        MqAdmin.Result put = admin.ok("updateKvConfig", "-s", ns, "-k", key, "-v", "some-value");
        assertContains(put, "create or update kv config to namespace success.");
        assertEquals("some-value", client(producer).getMQClientAPIImpl().getKVConfigValue(ns, key, 3000),
            "GET_KV_CONFIG after updateKvConfig");

        MqAdmin.Result del = admin.ok("deleteKvConfig", "-s", ns, "-k", key);
        assertContains(del, "delete kv config from namespace success.");
        MQClientException gone = assertThrows(MQClientException.class,
            () -> client(producer).getMQClientAPIImpl().getKVConfigValue(ns, key, 3000),
            "GET_KV_CONFIG after deleteKvConfig");
        assertEquals(QUERY_NOT_FOUND, gone.getResponseCode(), "code of GET_KV_CONFIG for a deleted key: " + gone);
    }

    // ------------------------------------------------------------------------------------------
    // Helpers
    // ------------------------------------------------------------------------------------------

    static void assertContains(MqAdmin.Result r, String expected) {
        assertTrue(r.output.contains(expected), "mqadmin " + r.args.get(0) + " should print \"" + expected + "\": " + r);
    }

    static List<String> trimmedLines(MqAdmin.Result r) {
        return r.lines().stream().map(String::trim).collect(Collectors.toList());
    }

    static List<String> tokens(String line) {
        String t = line.trim();
        return t.isEmpty() ? List.of() : List.of(t.split("\\s+"));
    }

    static List<SendResult> send(DefaultMQProducer producer, String topic, String prefix, int n) throws Exception {
        List<SendResult> out = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            String body = prefix + i;
            SendResult r = producer.send(new Message(topic, "TagA", "K-" + body, body.getBytes(UTF_8)));
            assertEquals(SendStatus.SEND_OK, r.getSendStatus(), "send of " + body + ": " + r);
            out.add(r);
        }
        return out;
    }

    static MQClientInstance client(DefaultMQProducer producer) {
        return producer.getDefaultMQProducerImpl().getmQClientFactory();
    }

    /** A push consumer in {@code group} consumes all {@code n} messages of the topic, then shuts down (persisting offsets). */
    static void consumeAllThenShutDown(FerroMQ mq, String topic, String group, int n) throws Exception {
        DefaultMQPushConsumer consumer = mq.newPushConsumer(group);
        Inbox inbox = new Inbox();
        consumer.subscribe(topic, "*");
        consumer.registerMessageListener(inbox);
        consumer.start();
        inbox.awaitCount(n, RECEIVE_TIMEOUT);
        Consumers.awaitCaughtUp(topic, RECEIVE_TIMEOUT, consumer);
        consumer.shutdown();
    }

    /** The group's committed offset of a queue, as QUERY_CONSUMER_OFFSET (14) reports it; -1 if none. */
    static long committedOffset(DefaultMQProducer producer, FerroMQ mq, String group, String topic, int queueId)
        throws Exception {
        QueryConsumerOffsetRequestHeader h = new QueryConsumerOffsetRequestHeader();
        h.setConsumerGroup(group);
        h.setTopic(topic);
        h.setQueueId(queueId);
        try {
            return client(producer).getMQClientAPIImpl().queryConsumerOffset(mq.brokerAddr(), h, 3000);
        } catch (MQBrokerException e) {
            if (e.getResponseCode() == QUERY_NOT_FOUND) {
                return -1;
            }
            throw e;
        }
    }

    /** Waits until the broker holds committed offsets (at the queue's max offset if {@code atMax}) for every queue. */
    static void awaitCommittedOffsets(DefaultMQProducer producer, FerroMQ mq, String group, String topic,
                                      Set<Integer> queues, boolean atMax) {
        Map<Integer, String> state = new TreeMap<>();
        Await.until("committed offsets of " + group + " on every queue of " + topic, Duration.ofSeconds(20), () -> {
            boolean ok = true;
            for (int q : queues) {
                try {
                    long committed = committedOffset(producer, mq, group, topic, q);
                    long max = producer.maxOffset(new MessageQueue(topic, BROKER, q));
                    state.put(q, committed + "/" + max);
                    ok &= atMax ? committed == max : committed >= 0;
                } catch (Exception e) {
                    state.put(q, e.toString());
                    ok = false;
                }
            }
            return ok;
        }, () -> "committed/max per queue: " + state);
    }

    /**
     * Apache's broker answers GET_BROKER_RUNTIME_INFO with code 1 (NoSuchElementException in
     * StoreStatsService) until its store statistics have been sampled once, about a second after
     * boot; wait for that on Apache only (ferromq must answer right away).
     */
    static void awaitApacheRuntimeInfo(FerroMQ mq, MqAdmin admin) throws Exception {
        if (mq.target() != FerroMQ.Target.APACHE) {
            return;
        }
        long deadline = System.nanoTime() + Duration.ofSeconds(20).toNanos();
        MqAdmin.Result r;
        do {
            r = admin.run("brokerStatus", "-b", mq.brokerAddr());
            if (!r.failed()) {
                return;
            }
            Thread.sleep(500);
        } while (System.nanoTime() - deadline < 0);
        fail("Apache's broker runtime info never became available: " + r);
    }

    /** Runs the command until {@code done} holds for its output or the deadline passes (then fails). */
    static MqAdmin.Result pollAdmin(MqAdmin admin, String what, Duration timeout, Predicate<MqAdmin.Result> done,
                                    String... args) throws Exception {
        long deadline = System.nanoTime() + timeout.toNanos();
        MqAdmin.Result last;
        while (true) {
            last = admin.ok(args);
            boolean holds;
            try {
                holds = done.test(last);
            } catch (RuntimeException | AssertionError e) {
                holds = false;
            }
            if (holds) {
                return last;
            }
            if (System.nanoTime() - deadline > 0) {
                fail("timed out after " + timeout.getSeconds() + " s waiting for " + what + "; last output: " + last);
            }
            Thread.sleep(500);
        }
    }

    static Properties loadProperties(Path file) throws IOException {
        Properties p = new Properties();
        p.load(new StringReader(Files.readString(file)));
        return p;
    }

    /** topicStatus rows: queue id → {min, max}. */
    static Map<Integer, long[]> topicStatusRows(MqAdmin.Result r) {
        Map<Integer, long[]> rows = new TreeMap<>();
        Matcher m = Pattern.compile("(?m)^" + BROKER + "\\s+(\\d+)\\s+(-?\\d+)\\s+(-?\\d+)\\b").matcher(r.output);
        while (m.find()) {
            rows.put(Integer.parseInt(m.group(1)), new long[] {Long.parseLong(m.group(2)), Long.parseLong(m.group(3))});
        }
        return rows;
    }

    /** consumerProgress -g rows of {@code topic}: queue id → {broker offset, consumer offset, diff}. */
    static Map<Integer, long[]> progressRows(MqAdmin.Result r, String topic) {
        Map<Integer, long[]> rows = new TreeMap<>();
        Matcher m = Pattern.compile("(?m)^" + Pattern.quote(topic) + "\\s+" + BROKER
            + "\\s+(\\d+)\\s+(-?\\d+)\\s+(-?\\d+)\\s+(-?\\d+)\\s+").matcher(r.output);
        while (m.find()) {
            rows.put(Integer.parseInt(m.group(1)), new long[] {
                Long.parseLong(m.group(2)), Long.parseLong(m.group(3)), Long.parseLong(m.group(4))});
        }
        return rows;
    }

    /** The tokens of consumerProgress's (no -g) row for {@code group}. */
    static List<String> progress(MqAdmin.Result r, String group) {
        return r.lines().stream().map(MqAdminTest::tokens).filter(t -> !t.isEmpty() && t.get(0).equals(group))
            .findFirst().orElse(List.of());
    }

    static final class ClusterRow {
        String version;
        double inTps;
        double outTps;
    }

    /** The clusterList row of the test's broker. */
    static ClusterRow clusterRow(FerroMQ mq, MqAdmin.Result r) {
        Pattern p = Pattern.compile("(?m)^" + CLUSTER + "\\s+" + BROKER + "\\s+0\\s+" + Pattern.quote(mq.brokerAddr())
            + "\\s+(\\S+)\\s+(\\d+\\.\\d+)\\((\\d+),(\\d+)ms\\)\\s+(\\d+\\.\\d+)\\((\\d+),(\\d+)ms\\)\\s+(\\d+)\\s+(\\S+)\\s+(\\S+)\\s*$");
        Matcher m = p.matcher(r.output);
        assertTrue(m.find(), "clusterList should print the row '" + CLUSTER + " " + BROKER + " 0 " + mq.brokerAddr()
            + " <version> <in>(<q>,<ms>ms) <out>(<q>,<ms>ms) <pcwait> <hour> <space>': " + r);
        ClusterRow row = new ClusterRow();
        row.version = m.group(1);
        row.inTps = Double.parseDouble(m.group(2));
        row.outTps = Double.parseDouble(m.group(5));
        Double.parseDouble(m.group(9));
        Double.parseDouble(m.group(10));
        return row;
    }

    static final class StatsRow {
        long accumulation;
        double inTps;
        double outTps;
        long inMsg24h;
        long outMsg24h;
    }

    /** statsAll's row for (topic, group), or null. */
    static StatsRow statsRow(MqAdmin.Result r, String topic, String group) {
        Matcher m = Pattern.compile("(?m)^" + Pattern.quote(topic) + "\\s+" + Pattern.quote(group)
            + "\\s+(\\d+)\\s+(\\d+\\.\\d+)\\s+(\\d+\\.\\d+)\\s+(\\d+)\\s+(\\d+)\\s*$").matcher(r.output);
        if (!m.find()) {
            return null;
        }
        StatsRow s = new StatsRow();
        s.accumulation = Long.parseLong(m.group(1));
        s.inTps = Double.parseDouble(m.group(2));
        s.outTps = Double.parseDouble(m.group(3));
        s.inMsg24h = Long.parseLong(m.group(4));
        s.outMsg24h = Long.parseLong(m.group(5));
        return s;
    }

    /** Bodies printed by consumeMessage / printMsg ("MSGID: ... BODY: <body>"), sorted. */
    static List<String> bodies(MqAdmin.Result r) {
        return r.lines().stream().map(l -> {
            int i = l.lastIndexOf(" BODY: ");
            return l.startsWith("MSGID: ") && i >= 0 ? l.substring(i + 7) : null;
        }).filter(b -> b != null).sorted().collect(Collectors.toList());
    }

    /** queryMsgById / queryMsgByUniqueKey / queryMsgByOffset output of one message, and its body file. */
    static void assertShowsMessage(MqAdmin.Result r, String topic, String tags, String keys, int queueId,
                                   long queueOffset, String body) throws IOException {
        Map<String, String> fields = new HashMap<>();
        for (String line : r.lines()) {
            Matcher m = Pattern.compile("^([A-Za-z ]+):\\s+(.*)$").matcher(line);
            if (m.matches()) {
                fields.putIfAbsent(m.group(1).trim(), m.group(2).trim());
            }
        }
        assertEquals(topic, fields.get("Topic"), "Topic: " + r);
        assertEquals("[" + tags + "]", fields.get("Tags"), "Tags: " + r);
        assertEquals("[" + keys + "]", fields.get("Keys"), "Keys: " + r);
        assertEquals(Integer.toString(queueId), fields.get("Queue ID"), "Queue ID: " + r);
        assertEquals(Long.toString(queueOffset), fields.get("Queue Offset"), "Queue Offset: " + r);
        String path = fields.get("Message Body Path");
        assertNotNull(path, "Message Body Path: " + r);
        assertEquals(body, new String(Files.readAllBytes(Paths.get(path)), UTF_8), "body in " + path);
    }
}
