package io.ferromq.interop;

import static org.junit.jupiter.api.Assertions.fail;

import java.io.BufferedReader;
import java.io.BufferedWriter;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.time.LocalTime;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Comparator;
import java.util.Deque;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Consumer;
import java.util.function.Predicate;
import java.util.stream.Collectors;
import java.util.stream.Stream;

import org.apache.rocketmq.client.consumer.DefaultMQPullConsumer;
import org.apache.rocketmq.client.consumer.DefaultMQPushConsumer;
import org.apache.rocketmq.client.exception.MQClientException;
import org.apache.rocketmq.client.producer.DefaultMQProducer;
import org.apache.rocketmq.client.producer.TransactionListener;
import org.apache.rocketmq.client.producer.TransactionMQProducer;
import org.apache.rocketmq.common.consumer.ConsumeFromWhere;

/**
 * A running message-queue server for one test: by default a real {@code ferromq standalone}
 * process (name server + broker in one process); with {@code -Dinterop.target=apache}, Apache
 * RocketMQ 4.9.7's own name server and broker, to validate the tests themselves.
 *
 * <p>Lifecycle: {@link #create(String)}, optionally {@link #extraConfig(String, String)}, then
 * {@link #start()}; {@link #restart()} stops and starts again on the same store and ports;
 * {@link #close()} shuts down every client made through this object, then the server.
 *
 * <p>Everything the server prints goes to {@code target/interop-logs/<test id>/}; see
 * {@link #logTail(int)}.
 */
public final class FerroMQ implements AutoCloseable {

    public enum Target { FERROMQ, APACHE }

    public static final String BROKER_NAME = "broker-a";
    public static final String CLUSTER_NAME = "DefaultCluster";

    private static final Duration FERROMQ_BOOT_TIMEOUT = Duration.ofSeconds(20);
    private static final Duration APACHE_BOOT_TIMEOUT = Duration.ofSeconds(60);
    private static final Duration STOP_TIMEOUT = Duration.ofSeconds(15);
    private static final AtomicInteger CLIENT_SEQ = new AtomicInteger();
    private static final AtomicInteger NAME_SEQ = new AtomicInteger();
    /** Every live server process, killed by a JVM shutdown hook if a test run is aborted. */
    private static final Set<Process> LIVE = ConcurrentHashMap.newKeySet();

    static {
        Runtime.getRuntime().addShutdownHook(new Thread(() -> LIVE.forEach(Process::destroyForcibly),
            "ferromq-interop-reaper"));
    }

    private final String id;
    private final Target target;
    private final Path workDir;
    private final Path logDir;
    private final Map<String, String> extraConfig = new LinkedHashMap<>();
    private final Map<String, String> serverProperties = new LinkedHashMap<>();
    private final Deque<AutoCloseable> clients = new ArrayDeque<>();
    private final List<ServerProcess> processes = new ArrayList<>();
    private int namesrvPort;
    private int brokerPort;
    private int starts;
    private boolean keepWorkDir;
    private String aclYaml;

    private FerroMQ(String id) {
        this.id = sanitize(id);
        this.target = "apache".equalsIgnoreCase(System.getProperty("interop.target", "ferromq").trim())
            ? Target.APACHE : Target.FERROMQ;
        Path build = Paths.get(System.getProperty("interop.repoRoot", "..")).toAbsolutePath().normalize()
            .resolve("java-interop").resolve("target");
        this.logDir = Paths.get(System.getProperty("interop.logDir", build.resolve("interop-logs").toString()))
            .resolve(this.id);
        this.workDir = build.resolve("interop-work").resolve(this.id);
    }

    /** A not yet started server; {@code id} names its log and work directories (e.g. "Class.method"). */
    public static FerroMQ create(String id) {
        return new FerroMQ(id);
    }

    /** Adds a broker.conf key (e.g. {@code autoCreateTopicEnable=false}); call before {@link #start()}. */
    public FerroMQ extraConfig(String key, String value) {
        if (starts > 0) {
            throw new IllegalStateException("extraConfig must be set before start()");
        }
        extraConfig.put(key, value);
        return this;
    }

