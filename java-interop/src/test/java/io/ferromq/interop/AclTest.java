package io.ferromq.interop;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.time.Duration;
import java.util.List;

import org.apache.rocketmq.acl.common.AclClientRPCHook;
import org.apache.rocketmq.acl.common.SessionCredentials;
import org.apache.rocketmq.client.consumer.DefaultMQPushConsumer;
import org.apache.rocketmq.client.consumer.rebalance.AllocateMessageQueueAveragely;
import org.apache.rocketmq.client.exception.MQBrokerException;
import org.apache.rocketmq.client.exception.MQClientException;
import org.apache.rocketmq.client.producer.DefaultMQProducer;
import org.apache.rocketmq.client.producer.SendResult;
import org.apache.rocketmq.client.producer.SendStatus;
import org.apache.rocketmq.common.TopicConfig;
import org.apache.rocketmq.common.consumer.ConsumeFromWhere;
import org.apache.rocketmq.common.message.Message;
import org.apache.rocketmq.common.message.MessageExt;
import org.apache.rocketmq.remoting.RPCHook;
import org.apache.rocketmq.tools.admin.DefaultMQAdminExt;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInfo;

/**
 * The broker's ACL (aclEnable=true, plain_acl.yml) as 4.9.7 clients meet it: clients signing
 * with AclClientRPCHook and the right keys produce and consume; a wrong secret, an unknown key, a
 * topic without PUB and a non-admin admin request are refused with the Java broker's response
 * (SYSTEM_ERROR and the AclException text); a globally white-listed address needs no signature;
 * and an edit of plain_acl.yml takes effect without a restart. The same assertions hold against
 * Apache RocketMQ 4.9.7's broker (-Dinterop.target=apache).
 */
class AclTest {

    static final Duration RECEIVE_TIMEOUT = Duration.ofSeconds(60);
    static final Duration RELOAD_TIMEOUT = Duration.ofSeconds(30);
    static final String USER = "appUser01";
    static final String USER_SECRET = "appSecret01";
    static final String ADMIN = "adminUser1";
    static final String ADMIN_SECRET = "adminSecret1";
    /** RemotingSysResponseCode.SYSTEM_ERROR: how the Java broker answers a request its ACL refuses. */
    static final int SYSTEM_ERROR = 1;
    static final String ACL_EXCEPTION = "org.apache.rocketmq.acl.common.AclException: ";

    private String testId;

    @BeforeEach
    void setUp(TestInfo info) {
        MqAdmin.assumeClient49("ACL");
        testId = "AclTest." + info.getTestMethod().get().getName();
    }

    /** An application account: publish/subscribe on {@code topic}, subscribe as any group; an admin account. */
    static String accounts(String topic, String topicPerm, String whiteList) {
        return "globalWhiteRemoteAddresses:\n"
            + (whiteList == null ? "" : "  - " + whiteList + "\n")
            + "accounts:\n"
            + "  - accessKey: " + USER + "\n"
            + "    secretKey: " + USER_SECRET + "\n"
            + "    whiteRemoteAddress:\n"
            + "    admin: false\n"
            + "    defaultTopicPerm: DENY\n"
            + "    defaultGroupPerm: SUB\n"
            + "    topicPerms:\n"
            + "      - " + topic + "=" + topicPerm + "\n"
            + "  - accessKey: " + ADMIN + "\n"
            + "    secretKey: " + ADMIN_SECRET + "\n"
            + "    admin: true\n";
    }

    static RPCHook hook(String accessKey, String secretKey) {
        return new AclClientRPCHook(new SessionCredentials(accessKey, secretKey));
    }

    FerroMQ start(FerroMQ mq, String yaml) throws Exception {
        mq.aclConfig(yaml).start();
        return mq;
    }

    DefaultMQProducer producer(FerroMQ mq, RPCHook hook) throws MQClientException {
        return AclTestSupport.producer(mq, hook);
    }

    /** The response code and remark a refused send ends with (the client wraps the broker's answer). */
    static String refusal(DefaultMQProducer p, String topic) {
        return refusal(topic, () -> p.send(new Message(topic, "T", "refused?".getBytes(UTF_8))));
    }

    interface Send {
        SendResult send() throws Exception;
    }

