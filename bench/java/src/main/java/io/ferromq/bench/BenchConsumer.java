package io.ferromq.bench;

import java.util.ArrayDeque;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.LongAdder;
import org.apache.rocketmq.client.consumer.DefaultMQPushConsumer;
import org.apache.rocketmq.client.consumer.listener.ConsumeConcurrentlyStatus;
import org.apache.rocketmq.client.consumer.listener.MessageListenerConcurrently;
import org.apache.rocketmq.client.consumer.rebalance.AllocateMessageQueueAveragely;
import org.apache.rocketmq.common.message.MessageExt;

/**
 * Stand-in for RocketMQ 4.9.7's benchmark consumer (org.apache.rocketmq.example.benchmark.Consumer,
 * distribution/benchmark/consumer.sh): a DefaultMQPushConsumer (clustering, averaged queue
 * allocation, {@code -w} consume threads, subscription "*") that only counts; every 10 s it
 * prints the consume TPS and the mean born-to-consume and store-to-consume times over the last
 * 10 one-second samples as "Current Time: ... TPS: N FAIL: 0 AVG(B2C) RT(ms): X AVG(S2C) RT(ms): X
 * MAX(B2C) RT(ms): N MAX(S2C) RT(ms): N".
 */
public final class BenchConsumer {
    private static final String USAGE =
        "BenchConsumer -n namesrv [-t topic=BenchmarkTest] [-w threads=20] [-g group=benchmark_consumer]";

    private static final LongAdder received = new LongAdder();
    private static final LongAdder born2ConsumeMs = new LongAdder();
    private static final LongAdder store2ConsumeMs = new LongAdder();
    private static final AtomicLong maxBorn2ConsumeMs = new AtomicLong();
    private static final AtomicLong maxStore2ConsumeMs = new AtomicLong();

    public static void main(String[] argv) throws Exception {
        System.setProperty("rocketmq.serialize.type", "ROCKETMQ");
        Args args = new Args(argv, "ntwg", USAGE);
        String namesrv = args.get("n", null);
        String topic = args.get("t", "BenchmarkTest");
        int threads = args.getInt("w", 20);
        String group = args.get("g", "benchmark_consumer");
        System.out.printf("topic: %s, threadCount %d, group: %s%n", topic, threads, group);

        ArrayDeque<long[]> samples = new ArrayDeque<>();
        ScheduledExecutorService timer = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "BenchmarkTimer");
            t.setDaemon(true);
            return t;
        });
        timer.scheduleAtFixedRate(() -> {
            synchronized (samples) {
                samples.addLast(new long[] {System.currentTimeMillis(), received.sum(),
                    born2ConsumeMs.sum(), store2ConsumeMs.sum()});
                if (samples.size() > 10) {
                    samples.removeFirst();
                }
            }
        }, 1, 1, TimeUnit.SECONDS);
        timer.scheduleAtFixedRate(() -> {
            long[] b;
            long[] e;
            synchronized (samples) {
                if (samples.size() < 10) {
                    return;
                }
                b = samples.getFirst();
                e = samples.getLast();
            }
            long n = e[1] - b[1];
            System.out.printf("Current Time: %d TPS: %d FAIL: 0 AVG(B2C) RT(ms): %7.3f AVG(S2C) RT(ms): %7.3f MAX(B2C) RT(ms): %d MAX(S2C) RT(ms): %d%n",
                System.currentTimeMillis(), (long) (n / (double) (e[0] - b[0]) * 1000L),
                (e[2] - b[2]) / (double) n, (e[3] - b[3]) / (double) n,
                maxBorn2ConsumeMs.getAndSet(0), maxStore2ConsumeMs.getAndSet(0));
        }, 10, 10, TimeUnit.SECONDS);

        DefaultMQPushConsumer consumer =
            new DefaultMQPushConsumer(group, null, new AllocateMessageQueueAveragely());
        if (namesrv != null) {
            consumer.setNamesrvAddr(namesrv);
        }
        consumer.setConsumeThreadMin(threads);
        consumer.setConsumeThreadMax(threads);
        consumer.setInstanceName(Long.toString(System.currentTimeMillis()));
        consumer.subscribe(topic, "*");
        consumer.registerMessageListener((MessageListenerConcurrently) (msgs, context) -> {
            long now = System.currentTimeMillis();
            for (MessageExt m : msgs) {
                received.increment();
                long b2c = now - m.getBornTimestamp();
                long s2c = now - m.getStoreTimestamp();
                born2ConsumeMs.add(b2c);
                store2ConsumeMs.add(s2c);
                maxBorn2ConsumeMs.accumulateAndGet(b2c, Math::max);
                maxStore2ConsumeMs.accumulateAndGet(s2c, Math::max);
            }
            return ConsumeConcurrentlyStatus.CONSUME_SUCCESS;
        });
        consumer.start();
        System.out.printf("Consumer Started.%n");
    }
}