    /**
     * A server-wide setting that Apache RocketMQ reads as a JVM system property (e.g.
     * {@code tls.server.mode}): for ferromq it goes to broker.conf (which the standalone name
     * server reads too), for Apache to {@code -Dkey=value} on both the name server and broker
     * JVMs. Call before {@link #start()}.
     */
    public FerroMQ serverProperty(String key, String value) {
        if (starts > 0) {
            throw new IllegalStateException("serverProperty must be set before start()");
        }
        serverProperties.put(key, value);
        return this;
    }

    public Target target() {
        return target;
    }

    /** "ferromq" or "apache" — for messages. */
    public String targetName() {
        return target == Target.APACHE ? "Apache RocketMQ broker" : "ferromq";
    }

    public String namesrvAddr() {
        return "127.0.0.1:" + namesrvPort;
    }

    public String brokerAddr() {
        return "127.0.0.1:" + brokerPort;
    }

    public int brokerPort() {
        return brokerPort;
    }

    public Path storeDir() {
        return workDir.resolve("store");
    }

    public Path logDir() {
        return logDir;
    }

    /** Keep the store and config after close (set on test failure, for post-mortems). */
    public void keepWorkDir() {
        keepWorkDir = true;
    }

    // ------------------------------------------------------------------------------------------
    // Server lifecycle
    // ------------------------------------------------------------------------------------------

    public FerroMQ start() throws IOException {
        if (!processes.isEmpty()) {
            throw new IllegalStateException("already running");
        }
        if (starts == 0) {
            deleteRecursively(workDir);
            deleteRecursively(logDir);
            Files.createDirectories(workDir);
            Files.createDirectories(logDir);
            int[] ports = pickPorts();
            namesrvPort = ports[0];
            brokerPort = ports[1];
        }
        starts++;
        if (starts == 1 && aclYaml != null) {
            writeAclFile(aclYaml);
        }
        note("starting " + targetName() + " (start #" + starts + "): name server " + namesrvAddr()
            + ", broker " + brokerAddr() + ", work dir " + workDir);
        if (target == Target.APACHE) {
            startApache();
        } else {
            startFerromq();
        }
        return this;
    }

    /** Graceful stop then start on the same store directory and ports. Clients are left alone. */
    public void restart() throws IOException {
        stopServers();
        start();
    }

    /** Graceful stop (SIGTERM, then wait; SIGKILL after {@value #STOP_TIMEOUT_S} s). */
    public void stopServers() {
        // Stop in reverse start order: the Apache broker before its name server.
        for (int i = processes.size() - 1; i >= 0; i--) {
            processes.get(i).stop();
        }
        processes.clear();
    }

    private static final int STOP_TIMEOUT_S = 15;

    /** Non-null if a server process died without being asked to (a crash): what happened. */
    public String unexpectedExit() {
        for (ServerProcess p : processes) {
            if (!p.process.isAlive()) {
                return p.name + " exited unexpectedly with code " + p.process.exitValue()
                    + " (log: " + p.log + ")";
            }
        }
        return null;
    }

    @Override
    public void close() {
        while (!clients.isEmpty()) {
            AutoCloseable c = clients.pop();
            try {
                c.close();
            } catch (Throwable t) {
                note("client shutdown failed: " + t);
            }
        }
        stopServers();
        if (!keepWorkDir) {
            try {
                deleteRecursively(workDir);
            } catch (IOException e) {
                note("could not delete " + workDir + ": " + e);
            }
        }
    }

