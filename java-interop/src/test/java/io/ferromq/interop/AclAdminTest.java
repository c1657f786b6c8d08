package io.ferromq.interop;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;

import org.apache.rocketmq.client.producer.DefaultMQProducer;
import org.apache.rocketmq.client.producer.SendStatus;
import org.apache.rocketmq.common.message.Message;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInfo;

/**
 * The stock mqadmin 4.9.7's ACL commands (updateAclConfig, deleteAclConfig, getAclConfig,
 * clusterAclConfigVersion, updateGlobalWhiteAddr: request codes 50-54), signing with an admin
 * account from its conf/tools.yml, and their effect on a client: on ferromq and on Apache 4.9.7.
 */
class AclAdminTest {

    static final Duration EFFECT_TIMEOUT = Duration.ofSeconds(30);
    static final String NEW_USER = "newUser01";
    static final String NEW_SECRET = "newSecret01";

    private String testId;

    @BeforeEach
    void setUp(TestInfo info) {
        MqAdmin.assumeClient49("ACL");
        testId = "AclAdminTest." + info.getTestMethod().get().getName();
    }

    static boolean sends(DefaultMQProducer p, String topic) {
        try {
            return p.send(new Message(topic, "T", "x".getBytes(UTF_8))).getSendStatus() == SendStatus.SEND_OK;
        } catch (Exception e) {
            return false;
        }
    }

    @Test
    void mqadminManagesAccountsAndTheWhiteListWithAdminCredentials() throws Exception {
        try (FerroMQ mq = FerroMQ.create(testId)) {
            String topic = mq.uniqueName("AclAdm");
            mq.aclConfig(AclTest.accounts(topic, "SUB", null)).start();
            try {
                MqAdmin admin = new MqAdmin(mq).credentials(AclTest.ADMIN, AclTest.ADMIN_SECRET);
                String b = mq.brokerAddr();

                // A new account that may publish to the topic, and a client using it.
                MqAdmin.Result r = admin.ok("updateAclConfig", "-b", b, "-a", NEW_USER, "-s", NEW_SECRET,
                    "-i", "DENY", "-u", "SUB", "-t", topic + "=PUB");
                assertTrue(r.output.contains("create or update plain access config to " + b + " success"), r.toString());
                DefaultMQProducer p = AclTestSupport.producer(mq, AclTest.hook(NEW_USER, NEW_SECRET));
                Await.until(NEW_USER + " may publish to " + topic, EFFECT_TIMEOUT, () -> sends(p, topic));

                // Java's checks on what an account may be: a secret of 6 characters or fewer is refused.
                MqAdmin.Result bad = admin.fails(209, "updateAclConfig", "-b", b, "-a", "otherUser1", "-s", "short");
                assertTrue(bad.output.contains("cannot be null and length should longer than 6"), bad.toString());

                MqAdmin.Result all = admin.ok("getAclConfig", "-b", b);
                assertTrue(all.output.contains("accessKey") && all.output.contains(NEW_USER)
                    && all.output.contains(AclTest.ADMIN) && all.output.contains(topic + "=PUB"), all.toString());
                assertTrue(!all.output.contains("otherUser1"), all.toString());

                MqAdmin.Result versions = admin.ok("clusterAclConfigVersion", "-b", b);
                assertTrue(versions.output.contains(FerroMQ.BROKER_NAME) && versions.output.contains(b), versions.toString());

                // Deleted: the account is unknown again.
                admin.ok("deleteAclConfig", "-b", b, "-a", NEW_USER);
                Await.until(NEW_USER + " is refused after deleteAclConfig", EFFECT_TIMEOUT, () -> !sends(p, topic));
                String refusal = AclTest.refusal(p, topic);
                assertTrue(refusal.startsWith(AclTest.SYSTEM_ERROR + " " + AclTest.ACL_EXCEPTION), refusal);
                admin.fails(210, "deleteAclConfig", "-b", b, "-a", NEW_USER);

                // The global white list: 127.0.0.1 then needs no signature at all.
                DefaultMQProducer unsigned = AclTestSupport.producer(mq, null);
                assertTrue(!sends(unsigned, topic), "an unsigned client is refused before the white list");
                admin.ok("updateGlobalWhiteAddr", "-b", b, "-g", "127.0.0.1", "-p", mq.aclFile().toString());
                Await.until("127.0.0.1 is white-listed", EFFECT_TIMEOUT, () -> sends(unsigned, topic));
                MqAdmin.Result white = admin.ok("getAclConfig", "-b", b);
                assertTrue(white.output.contains("globalWhiteRemoteAddresses: [127.0.0.1]"), white.toString());
            } catch (Throwable t) {
                throw new AssertionError(t.getMessage() + "\n" + mq.logTail(40), t);
            }
        }
    }
}
