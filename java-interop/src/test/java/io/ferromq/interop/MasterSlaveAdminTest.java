package io.ferromq.interop;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;
import org.apache.rocketmq.client.producer.DefaultMQProducer;
import org.apache.rocketmq.client.producer.SendResult;
import org.apache.rocketmq.client.producer.SendStatus;
import org.apache.rocketmq.common.message.Message;
import org.junit.jupiter.api.Test;

/**
 * mqadmin (4.9.7) against a master with a ferromq slave (brokerId 1) under the same brokerName:
 * clusterList prints a row per broker with its id (BID 0 the master, 1 the slave), brokerStatus
 * answers on both, the slave's commitLogMaxOffset reaching the master's once it has replicated
 * (Java 4.9.7's runtime info has no HA-specific keys: AdminBrokerProcessor.prepareRuntimeInfo and
 * DefaultMessageStore.getRuntimeInfo add none, so the offsets are what shows replication), and
 * topicRoute lists both broker ids. The master is ferromq, or Apache's with
 * -Dinterop.target=apache (the slave is ferromq either way).
 */
class MasterSlaveAdminTest {
    private static final Duration WAIT = Duration.ofSeconds(60);

    @Test
    void clusterListBrokerStatusAndTopicRouteShowMasterAndSlave() throws Exception {
        MqAdmin.assumeClient49("mqadmin");
        try (FerroMQ mq = FerroMQ.create("MasterSlaveAdminTest").start();
             Cluster c = Cluster.ferromqOnly("MasterSlaveAdminTest")) {
            c.startFerromqBroker("slave", "brokerClusterName=" + FerroMQ.CLUSTER_NAME + "\n"
                + "brokerName=" + FerroMQ.BROKER_NAME + "\n"
                + "brokerId=1\nbrokerRole=SLAVE\nbrokerIP1=127.0.0.1\nbrokerIP2=127.0.0.1\n"
                + "listenPort=" + c.slavePort + "\n"
                + "namesrvAddr=" + mq.namesrvAddr() + "\n"
                + "storePathRootDir=" + c.workDir.resolve("slave").resolve("store") + "\n"
                + "haSendHeartbeatInterval=1000\n");
            MqAdmin admin = new MqAdmin(mq);
            String topic = mq.uniqueName("MsAdmin");
            admin.ok("updateTopic", "-b", mq.brokerAddr(), "-t", topic, "-r", "4", "-w", "4");
            DefaultMQProducer producer = mq.startProducer();
            for (int i = 0; i < 20; i++) {
                SendResult r = producer.send(new Message(topic, "TagA", ("ms-" + i).getBytes(UTF_8)));
                assertEquals(SendStatus.SEND_OK, r.getSendStatus(), r.toString());
            }

            // clusterList: one row per broker, the slave with BID 1.
            MqAdmin.Result clusters = admin.ok("clusterList");
            assertTrue(row(FerroMQ.BROKER_NAME, 0, mq.brokerAddr()).matcher(clusters.output).find(),
                "clusterList should list the master with BID 0: " + clusters);
            assertTrue(row(FerroMQ.BROKER_NAME, 1, c.slaveAddr()).matcher(clusters.output).find(),
                "clusterList should list the slave with BID 1: " + clusters);

            // brokerStatus on both; the slave's commit log reaches the master's end.
            Map<String, String> master = admin.ok("brokerStatus", "-b", mq.brokerAddr()).colonTable();
            long masterMax = Long.parseLong(master.get("commitLogMaxOffset").trim());
            assertTrue(masterMax > 0, master.toString());
            String[] last = {""};
            Await.until("the slave's brokerStatus commitLogMaxOffset to reach the master's " + masterMax, WAIT, () -> {
                try {
                    MqAdmin.Result s = admin.ok("brokerStatus", "-b", c.slaveAddr());
                    last[0] = s.output;
                    String v = s.colonTable().get("commitLogMaxOffset");
                    return v != null && Long.parseLong(v.trim()) == masterMax;
                } catch (Exception e) {
                    return false;
                }
            }, () -> last[0]);
            Map<String, String> slave = admin.ok("brokerStatus", "-b", c.slaveAddr()).colonTable();
            for (String key : List.of("brokerVersionDesc", "commitLogMinOffset", "commitLogMaxOffset",
                "commitLogDiskRatio", "putTps", "getTransferedTps", "bootTimestamp", "runtime")) {
                assertTrue(slave.containsKey(key), "the slave's brokerStatus should print " + key + ": " + slave);
            }

            // topicRoute: the group's broker data lists both ids (the name server takes the slave's
            // registration into the master's brokerData).
            MqAdmin.Result route = admin.ok("topicRoute", "-t", topic);
            String compact = route.output.replaceAll("\\s", "");
            assertTrue(Pattern.compile("\"?0\"?:\"" + Pattern.quote(mq.brokerAddr()) + "\"").matcher(compact).find(),
                "topicRoute should list the master as brokerId 0: " + route);
            assertTrue(Pattern.compile("\"?1\"?:\"" + Pattern.quote(c.slaveAddr()) + "\"").matcher(compact).find(),
                "topicRoute should list the slave as brokerId 1: " + route);
        }
    }

    private static Pattern row(String broker, int bid, String addr) {
        return Pattern.compile("(?m)^" + Pattern.quote(FerroMQ.CLUSTER_NAME) + "\\s+" + Pattern.quote(broker)
            + "\\s+" + bid + "\\s+" + Pattern.quote(addr) + "\\s+V4_9_7\\s");
    }
}