    private void startFerromq() throws IOException {
        Path bin = ferromqBinary();
        if (!Files.isExecutable(bin)) {
            fail("ferromq binary not found or not executable: " + bin
                + " (build it with `cargo build --release` in the repo root, or pass -Dferromq.bin=/path/to/ferromq;"
                + " -Dinterop.target=apache runs the suite against Apache RocketMQ instead)");
        }
        Path conf = writeBrokerConf();
        List<String> cmd = List.of(bin.toString(), "standalone", "-c", conf.toString(),
            "--namesrv-port", Integer.toString(namesrvPort));
        ProcessBuilder pb = new ProcessBuilder(cmd).directory(workDir.toFile());
        pb.environment().putIfAbsent("RUST_BACKTRACE", "1");
        String rustLog = System.getProperty("ferromq.rustLog", "");
        if (!rustLog.isEmpty()) {
            pb.environment().put("RUST_LOG", rustLog);
        }
        ServerProcess p = ServerProcess.launch("ferromq", pb, logDir.resolve("ferromq.log"),
            line -> line.startsWith("The broker[") && line.contains("boot success"));
        processes.add(p);
        p.awaitReady(FERROMQ_BOOT_TIMEOUT);
    }

    static Path ferromqBinary() {
        String configured = System.getProperty("ferromq.bin", "").trim();
        if (!configured.isEmpty()) {
            return Paths.get(configured).toAbsolutePath();
        }
        return Paths.get(System.getProperty("interop.repoRoot", "..")).toAbsolutePath().normalize()
            .resolve("target").resolve("release").resolve("ferromq");
    }

    private Path writeBrokerConf() throws IOException {
        Map<String, String> conf = new LinkedHashMap<>();
        conf.put("brokerClusterName", CLUSTER_NAME);
        conf.put("brokerName", BROKER_NAME);
        conf.put("brokerId", "0");
        conf.put("brokerIP1", "127.0.0.1");
        conf.put("listenPort", Integer.toString(brokerPort));
        conf.put("storePathRootDir", storeDir().toString());
        conf.put("namesrvAddr", namesrvAddr());
        conf.putAll(extraConfig);
        if (target == Target.FERROMQ) {
            conf.putAll(serverProperties);
        }
        StringBuilder sb = new StringBuilder("# written by the ferromq java-interop harness for ")
            .append(id).append('\n');
        conf.forEach((k, v) -> sb.append(k).append('=').append(v).append('\n'));
        Path file = workDir.resolve("broker.conf");
        Files.write(file, sb.toString().getBytes(StandardCharsets.UTF_8));
        return file;
    }

    // --- ACL (aclEnable) ---------------------------------------------------------------------

    /**
     * Turns the broker's ACL on ({@code aclEnable=true}) with {@code yaml} as
     * {@code <rocketmq home>/conf/plain_acl.yml}, written at start for either target (Apache reads
     * ROCKETMQ_HOME, ferromq gets the same directory as {@code rocketmqHome}). Call before start().
     */
    public FerroMQ aclConfig(String yaml) {
        extraConfig("aclEnable", "true");
        if (target == Target.FERROMQ) {
            extraConfig("rocketmqHome", rocketmqHome().toString());
        }
        aclYaml = yaml;
        return this;
    }

    /** The ROCKETMQ_HOME of the servers: its conf/ holds plain_acl.yml. */
    public Path rocketmqHome() {
        return workDir.resolve("rocketmq-home");
    }

    public Path aclFile() {
        return rocketmqHome().resolve("conf").resolve("plain_acl.yml");
    }

    /** Replaces plain_acl.yml (written beside it, then renamed, as an editor saving it would). */
    public void writeAclFile(String yaml) throws IOException {
        Path file = aclFile();
        Files.createDirectories(file.getParent());
        Path tmp = file.resolveSibling("plain_acl.yml.writing");
        Files.write(tmp, yaml.getBytes(StandardCharsets.UTF_8));
        Files.move(tmp, file, java.nio.file.StandardCopyOption.REPLACE_EXISTING,
            java.nio.file.StandardCopyOption.ATOMIC_MOVE);
    }

    // --- Apache RocketMQ 4.9.7 (validation mode) -----------------------------------------------

