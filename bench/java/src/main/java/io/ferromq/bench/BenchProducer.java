package io.ferromq.bench;

import java.nio.charset.StandardCharsets;
import java.text.SimpleDateFormat;
import java.util.ArrayDeque;
import java.util.Date;
import java.util.Random;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.LongAdder;
import org.apache.rocketmq.client.exception.MQBrokerException;
import org.apache.rocketmq.client.exception.MQClientException;
import org.apache.rocketmq.client.producer.DefaultMQProducer;
import org.apache.rocketmq.common.message.Message;
import org.apache.rocketmq.remoting.exception.RemotingException;

/**
 * Stand-in for RocketMQ 4.9.7's benchmark producer (org.apache.rocketmq.example.benchmark.Producer,
 * distribution/benchmark/producer.sh), which Apache does not publish to Maven Central.
 *
 * <p>Same model: one DefaultMQProducer (group "benchmark_producer", binary ROCKETMQ header
 * serialization, no body compression), {@code -w} threads each sending a fixed random
 * alphanumeric body of {@code -s} bytes with blocking {@code send(msg)} in a loop (a failed send
 * is counted and, for remoting/broker errors, followed by a 3 s pause); counters are sampled
 * every second and every 10 s the send TPS and average RT over the last 10 samples are printed
 * as "Current Time: ... Send TPS: N Max RT(ms): N Average RT(ms): X Send Failed: N Response
 * Failed: N". {@code -q} limits the total (0 = until killed).
 */
public final class BenchProducer {
    private static final String USAGE =
        "BenchProducer -n namesrv [-t topic=BenchmarkTest] [-w threads=64] [-s size=128] [-q total=0]";

    private static final LongAdder sendOk = new LongAdder();
    private static final LongAdder sendFailed = new LongAdder();
    private static final LongAdder responseFailed = new LongAdder();
    private static final LongAdder rtTotalMs = new LongAdder();
    private static final AtomicLong maxRtMs = new AtomicLong();

    public static void main(String[] argv) throws MQClientException, InterruptedException {
        System.setProperty("rocketmq.serialize.type", "ROCKETMQ");
        Args args = new Args(argv, "ntwsq", USAGE);
        String namesrv = args.get("n", null);
        String topic = args.get("t", "BenchmarkTest");
        int threads = args.getInt("w", 64);
        int size = args.getInt("s", 128);
        long total = args.getLong("q", 0);
        System.out.printf("topic: %s threadCount: %d messageSize: %d messageQuantity: %d%n",
            topic, threads, size, total);

        byte[] body = randomAlnum(size).getBytes(StandardCharsets.UTF_8);

        DefaultMQProducer producer = new DefaultMQProducer("benchmark_producer");
        producer.setInstanceName(Long.toString(System.currentTimeMillis()));
        if (namesrv != null) {
            producer.setNamesrvAddr(namesrv);
        }
        producer.setCompressMsgBodyOverHowmuch(Integer.MAX_VALUE);
        producer.start();

        ArrayDeque<long[]> samples = new ArrayDeque<>();
        ScheduledExecutorService timer = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "BenchmarkTimer");
            t.setDaemon(true);
            return t;
        });
        timer.scheduleAtFixedRate(() -> {
            synchronized (samples) {
                samples.addLast(sample());
                if (samples.size() > 10) {
                    samples.removeFirst();
                }
            }
        }, 1, 1, TimeUnit.SECONDS);
        timer.scheduleAtFixedRate(() -> {
            synchronized (samples) {
                if (samples.size() >= 10) {
                    print(samples.getFirst(), samples.getLast(), false);
                }
            }
        }, 10, 10, TimeUnit.SECONDS);

        ExecutorService pool = Executors.newFixedThreadPool(threads);
        for (int i = 0; i < threads; i++) {
            long quota = total <= 0 ? Long.MAX_VALUE : total / threads + (i == 0 ? total % threads : 0);
            if (quota == 0) {
                break;
            }
            pool.execute(() -> {
                for (long n = 0; n < quota; n++) {
                    Message msg = new Message(topic, body);
                    long begin = System.currentTimeMillis();
                    try {
                        producer.send(msg);
                        long rt = System.currentTimeMillis() - begin;
                        sendOk.increment();
                        rtTotalMs.add(rt);
                        maxRtMs.accumulateAndGet(rt, Math::max);
                    } catch (RemotingException e) {
                        sendFailed.increment();
                        e.printStackTrace();
                        sleep(3000);
                    } catch (MQBrokerException e) {
                        responseFailed.increment();
                        e.printStackTrace();
                        sleep(3000);
                    } catch (MQClientException e) {
                        sendFailed.increment();
                        e.printStackTrace();
                    } catch (InterruptedException e) {
                        sendFailed.increment();
                        return;
                    }
                }
            });
        }
        pool.shutdown();
        pool.awaitTermination(Long.MAX_VALUE, TimeUnit.DAYS);
        long[] last = sample();
        synchronized (samples) {
            if (samples.size() > 1) {
                print(samples.getFirst(), last, true);
            }
        }
        System.out.printf("[Complete] Send Total: %d Send Failed: %d Response Failed: %d%n",
            sendOk.sum() + sendFailed.sum(), sendFailed.sum(), responseFailed.sum());
        producer.shutdown();
        timer.shutdownNow();
    }

    private static long[] sample() {
        return new long[] {System.currentTimeMillis(), sendOk.sum(), sendFailed.sum(),
            responseFailed.sum(), rtTotalMs.sum()};
    }

    private static void print(long[] begin, long[] end, boolean done) {
        long sent = end[1] - begin[1];
        long tps = (long) (sent / (double) (end[0] - begin[0]) * 1000L);
        double avgRt = (end[4] - begin[4]) / (double) sent;
        System.out.printf("%s Send TPS: %d Max RT(ms): %d Average RT(ms): %7.3f Send Failed: %d Response Failed: %d%n",
            done ? "[Complete]" : "Current Time: " + new SimpleDateFormat("yyyy-MM-dd HH:mm:ss,SSS").format(new Date()),
            tps, maxRtMs.get(), avgRt, end[2], end[3]);
    }

    private static String randomAlnum(int n) {
        String chars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
        Random r = new Random();
        StringBuilder sb = new StringBuilder(n);
        for (int i = 0; i < n; i++) {
            sb.append(chars.charAt(r.nextInt(chars.length())));
        }
        return sb.toString();
    }

    private static void sleep(long ms) {
        try {
            Thread.sleep(ms);
        } catch (InterruptedException ignored) {
            Thread.currentThread().interrupt();
        }
    }
}
