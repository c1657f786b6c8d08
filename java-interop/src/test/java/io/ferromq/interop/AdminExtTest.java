package io.ferromq.interop;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicBoolean;

import org.apache.rocketmq.client.consumer.DefaultMQPushConsumer;
import org.apache.rocketmq.client.consumer.listener.ConsumeConcurrentlyStatus;
import org.apache.rocketmq.client.consumer.listener.MessageListenerConcurrently;
import org.apache.rocketmq.client.producer.DefaultMQProducer;
import org.apache.rocketmq.client.producer.SendStatus;
import org.apache.rocketmq.common.admin.ConsumeStats;
import org.apache.rocketmq.common.admin.OffsetWrapper;
import org.apache.rocketmq.common.admin.TopicStatsTable;
import org.apache.rocketmq.common.message.Message;
import org.apache.rocketmq.common.message.MessageExt;
import org.apache.rocketmq.common.message.MessageQueue;
import org.apache.rocketmq.common.protocol.body.BrokerStatsData;
import org.apache.rocketmq.common.protocol.body.BrokerStatsItem;
import org.apache.rocketmq.common.protocol.body.ClusterInfo;
import org.apache.rocketmq.common.protocol.body.ConsumerConnection;
import org.apache.rocketmq.common.protocol.body.GroupList;
import org.apache.rocketmq.common.protocol.body.KVTable;
import org.apache.rocketmq.common.protocol.body.ProducerConnection;
import org.apache.rocketmq.common.protocol.body.QueueTimeSpan;
import org.apache.rocketmq.common.protocol.body.TopicList;
import org.apache.rocketmq.common.protocol.route.BrokerData;
import org.apache.rocketmq.tools.admin.DefaultMQAdminExt;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * The calls rocketmq-dashboard and rocketmq-exporter make through {@link DefaultMQAdminExt}, after
 * a real producer sent N messages and a real push consumer group consumed them (one of them sent
 * back once with RECONSUME_LATER). Every call is checked and all failures reported together, so
 * one run shows which calls work. Client 4.9.7 only (the client-4.3.0 profile excludes it).
 */
@ExtendWith(FerroMQExtension.class)
class AdminExtTest {

    static final int N = 12;
    static final Duration TIMEOUT = Duration.ofSeconds(45);

    interface Check {
        void run() throws Exception;
    }

    private final List<String> failures = new ArrayList<>();

    private void check(String call, Check c) {
        try {
            c.run();
            System.out.println("[AdminExtTest] OK   " + call);
        } catch (Throwable t) {
            System.out.println("[AdminExtTest] FAIL " + call + ": " + t);
            failures.add(call + ": " + t);
        }
    }