    private void startApache() throws IOException {
        String classpath = apacheClasspath();
        Path home = workDir.resolve("rocketmq-home");
        Files.createDirectories(home.resolve("conf"));
        // Minimal logback configs of our own (the distribution's are not on the classpath);
        // each server logs to a file in the test's log directory.
        for (String server : List.of("namesrv", "broker")) {
            String xml = "<configuration>\n"
                + "  <appender name=\"FILE\" class=\"ch.qos.logback.core.FileAppender\">\n"
                + "    <file>${interop.serverLog}</file>\n"
                + "    <encoder><pattern>%d{HH:mm:ss.SSS} %-5level [%thread] %logger{24} - %msg%n</pattern></encoder>\n"
                + "  </appender>\n"
                + "  <root level=\"INFO\"><appender-ref ref=\"FILE\"/></root>\n"
                + "</configuration>\n";
            Files.write(home.resolve("conf").resolve("logback_" + server + ".xml"),
                xml.getBytes(StandardCharsets.UTF_8));
        }
        Path nsConf = workDir.resolve("namesrv.conf");
        Files.write(nsConf, ("listenPort=" + namesrvPort + "\n"
            + "kvConfigPath=" + workDir.resolve("namesrv").resolve("kvConfig.json") + "\n")
            .getBytes(StandardCharsets.UTF_8));
        Path brokerConf = writeBrokerConf();

        ServerProcess ns = ServerProcess.launch("apache-namesrv",
            apacheJava(home, classpath, "256m", logDir.resolve("namesrv-logback.log"),
                "org.apache.rocketmq.namesrv.NamesrvStartup", "-c", nsConf.toString()),
            logDir.resolve("namesrv.log"), line -> line.contains("The Name Server boot success"));
        processes.add(ns);
        ns.awaitReady(APACHE_BOOT_TIMEOUT);

        ServerProcess broker = ServerProcess.launch("apache-broker",
            apacheJava(home, classpath, "512m", logDir.resolve("broker-logback.log"),
                "org.apache.rocketmq.broker.BrokerStartup", "-c", brokerConf.toString(), "-n", namesrvAddr()),
            logDir.resolve("broker.log"), line -> line.startsWith("The broker[") && line.contains("boot success"));
        processes.add(broker);
        broker.awaitReady(APACHE_BOOT_TIMEOUT);
    }

    private ProcessBuilder apacheJava(Path home, String classpath, String heap, Path serverLog,
                                      String mainClass, String... args) {
        List<String> cmd = new ArrayList<>(List.of(
            Paths.get(System.getProperty("java.home"), "bin", "java").toString(),
            "-Xms64m", "-Xmx" + heap, "-XX:MaxDirectMemorySize=512m", "-XX:+UseSerialGC",
            "-XX:TieredStopAtLevel=1",
            // Java 17: the store unmaps files via DirectByteBuffer.cleaner() reflection; without
            // these the broker's shutdown hook throws before persisting consumer offsets.
            "--add-opens", "java.base/java.nio=ALL-UNNAMED",
            "--add-opens", "java.base/sun.nio.ch=ALL-UNNAMED",
            "--add-opens", "java.base/jdk.internal.ref=ALL-UNNAMED",
            "--add-opens", "java.base/java.lang=ALL-UNNAMED",
            "-Duser.home=" + home,
            "-Drocketmq.home.dir=" + home,
            "-Dinterop.serverLog=" + serverLog));
        serverProperties.forEach((k, v) -> cmd.add("-D" + k + "=" + v));
        cmd.addAll(List.of("-cp", classpath, mainClass));
        cmd.addAll(List.of(args));
        ProcessBuilder pb = new ProcessBuilder(cmd).directory(workDir.toFile());
        pb.environment().put("ROCKETMQ_HOME", home.toString());
        return pb;
    }

    private static String apacheClasspath() throws IOException {
        String file = System.getProperty("interop.apache.classpathFile", "");
        Path path = file.isEmpty() ? null : Paths.get(file);
        if (path == null || !Files.isRegularFile(path)) {
            fail("Apache broker classpath file not found (" + file + "); run through Maven with"
                + " -Dinterop.target=apache so the 'apache' profile writes it");
        }
        return new String(Files.readAllBytes(path), StandardCharsets.UTF_8).trim();
    }

