package io.ferromq.interop;

import org.apache.rocketmq.client.exception.MQClientException;
import org.apache.rocketmq.client.producer.DefaultMQProducer;
import org.apache.rocketmq.remoting.RPCHook;

/** Clients for the ACL tests (kept out of FerroMQ: the hook class needs a 4.9 client). */
final class AclTestSupport {
    private AclTestSupport() {
    }

    /** A started producer signing with {@code hook} (null: unsigned), without send retries. */
    static DefaultMQProducer producer(FerroMQ mq, RPCHook hook) throws MQClientException {
        DefaultMQProducer p = new DefaultMQProducer(mq.uniqueName("AclPG"), hook);
        p.setNamesrvAddr(mq.namesrvAddr());
        p.setInstanceName(mq.newInstanceName());
        p.setCreateTopicKey("TBW102");
        p.setRetryTimesWhenSendFailed(0);
        p.start();
        mq.onClose(p::shutdown);
        return p;
    }
}