    @Test
    void dashboardAndExporterCalls(FerroMQ mq) throws Exception {
        boolean ferro = mq.target() == FerroMQ.Target.FERROMQ;
        String topic = mq.uniqueName("AdminExt");
        String group = mq.uniqueName("CG");
        DefaultMQProducer producer = mq.startProducer();
        long bytes = 0;
        String firstMsgId = null;
        for (int i = 0; i < N; i++) {
            byte[] body = ("admin-ext-" + i).getBytes(UTF_8);
            bytes += body.length;
            org.apache.rocketmq.client.producer.SendResult sr = producer.send(new Message(topic, body));
            assertEquals(SendStatus.SEND_OK, sr.getSendStatus());
            if (firstMsgId == null) {
                firstMsgId = sr.getOffsetMsgId();
            }
        }

        Set<String> seen = ConcurrentHashMap.newKeySet();
        AtomicBoolean sentBack = new AtomicBoolean();
        DefaultMQPushConsumer consumer = mq.newPushConsumer(group);
        consumer.subscribe(topic, "*");
        consumer.setConsumeMessageBatchMaxSize(1);
        consumer.registerMessageListener((MessageListenerConcurrently) (msgs, ctx) -> {
            for (MessageExt m : msgs) {
                String body = new String(m.getBody(), UTF_8);
                if (body.equals("admin-ext-0") && sentBack.compareAndSet(false, true)) {
                    return ConsumeConcurrentlyStatus.RECONSUME_LATER; // one CONSUMER_SEND_MSG_BACK
                }
                seen.add(body);
            }
            return ConsumeConcurrentlyStatus.CONSUME_SUCCESS;
        });
        consumer.start();
        Await.until("all first deliveries consumed", TIMEOUT, () -> seen.size() >= N - 1 && sentBack.get());
        Consumers.awaitCaughtUp(topic, TIMEOUT, consumer);

        DefaultMQAdminExt admin = new DefaultMQAdminExt();
        admin.setNamesrvAddr(mq.namesrvAddr());
        admin.setInstanceName(mq.newInstanceName());
        admin.start();
        mq.onClose(admin::shutdown);
        String cluster = FerroMQ.CLUSTER_NAME;
        String addr = mq.brokerAddr();

        check("examineBrokerClusterInfo", () -> {
            ClusterInfo ci = admin.examineBrokerClusterInfo();
            BrokerData bd = ci.getBrokerAddrTable().get(FerroMQ.BROKER_NAME);
            assertNotNull(bd, "broker in brokerAddrTable");
            assertEquals(cluster, bd.getCluster());
            assertNotNull(bd.getBrokerAddrs().get(0L), "master address");
            assertTrue(ci.getClusterAddrTable().get(cluster).contains(FerroMQ.BROKER_NAME), "clusterAddrTable");
        });

        check("fetchBrokerRuntimeStats", () -> {
            KVTable kv = admin.fetchBrokerRuntimeStats(addr);
            Map<String, String> t = kv.getTable();
            // The keys the dashboard's cluster page and the exporter read.
            for (String k : List.of("bootTimestamp", "runtime", "putTps", "getTransferedTps", "msgPutTotalTodayNow",
                "msgGetTotalTodayNow", "msgPutTotalTodayMorning", "msgGetTotalTodayMorning",
                "msgPutTotalYesterdayMorning", "msgGetTotalYesterdayMorning", "commitLogDiskRatio",
                "brokerVersionDesc", "brokerVersion", "earliestMessageTimeStamp", "commitLogMaxOffset",
                "commitLogMinOffset", "putMessageEntireTimeMax", "getFoundTps", "getMissTps", "getTotalTps",
                "sendThreadPoolQueueSize", "pullThreadPoolQueueSize", "dispatchBehindBytes",
                "putMessageSizeTotal", "putMessageTimesTotal", "putLatency99", "pageCacheLockTimeMills")) {
                assertTrue(t.containsKey(k), "runtime stats key " + k + " missing; keys " + t.keySet());
            }
            assertTrue(Long.parseLong(t.get("msgPutTotalTodayNow")) >= N, "msgPutTotalTodayNow " + t.get("msgPutTotalTodayNow"));
            if (ferro) { // Apache's putTps is blank until its first 10 s sample
                assertEquals(3, t.get("putTps").trim().split(" ").length, "putTps '" + t.get("putTps") + "'");
            }
        });

        // The minute window fills within ~10 s on Apache (it samples every 10 s); hour/day are
        // sampled every 10 min / hour there, so only ferromq is held to exact sums for them.
        String[][] stats = {
            {"BROKER_PUT_NUMS", cluster, String.valueOf(N)},
            {"BROKER_GET_NUMS", cluster, String.valueOf(N)},
            {"TOPIC_PUT_NUMS", topic, String.valueOf(N)},
            {"TOPIC_PUT_SIZE", topic, String.valueOf(bytes)},
            {"GROUP_GET_NUMS", topic + "@" + group, String.valueOf(N)},
            {"GROUP_GET_SIZE", topic + "@" + group, "1"},
            {"SNDBCK_PUT_NUMS", topic + "@" + group, "1"},
        };
        for (String[] s : stats) {
            check("viewBrokerStatsData " + s[0] + " <" + s[1] + ">", () -> {
                long min = Long.parseLong(s[2]);
                BrokerStatsData[] last = new BrokerStatsData[1];
                Await.until(s[0] + " minute sum >= " + min, Duration.ofSeconds(ferro ? 3 : 30), () -> {
                    try {
                        last[0] = admin.viewBrokerStatsData(addr, s[0], s[1]);
                        return last[0].getStatsMinute().getSum() >= min;
                    } catch (Exception e) {
                        return false;
                    }
                }, () -> last[0] == null ? "no data" : describe(last[0]));
                BrokerStatsData d = last[0];
                for (BrokerStatsItem w : List.of(d.getStatsMinute(), d.getStatsHour(), d.getStatsDay())) {
                    assertNotNull(w);
                    assertTrue(w.getSum() >= 0 && w.getTps() >= 0 && w.getAvgpt() >= 0, describe(d));
                }
                if (ferro) {
                    assertTrue(d.getStatsHour().getSum() >= min && d.getStatsDay().getSum() >= min, describe(d));
                    assertTrue(d.getStatsMinute().getTps() > 0, describe(d));
                }
            });
        }

        check("examineTopicStats", () -> {
            TopicStatsTable ts = admin.examineTopicStats(topic);
            long sum = ts.getOffsetTable().values().stream().mapToLong(o -> o.getMaxOffset() - o.getMinOffset()).sum();
            assertEquals(N, sum, "messages in topic " + ts.getOffsetTable());
            assertTrue(ts.getOffsetTable().values().stream().anyMatch(o -> o.getLastUpdateTimestamp() > 0), "lastUpdateTimestamp");
        });

        check("examineConsumeStats", () -> {
            // Push consumers persist their offsets every 5 s.
            Await.until("consumer offsets committed", Duration.ofSeconds(15), () -> {
                try {
                    return admin.examineConsumeStats(group).computeTotalDiff() == 0;
                } catch (Exception e) {
                    return false;
                }
            });
            ConsumeStats cs = admin.examineConsumeStats(group);
            long broker = 0;
            for (Map.Entry<MessageQueue, OffsetWrapper> e : cs.getOffsetTable().entrySet()) {
                if (e.getKey().getTopic().equals(topic)) {
                    broker += e.getValue().getBrokerOffset();
                    assertEquals(e.getValue().getBrokerOffset(), e.getValue().getConsumerOffset(), "caught up " + e);
                    if (e.getValue().getBrokerOffset() > 0) {
                        assertTrue(e.getValue().getLastTimestamp() > 0, "lastTimestamp " + e);
                    }
                }
            }
            assertEquals(N, broker, "brokerOffset sum");
            assertTrue(cs.getConsumeTps() >= 0);
        });

        check("examineConsumerConnectionInfo", () -> {
            ConsumerConnection cc = admin.examineConsumerConnectionInfo(group);
            assertEquals(1, cc.getConnectionSet().size(), "connections");
            assertNotNull(cc.getConnectionSet().iterator().next().getClientId());
            assertTrue(cc.getSubscriptionTable().containsKey(topic), "subscriptionTable " + cc.getSubscriptionTable().keySet());
            assertNotNull(cc.getConsumeType());
            assertNotNull(cc.getMessageModel());
            assertNotNull(cc.getConsumeFromWhere());
        });

        check("examineProducerConnectionInfo", () -> {
            ProducerConnection pc = admin.examineProducerConnectionInfo(producer.getProducerGroup(), topic);
            assertEquals(1, pc.getConnectionSet().size(), "producer connections");
            assertNotNull(pc.getConnectionSet().iterator().next().getClientAddr());
        });

        check("queryTopicConsumeByWho", () -> {
            GroupList gl = admin.queryTopicConsumeByWho(topic);
            assertTrue(gl.getGroupList().contains(group), "groups " + gl.getGroupList());
        });

        check("queryConsumeTimeSpan", () -> {
            List<QueueTimeSpan> spans = admin.queryConsumeTimeSpan(topic, group);
            assertTrue(!spans.isEmpty(), "no spans");
            boolean anyWithMessages = false;
            for (QueueTimeSpan s : spans) {
                assertEquals(topic, s.getMessageQueue().getTopic());
                if (s.getMaxTimeStamp() > 0) {
                    anyWithMessages = true;
                    assertTrue(s.getMinTimeStamp() > 0 && s.getMinTimeStamp() <= s.getMaxTimeStamp(), "span " + s);
                    assertTrue(s.getConsumeTimeStamp() >= s.getMinTimeStamp(), "consumeTimeStamp " + s);
                    assertTrue(s.getDelayTime() >= 0, "delayTime " + s);
                }
            }
            assertTrue(anyWithMessages, "spans " + spans);
        });

        check("fetchTopicsByCLuster (224)", () -> {
            TopicList tl = admin.fetchTopicsByCLuster(cluster);
            assertTrue(tl.getTopicList().contains(topic), "topics " + tl.getTopicList());
        });

        check("KV config", () -> {
            String ns = "ADMIN_EXT_TEST";
            admin.createAndUpdateKvConfig(ns, "k1", "v1");
            assertEquals("v1", admin.getKVConfig(ns, "k1"));
            admin.createAndUpdateKvConfig(ns, "k1", "v2");
            assertEquals("v2", admin.getKVConfig(ns, "k1"));
            admin.deleteKvConfig(ns, "k1");
            try {
                String v = admin.getKVConfig(ns, "k1");
                assertNull(v, "deleted key still has a value");
            } catch (Exception expected) {
                // Apache answers QUERY_NOT_FOUND, which the client throws.
            }
        });

        // The calls a dashboard makes on a live consumer (relayed by the broker to the client).
        String clientId = admin.examineConsumerConnectionInfo(group).getConnectionSet().iterator().next().getClientId();
        check("getConsumerRunningInfo", () -> {
            org.apache.rocketmq.common.protocol.body.ConsumerRunningInfo info = admin.getConsumerRunningInfo(group, clientId, false);
            assertNotNull(info, "running info");
            assertTrue(info.getSubscriptionSet().stream().anyMatch(s -> s.getTopic().equals(topic)), "subscription: " + info.getSubscriptionSet());
            assertTrue(info.getMqTable().keySet().stream().anyMatch(q -> q.getTopic().equals(topic)), "queues: " + info.getMqTable().keySet());
        });
        final String msgId = firstMsgId;
        check("consumeMessageDirectly", () -> {
            org.apache.rocketmq.common.protocol.body.ConsumeMessageDirectlyResult r = admin.consumeMessageDirectly(group, clientId, msgId);
            assertEquals(org.apache.rocketmq.common.protocol.body.CMResult.CR_SUCCESS, r.getConsumeResult(), "consume result: " + r);
        });
        check("getConsumeStatus", () -> {
            Map<String, Map<MessageQueue, Long>> st = admin.getConsumeStatus(topic, group, "");
            assertTrue(st.containsKey(clientId), "status of the live client: " + st);
            assertTrue(st.get(clientId).keySet().stream().allMatch(q -> q.getTopic().equals(topic)), "its queues: " + st);
        });
        String clone = group + "_clone";
        check("cloneGroupOffset", () -> {
            admin.cloneGroupOffset(group, clone, topic, true);
            // examineConsumeStats needs the group's retry topic, which an offline clone has not:
            // read the clone's committed offsets as a pull consumer of that group would.
            org.apache.rocketmq.client.consumer.DefaultMQPullConsumer pc = mq.startPullConsumer(clone);
            long consumed = 0;
            for (MessageQueue q : pc.fetchSubscribeMessageQueues(topic)) {
                consumed += Math.max(0, pc.fetchConsumeOffset(q, true));
            }
            assertEquals(N, consumed, "the clone's committed offsets");
        });
        check("resetOffsetByTimestamp", () -> {
            Map<MessageQueue, Long> reset = admin.resetOffsetByTimestamp(topic, group, 0L, true);
            assertTrue(!reset.isEmpty() && reset.keySet().stream().allMatch(q -> q.getTopic().equals(topic)), "reset queues: " + reset);
            assertTrue(reset.values().stream().allMatch(o -> o == 0L), "reset to the first message: " + reset);
        });
        check("resetOffsetByTimestampOld", () -> {
            List<org.apache.rocketmq.common.admin.RollbackStats> rs = admin.resetOffsetByTimestampOld(clone, topic, 0L, true);
            assertTrue(!rs.isEmpty(), "rollback stats: " + rs);
            assertTrue(rs.stream().allMatch(r -> r.getRollbackOffset() == 0L), "rolled back to 0: " + rs);
        });

        consumer.shutdown();
        producer.shutdown();
        check("deleteTopicInBroker / deleteTopicInNameServer", () -> {
            admin.deleteTopicInBroker(Set.of(addr), topic);
            admin.deleteTopicInNameServer(Set.of(mq.namesrvAddr()), cluster, topic);
            // Apache 4.9.7 still lists the topic right after, by cluster and in the full list
            // (not investigated), so the listing checks are ferromq's.
            TopicList tl = admin.fetchTopicsByCLuster(cluster);
            assertTrue(!ferro || !tl.getTopicList().contains(topic), "deleted topic still listed");
            assertTrue(!ferro || !admin.fetchAllTopicList().getTopicList().contains(topic), "deleted topic in fetchAllTopicList");
        });

        if (!failures.isEmpty()) {
            fail(failures.size() + " admin call(s) failed on " + mq.targetName() + ":\n  " + String.join("\n  ", failures));
        }
    }

    static String describe(BrokerStatsData d) {
        return "minute " + item(d.getStatsMinute()) + " hour " + item(d.getStatsHour()) + " day " + item(d.getStatsDay());
    }

    static String item(BrokerStatsItem i) {
        return i == null ? "null" : "{sum=" + i.getSum() + ", tps=" + i.getTps() + ", avgpt=" + i.getAvgpt() + "}";
    }
}