    // ------------------------------------------------------------------------------------------
    // Clients (shut down automatically by close(), before the server stops)
    // ------------------------------------------------------------------------------------------

    /** A topic / group name unique to this test run: {@code <prefix>_<n>_<random>}. */
    public String uniqueName(String prefix) {
        return prefix + "_" + NAME_SEQ.incrementAndGet() + "_"
            + Long.toString(ThreadLocalRandom.current().nextLong(1L << 40), 36);
    }

    private static String uniqueInstanceName() {
        return "interop-" + ProcessHandle.current().pid() + "-" + CLIENT_SEQ.incrementAndGet();
    }

    /** A started producer in a fresh group with its own client instance. */
    public DefaultMQProducer startProducer() throws MQClientException {
        return startProducer(p -> { });
    }

    /** Like {@link #startProducer()}, with {@code config} applied before start(). */
    public DefaultMQProducer startProducer(Consumer<DefaultMQProducer> config) throws MQClientException {
        DefaultMQProducer producer = new DefaultMQProducer(uniqueName("PG"));
        producer.setNamesrvAddr(namesrvAddr());
        producer.setInstanceName(uniqueInstanceName());
        // Client 4.3.0 (only that release; reverted in 4.3.1) asks for auto-created topics under
        // the key topic "AUTO_CREATE_TOPIC_KEY", which brokers since 4.3.1 (Apache 4.9.7
        // included) do not have: they use "TBW102". Users of 4.3.0 set createTopicKey to
        // TBW102; -Dinterop.createTopicKey= (empty) keeps the client's own default instead.
        String createTopicKey = System.getProperty("interop.createTopicKey", "TBW102");
        if (!createTopicKey.isEmpty()) {
            producer.setCreateTopicKey(createTopicKey);
        }
        config.accept(producer);
        producer.start();
        clients.push(producer::shutdown);
        return producer;
    }

    /**
     * A started transactional producer in {@code group} (several instances may share a group),
     * with its own client instance and the same createTopicKey handling as {@link #startProducer()}.
     */
    public TransactionMQProducer startTransactionProducer(String group, TransactionListener listener)
        throws MQClientException {
        TransactionMQProducer producer = new TransactionMQProducer(group);
        producer.setNamesrvAddr(namesrvAddr());
        producer.setInstanceName(uniqueInstanceName());
        String createTopicKey = System.getProperty("interop.createTopicKey", "TBW102");
        if (!createTopicKey.isEmpty()) {
            producer.setCreateTopicKey(createTopicKey);
        }
        producer.setTransactionListener(listener);
        producer.start();
        clients.push(producer::shutdown);
        return producer;
    }

    /**
     * Registers something (typically a client created by the test itself, such as a client class
     * that only some client versions have) to be closed by {@link #close()}, before the server stops.
     */
    public void onClose(AutoCloseable closer) {
        clients.push(closer);
    }

    /** A client instance name not used by any other client of this JVM. */
    public String newInstanceName() {
        return uniqueInstanceName();
    }

    /**
     * A push consumer in {@code group} (not started: subscribe, register a listener, then
     * start()), consuming from the first offset, with its own client instance.
     */
    public DefaultMQPushConsumer newPushConsumer(String group) {
        DefaultMQPushConsumer consumer = new DefaultMQPushConsumer(group);
        consumer.setNamesrvAddr(namesrvAddr());
        consumer.setInstanceName(uniqueInstanceName());
        consumer.setConsumeFromWhere(ConsumeFromWhere.CONSUME_FROM_FIRST_OFFSET);
        clients.push(consumer::shutdown);
        return consumer;
    }

    /** A started pull consumer in a fresh group. */
    public DefaultMQPullConsumer startPullConsumer() throws MQClientException {
        return startPullConsumer(uniqueName("PULLG"));
    }

