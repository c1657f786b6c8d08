package io.ferromq.interop;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import org.apache.rocketmq.client.consumer.DefaultMQPushConsumer;
import org.apache.rocketmq.client.producer.DefaultMQProducer;
import org.apache.rocketmq.client.producer.SendStatus;
import org.apache.rocketmq.common.message.Message;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

/**
 * ferromq's built-in Prometheus endpoint ({@code metricsPort}): after a real producer and push
 * consumer, the exporter-compatible offsets and ferromq's put/get totals for the topic and group
 * read N. ferromq-only (the Apache broker has no such endpoint).
 */
class MetricsTest {

    static final int N = 20;
    static final Duration TIMEOUT = Duration.ofSeconds(45);

    @Test
    void metricsEndpointCountsWhatARealProducerAndConsumerDid() throws Exception {
        int port;
        try (ServerSocket s = new ServerSocket(0)) {
            port = s.getLocalPort();
        }
        try (FerroMQ mq = FerroMQ.create("MetricsTest.metricsEndpoint")) {
            Assumptions.assumeTrue(mq.target() == FerroMQ.Target.FERROMQ,
                "ferromq-specific: the Apache broker has no built-in /metrics");
            mq.extraConfig("metricsPort", Integer.toString(port))
                .extraConfig("metricsListenAddress", "127.0.0.1")
                .start();
            String topic = mq.uniqueName("Metrics");
            String group = mq.uniqueName("MetricsCG");

            DefaultMQProducer producer = mq.startProducer();
            for (int i = 0; i < N; i++) {
                Message m = new Message(topic, "TagA", "k" + i, ("body-" + i).getBytes(UTF_8));
                assertEquals(SendStatus.SEND_OK, producer.send(m).getSendStatus());
            }

            DefaultMQPushConsumer consumer = mq.newPushConsumer(group);
            Inbox inbox = new Inbox();
            consumer.subscribe(topic, "*");
            consumer.registerMessageListener(inbox);
            consumer.start();
            inbox.awaitCount(N, TIMEOUT);
            Consumers.awaitCaughtUp(topic, TIMEOUT, consumer);

            HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
            HttpRequest req = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/metrics"))
                .timeout(Duration.ofSeconds(5)).GET().build();
            String t = "{cluster=\"" + FerroMQ.CLUSTER_NAME + "\",broker=\"" + FerroMQ.BROKER_NAME
                + "\",topic=\"" + topic + "\"";
            String tg = t + ",group=\"" + group + "\"";
            Map<String, String> expected = Map.of(
                "rocketmq_producer_offset" + t + "}", "producer offset (sum of queue max offsets)",
                "ferromq_topic_put_messages_total" + t + "}", "messages put to the topic",
                "rocketmq_consumer_offset" + tg + "}", "consumer offset (sum of committed offsets)",
                "ferromq_group_get_messages_total" + tg + "}", "messages the group pulled");
            String[] last = {""};
            // Offsets are committed by the client every 5 s: poll, bounded.
            Await.until("metrics to show " + N + " for " + topic + "/" + group, TIMEOUT, () -> {
                try {
                    HttpResponse<String> resp = http.send(req, HttpResponse.BodyHandlers.ofString());
                    last[0] = resp.statusCode() + " " + resp.headers().firstValue("Content-Type").orElse("") + "\n"
                        + resp.body();
                    if (resp.statusCode() != 200) {
                        return false;
                    }
                    return expected.keySet().stream().allMatch(k -> value(resp.body(), k) == N);
                } catch (Exception e) {
                    last[0] = e.toString();
                    return false;
                }
            }, () -> {
                StringBuilder sb = new StringBuilder();
                expected.forEach((k, what) -> sb.append(what).append(": ").append(value(last[0], k)).append('\n'));
                return sb.toString();
            });
            String body = last[0];
            assertTrue(body.startsWith("200 text/plain; version=0.0.4"), body.substring(0, Math.min(200, body.length())));
            assertEquals(0.0, value(body, "rocketmq_group_diff{group=\"" + group + "\",topic=\"" + topic + "\""),
                "no lag once consumed");
            assertTrue(value(body, "ferromq_request_duration_seconds_count{code=\"310\"}") >= N,
                "SEND_MESSAGE_V2 latency samples");
            assertTrue(value(body, "process_resident_memory_bytes") > 0, "RSS");
            // The standalone name server's usage against its bounds, on the same endpoint.
            assertEquals(1.0, value(body, "ferromq_namesrv_brokers "), "live brokers in the name server");
            assertEquals(4096.0, value(body, "ferromq_namesrv_brokers_max "), "namesrvMaxBrokers");
            assertTrue(value(body, "ferromq_namesrv_topic_routes ") >= 1, "routes, " + topic + "'s among them");
            assertEquals(1.0, value(body, "ferromq_namesrv_clusters "), "clusters");
        }
    }

    /** The value of the first sample whose line starts with {@code prefix}, or NaN. */
    static double value(String text, String prefix) {
        for (String line : text.split("\n")) {
            if (line.startsWith(prefix)) {
                Matcher m = Pattern.compile(" (\\S+)$").matcher(line);
                if (m.find()) {
                    return Double.parseDouble(m.group(1));
                }
            }
        }
        return Double.NaN;
    }
}