    static String refusal(String topic, Send send) {
        try {
            SendResult r = send.send();
            fail("send to " + topic + " should be refused, got " + r);
            return null;
        } catch (MQClientException e) {
            Throwable c = e.getCause();
            if (c instanceof MQBrokerException) {
                MQBrokerException b = (MQBrokerException) c;
                return b.getResponseCode() + " " + b.getErrorMessage();
            }
            return e.getResponseCode() + " " + e.getErrorMessage() + " (cause " + c + ")";
        } catch (MQBrokerException e) {
            return e.getResponseCode() + " " + e.getErrorMessage();
        } catch (Exception e) {
            throw new AssertionError("send to " + topic + " failed unexpectedly", e);
        }
    }

    static void assertRefused(String refusal, String message) {
        assertTrue(refusal.startsWith(SYSTEM_ERROR + " " + ACL_EXCEPTION + message),
            "expected SYSTEM_ERROR with \"" + ACL_EXCEPTION + message + "...\", got: " + refusal);
    }

    /** The Java broker's exact remark: the exception, then where PlainPermissionManager raised it (4.9.7). */
    static void assertRefused(String refusal, String message, String method, int line) {
        assertEquals(SYSTEM_ERROR + " " + ACL_EXCEPTION + message + ", org.apache.rocketmq.acl.plain.PlainPermissionManager."
            + method + "(PlainPermissionManager.java:" + line + ")", refusal);
    }

    @Test
    void signedClientsProduceAndConsumeEveryMessage() throws Exception {
        try (FerroMQ mq = FerroMQ.create(testId)) {
            String topic = mq.uniqueName("AclT");
            start(mq, accounts(topic, "PUB|SUB", null));
            try {
                DefaultMQProducer p = producer(mq, hook(USER, USER_SECRET));
                int n = 20;
                for (int i = 0; i < n; i++) {
                    SendResult r = p.send(new Message(topic, "T", ("acl-" + i).getBytes(UTF_8)));
                    assertEquals(SendStatus.SEND_OK, r.getSendStatus(), r.toString());
                }
                DefaultMQPushConsumer c = new DefaultMQPushConsumer(mq.uniqueName("AclCG"), hook(USER, USER_SECRET),
                    new AllocateMessageQueueAveragely());
                c.setNamesrvAddr(mq.namesrvAddr());
                c.setInstanceName(mq.newInstanceName());
                c.setConsumeFromWhere(ConsumeFromWhere.CONSUME_FROM_FIRST_OFFSET);
                mq.onClose(c::shutdown);
                Inbox inbox = new Inbox();
                c.subscribe(topic, "*");
                c.registerMessageListener(inbox);
                c.start();
                List<MessageExt> got = inbox.awaitCount(n, RECEIVE_TIMEOUT);
                assertEquals(n, got.size());
            } catch (Throwable t) {
                throw new AssertionError(t.getMessage() + "\n" + mq.logTail(40), t);
            }
        }
    }

    @Test
    void wrongSecretUnknownKeyMissingPubAndNonAdminAreRefused() throws Exception {
        try (FerroMQ mq = FerroMQ.create(testId)) {
            String topic = mq.uniqueName("AclT");
            start(mq, accounts(topic, "SUB", null));
            try {
                // The account may only subscribe to the topic: no PUB.
                assertRefused(refusal(producer(mq, hook(USER, USER_SECRET)), topic),
                    "No default permission for topic:" + topic, "checkPerm", 610);
                assertRefused(refusal(producer(mq, hook(USER, "notTheSecret")), topic),
                    "Check signature failed for accessKey=" + USER, "validate", 683);
                assertRefused(refusal(producer(mq, hook("nobodyKey1", USER_SECRET)), topic),
                    "No acl config for nobodyKey1", "validate", 667);
                // No signature at all, from an address on no white list.
                assertRefused(refusal(producer(mq, null), topic), "No accessKey is configured", "validate", 663);

                // UPDATE_AND_CREATE_TOPIC is for admin accounts only.
                TopicConfig tc = new TopicConfig(mq.uniqueName("AclAdminT"), 4, 4, 6);
                DefaultMQAdminExt user = adminExt(mq, hook(USER, USER_SECRET));
                try {
                    user.createAndUpdateTopicConfig(mq.brokerAddr(), tc);
                    fail("a non-admin account created a topic");
                } catch (MQClientException e) {
                    assertEquals(SYSTEM_ERROR, e.getResponseCode(), e.toString());
                    assertEquals(ACL_EXCEPTION + "Need admin permission for request code=17, but accessKey=" + USER
                        + " is not, org.apache.rocketmq.acl.plain.PlainPermissionManager.checkPerm(PlainPermissionManager.java:580)",
                        e.getErrorMessage());
                }
                adminExt(mq, hook(ADMIN, ADMIN_SECRET)).createAndUpdateTopicConfig(mq.brokerAddr(), tc);
            } catch (Throwable t) {
                throw new AssertionError(t.getMessage() + "\n" + mq.logTail(40), t);
            }
        }
    }