    /** A started pull consumer in {@code group}, with its own client instance. */
    @SuppressWarnings("deprecation")
    public DefaultMQPullConsumer startPullConsumer(String group) throws MQClientException {
        DefaultMQPullConsumer consumer = new DefaultMQPullConsumer(group);
        consumer.setNamesrvAddr(namesrvAddr());
        consumer.setInstanceName(uniqueInstanceName());
        consumer.start();
        clients.push(consumer::shutdown);
        return consumer;
    }

    // ------------------------------------------------------------------------------------------
    // Logs
    // ------------------------------------------------------------------------------------------

    /** The last {@code lines} lines of every log this server wrote, with headers. */
    public String logTail(int lines) {
        StringBuilder sb = new StringBuilder();
        try (Stream<Path> files = Files.exists(logDir) ? Files.list(logDir) : Stream.empty()) {
            List<Path> list = files.sorted().collect(Collectors.toList());
            if (list.isEmpty()) {
                sb.append("(no server logs: the server was never started)\n");
            }
            for (Path f : list) {
                sb.append("----- last ").append(lines).append(" lines of ").append(f).append(" -----\n");
                sb.append(tail(f, lines));
            }
        } catch (IOException e) {
            sb.append("(could not read logs in ").append(logDir).append(": ").append(e).append(")\n");
        }
        return sb.toString();
    }

    static String tail(Path file, int lines) {
        try {
            List<String> all = Files.readAllLines(file, StandardCharsets.UTF_8);
            return all.subList(Math.max(0, all.size() - lines), all.size()).stream()
                .map(l -> l.length() > 2000 ? l.substring(0, 2000) + " ...[truncated]" : l)
                .collect(Collectors.joining("\n", "", all.isEmpty() ? "" : "\n"));
        } catch (IOException | UncheckedIOException e) {
            return "(could not read " + file + ": " + e + ")\n";
        }
    }

    void note(String msg) {
        System.out.println("[interop " + LocalTime.now() + "] " + id + ": " + msg);
    }

    // ------------------------------------------------------------------------------------------
    // Helpers
    // ------------------------------------------------------------------------------------------

    /**
     * Picks a free name-server port N and broker port B such that B, B-2 (the "fast"/VIP port)
     * and B+1 (Apache's HA port) are free. Ports come from below Linux's default ephemeral range
     * so that a client's outgoing connection cannot grab one while the server is restarting.
     */
    static int[] pickPorts() {
        ThreadLocalRandom rnd = ThreadLocalRandom.current();
        for (int attempt = 0; attempt < 500; attempt++) {
            int b = 20000 + rnd.nextInt(12000);
            int n = 20000 + rnd.nextInt(12000);
            if (Math.abs(n - b) <= 3) {
                continue;
            }
            if (isFree(b) && isFree(b - 2) && isFree(b + 1) && isFree(n)) {
                return new int[] {n, b};
            }
        }
        throw new IllegalStateException("could not find free ports");
    }

    private static boolean isFree(int port) {
        for (InetAddress addr : new InetAddress[] {null, InetAddress.getLoopbackAddress()}) {
            try (ServerSocket s = new ServerSocket()) {
                s.setReuseAddress(false);
                s.bind(addr == null ? new InetSocketAddress(port) : new InetSocketAddress(addr, port));
            } catch (IOException e) {
                return false;
            }
        }
        return true;
    }

    private static String sanitize(String s) {
        return s.replaceAll("[^A-Za-z0-9_.-]", "_");
    }

    static void deleteRecursively(Path dir) throws IOException {
        if (!Files.exists(dir)) {
            return;
        }
        try (Stream<Path> walk = Files.walk(dir)) {
            for (Path p : walk.sorted(Comparator.reverseOrder()).collect(Collectors.toList())) {
                Files.deleteIfExists(p);
            }
        }
    }

    /** One server OS process whose merged stdout/stderr is drained to a log file. */
    private static final class ServerProcess {
        final String name;
        final Process process;
        final Path log;
        final CompletableFuture<String> ready = new CompletableFuture<>();
        final Thread drainer;

        private ServerProcess(String name, Process process, Path log, Predicate<String> readyLine) {
            this.name = name;
            this.process = process;
            this.log = log;
            this.drainer = new Thread(() -> drain(readyLine), "drain-" + name + "-" + process.pid());
            this.drainer.setDaemon(true);
            this.drainer.start();
        }

        static ServerProcess launch(String name, ProcessBuilder pb, Path log, Predicate<String> readyLine)
            throws IOException {
            pb.redirectErrorStream(true);
            pb.redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null")));
            Files.createDirectories(log.getParent());
            Files.write(log, ("===== " + LocalTime.now() + " starting: " + String.join(" ", abbreviate(pb.command()))
                + "\n").getBytes(StandardCharsets.UTF_8), StandardOpenOption.CREATE, StandardOpenOption.APPEND);
            Process process = pb.start();
            LIVE.add(process);
            return new ServerProcess(name, process, log, readyLine);
        }

        private static List<String> abbreviate(List<String> cmd) {
            List<String> out = new ArrayList<>();
            for (String s : cmd) {
                out.add(s.length() > 300 ? s.substring(0, 120) + "...(" + s.length() + " chars)" : s);
            }
            return out;
        }

        private void drain(Predicate<String> readyLine) {
            try (BufferedReader in = new BufferedReader(new InputStreamReader(process.getInputStream(),
                StandardCharsets.UTF_8));
                 BufferedWriter out = Files.newBufferedWriter(log, StandardCharsets.UTF_8,
                     StandardOpenOption.CREATE, StandardOpenOption.APPEND)) {
                String line;
                while ((line = in.readLine()) != null) {
                    out.write(line);
                    out.write('\n');
                    out.flush();
                    if (!ready.isDone() && readyLine.test(stripAnsi(line))) {
                        ready.complete(line);
                    }
                }
            } catch (IOException e) {
                // the process went away; fall through
            }
            try {
                process.waitFor(STOP_TIMEOUT_S, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            ready.completeExceptionally(new IllegalStateException(name + " exited"
                + (process.isAlive() ? "" : " with code " + process.exitValue())
                + " before printing its boot-success line"));
        }

        private static String stripAnsi(String s) {
            return s.replaceAll("\u001B\\[[;\\d]*m", "");
        }

        void awaitReady(Duration timeout) {
            try {
                ready.get(timeout.toMillis(), TimeUnit.MILLISECONDS);
            } catch (TimeoutException e) {
                stop();
                fail(name + " did not print its boot-success line (\"The broker[...] boot success\") within "
                    + timeout.getSeconds() + " s\n" + tail(log, 60));
            } catch (ExecutionException e) {
                stop();
                fail(e.getCause().getMessage() + "\n" + tail(log, 60));
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                stop();
                fail("interrupted while waiting for " + name + " to boot");
            }
        }

        void stop() {
            if (process.isAlive()) {
                process.destroy(); // SIGTERM: graceful shutdown
                try {
                    if (!process.waitFor(STOP_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS)) {
                        System.out.println("[interop] " + name + " did not exit within " + STOP_TIMEOUT_S
                            + " s of SIGTERM; killing it");
                        process.destroyForcibly();
                        process.waitFor(10, TimeUnit.SECONDS);
                    }
                } catch (InterruptedException e) {
                    process.destroyForcibly();
                    Thread.currentThread().interrupt();
                }
            }
            try {
                drainer.join(5000);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            LIVE.remove(process);
            try {
                Files.write(log, ("===== " + LocalTime.now() + " " + name + " stopped"
                    + (process.isAlive() ? " (still alive!)" : ", exit code " + process.exitValue()) + "\n")
                    .getBytes(StandardCharsets.UTF_8), StandardOpenOption.CREATE, StandardOpenOption.APPEND);
            } catch (IOException ignored) {
                // best effort
            }
        }
    }

    /** Sorted copy, for messages. */
    static <T extends Comparable<T>> List<T> sorted(java.util.Collection<T> c) {
        List<T> l = new ArrayList<>(c);
        Collections.sort(l);
        return l;
    }
}