    /**
     * Apache's validator has no case for SEND_BATCH_MESSAGE, so an account without PUB on a topic
     * still batch-sends to it there; ferromq checks a batch as it checks a single send.
     */
    @Test
    void batchSendsNeedPubOnTheTopic() throws Exception {
        try (FerroMQ mq = FerroMQ.create(testId)) {
            String topic = mq.uniqueName("AclT");
            start(mq, accounts(topic, "SUB", null));
            try {
                DefaultMQProducer p = producer(mq, hook(USER, USER_SECRET));
                List<Message> batch = List.of(new Message(topic, "T", "b0".getBytes(UTF_8)),
                    new Message(topic, "T", "b1".getBytes(UTF_8)));
                if (mq.target() == FerroMQ.Target.APACHE) {
                    assertEquals(SendStatus.SEND_OK, p.send(batch).getSendStatus(), "Apache stores the batch");
                } else {
                    assertRefused(refusal(topic, () -> p.send(batch)),
                        "No default permission for topic:" + topic, "checkPerm", 610);
                }
            } catch (Throwable t) {
                throw new AssertionError(t.getMessage() + "\n" + mq.logTail(40), t);
            }
        }
    }

    DefaultMQAdminExt adminExt(FerroMQ mq, RPCHook hook) throws MQClientException {
        DefaultMQAdminExt admin = new DefaultMQAdminExt(hook, 10_000);
        admin.setNamesrvAddr(mq.namesrvAddr());
        admin.setInstanceName(mq.newInstanceName());
        admin.start();
        mq.onClose(admin::shutdown);
        return admin;
    }

    @Test
    void globallyWhiteListedAddressesNeedNoSignature() throws Exception {
        try (FerroMQ mq = FerroMQ.create(testId)) {
            String topic = mq.uniqueName("AclT");
            start(mq, accounts(topic, "SUB", "127.0.0.1"));
            try {
                DefaultMQProducer p = producer(mq, null);
                SendResult r = p.send(new Message(topic, "T", "white".getBytes(UTF_8)));
                assertEquals(SendStatus.SEND_OK, r.getSendStatus(), r.toString());
                // Even a wrong signature passes: the address is checked first.
                SendResult r2 = producer(mq, hook(USER, "notTheSecret")).send(new Message(topic, "T", "w2".getBytes(UTF_8)));
                assertEquals(SendStatus.SEND_OK, r2.getSendStatus(), r2.toString());
            } catch (Throwable t) {
                throw new AssertionError(t.getMessage() + "\n" + mq.logTail(40), t);
            }
        }
    }

    @Test
    void editsOfPlainAclYmlTakeEffectWithoutRestart() throws Exception {
        try (FerroMQ mq = FerroMQ.create(testId)) {
            String topic = mq.uniqueName("AclT");
            start(mq, accounts(topic, "SUB", null));
            try {
                DefaultMQProducer p = producer(mq, hook(USER, USER_SECRET));
                assertRefused(refusal(p, topic), "No default permission for topic:" + topic);
                mq.writeAclFile(accounts(topic, "PUB|SUB", null));
                Await.until("the edited plain_acl.yml grants PUB on " + topic, RELOAD_TIMEOUT, () -> {
                    try {
                        return p.send(new Message(topic, "T", "after-edit".getBytes(UTF_8))).getSendStatus() == SendStatus.SEND_OK;
                    } catch (Exception e) {
                        return false;
                    }
                });
                // And back: taking PUB away again refuses again.
                mq.writeAclFile(accounts(topic, "SUB", null));
                Await.until("the edited plain_acl.yml takes PUB on " + topic + " away", RELOAD_TIMEOUT, () -> {
                    try {
                        p.send(new Message(topic, "T", "again".getBytes(UTF_8)));
                        return false;
                    } catch (Exception e) {
                        return true;
                    }
                });
            } catch (Throwable t) {
                throw new AssertionError(t.getMessage() + "\n" + mq.logTail(40), t);
            }
        }
    }
}
