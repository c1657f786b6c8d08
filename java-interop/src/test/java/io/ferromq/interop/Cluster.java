package io.ferromq.interop;

import static org.junit.jupiter.api.Assertions.fail;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;
import org.apache.rocketmq.client.producer.DefaultMQProducer;

/**
 * A master/slave pair in separate processes, one side Apache RocketMQ 4.9.7 and the other
 * ferromq: an Apache name server and master (brokerName broker-a, brokerId 0, HA on
 * listenPort + 1 as Java always uses) with a ferromq slave (brokerId 1), or a ferromq
 * standalone master (name server included) with an Apache slave.
 *
 * <p>Apache's broker classpath comes from the {@code apache} Maven profile; without it (a plain
 * ferromq run) tests using this class are skipped:
 * {@code mvn -f java-interop/pom.xml verify -Dinterop.target=apache -Dtest=ReplicationTest}.
 */
final class Cluster implements AutoCloseable {
    /** Commit log file size on both sides (a slave must use its master's). */
    static final long COMMIT_LOG_FILE_SIZE = 8L << 20;
    private static final Duration BOOT_TIMEOUT = Duration.ofSeconds(90);

    final Path workDir;
    final int namesrvPort;
    final int masterPort;
    final int slavePort;
    /** A fourth broker's port (a second group's master, broker-b). */
    final int otherPort;
    private final String classpath;
    private final List<Proc> procs = new ArrayList<>();

    Cluster(String name) throws IOException {
        this(name, true);
    }

    /**
     * Whether the name server routes {@code topic} to a master (brokerId 0), as the producer's
     * client sees it: after a master is killed or started, sends wait for this.
     */
    static boolean routesToMaster(DefaultMQProducer producer, String topic) {
        try {
            return producer.getDefaultMQProducerImpl().getmQClientFactory().getMQClientAPIImpl()
                .getTopicRouteInfoFromNameServer(topic, 3000).getBrokerDatas().stream()
                .anyMatch(b -> b.getBrokerAddrs().containsKey(0L));
        } catch (Exception e) {
            return false;
        }
    }

    /** Processes for ferromq only (no Apache classpath needed): runs in the normal suite. */
    static Cluster ferromqOnly(String name) throws IOException {
        return new Cluster(name, false);
    }

    private Cluster(String name, boolean apache) throws IOException {
        if (apache) {
            String file = System.getProperty("interop.apache.classpathFile", "");
            assumeTrue(!file.isEmpty() && Files.isRegularFile(Paths.get(file)),
                "needs Apache's broker classpath: run with -Dinterop.target=apache");
            classpath = new String(Files.readAllBytes(Paths.get(file)), StandardCharsets.UTF_8).trim();
        } else {
            classpath = null;
        }
        workDir = Paths.get("target", "interop-work", "Cluster-" + name).toAbsolutePath();
        FerroMQ.deleteRecursively(workDir);
        Files.createDirectories(workDir);
        int[] a = FerroMQ.pickPorts();
        int[] b;
        do {
            b = FerroMQ.pickPorts();
        } while (Math.abs(b[1] - a[1]) <= 3 || Math.abs(b[1] - a[0]) <= 3);
        int[] d;
        do {
            d = FerroMQ.pickPorts();
        } while (Math.abs(d[1] - a[1]) <= 3 || Math.abs(d[1] - a[0]) <= 3 || Math.abs(d[1] - b[1]) <= 3);
        namesrvPort = a[0];
        masterPort = a[1];
        slavePort = b[1];
        otherPort = d[1];
    }

    String namesrvAddr() {
        return "127.0.0.1:" + namesrvPort;
    }

    String masterAddr() {
        return "127.0.0.1:" + masterPort;
    }

    String slaveAddr() {
        return "127.0.0.1:" + slavePort;
    }

    Path masterCommitLog() {
        return workDir.resolve("master").resolve("store").resolve("commitlog");
    }

    Path slaveCommitLog() {
        return workDir.resolve("slave").resolve("store").resolve("commitlog");
    }

    private String common(String role, int port, String dir, int brokerId) {
        return "brokerClusterName=DefaultCluster\n"
            + "brokerName=broker-a\n"
            + "brokerId=" + brokerId + "\n"
            + "brokerRole=" + role + "\n"
            + "brokerIP1=127.0.0.1\n"
            + "brokerIP2=127.0.0.1\n"
            + "listenPort=" + port + "\n"
            + "namesrvAddr=" + namesrvAddr() + "\n"
            + "storePathRootDir=" + workDir.resolve(dir).resolve("store") + "\n"
            + "mappedFileSizeCommitLog=" + COMMIT_LOG_FILE_SIZE + "\n";
    }

    /** Apache's name server and an ASYNC_MASTER (or SYNC_MASTER) broker. */
    void startApacheMaster(String role) throws IOException {
        startApacheNamesrv();
        startApacheBroker(role, "");
    }

    /** Apache's name server alone, on {@link #namesrvPort}. */
    void startApacheNamesrv() throws IOException {
        Path home = apacheHome();
        Path nsConf = workDir.resolve("namesrv.conf");
        Files.write(nsConf, ("listenPort=" + namesrvPort + "\nkvConfigPath="
            + workDir.resolve("namesrv").resolve("kvConfig.json") + "\n").getBytes(StandardCharsets.UTF_8));
        launch("apache-namesrv", java(home, "256m", "namesrv-logback.log",
            "org.apache.rocketmq.namesrv.NamesrvStartup", "-c", nsConf.toString()),
            line -> line.contains("The Name Server boot success"));
    }

    /** ferromq's name server alone ({@code ferromq namesrv}), on {@link #namesrvPort}. */
    void startFerromqNamesrv() throws IOException {
        Path nsConf = workDir.resolve("namesrv.conf");
        Files.write(nsConf, ("listenPort=" + namesrvPort + "\nkvConfigPath="
            + workDir.resolve("namesrv").resolve("kvConfig.json") + "\n").getBytes(StandardCharsets.UTF_8));
        ProcessBuilder pb = new ProcessBuilder(FerroMQ.ferromqBinary().toString(), "namesrv", "-c", nsConf.toString())
            .directory(workDir.toFile());
        pb.environment().put("RUST_LOG", System.getProperty("ferromq.rustLog", "info"));
        launch("ferromq-namesrv", pb, line -> line.contains("The Name Server boot success"));
    }

    /** Apache's broker-a master (brokerId 0) on {@link #masterPort}, {@code extra} config lines appended. */
    void startApacheBroker(String role, String extra) throws IOException {
        Path brokerConf = workDir.resolve("master.conf");
        Files.write(brokerConf, (common(role, masterPort, "master", 0) + extra).getBytes(StandardCharsets.UTF_8));
        launch("apache-master", java(apacheHome(), "512m", "broker-logback.log",
            "org.apache.rocketmq.broker.BrokerStartup", "-c", brokerConf.toString()),
            line -> line.startsWith("The broker[") && line.contains("boot success"));
    }

    /**
     * A ferromq broker ({@code ferromq broker}) registered with {@link #namesrvAddr()}: its
     * config lines ({@code brokerName}, {@code brokerId}, {@code brokerRole}, ports, ...) are
     * {@link #brokerConf}'s; the process is known as {@code name} (for {@link #kill}).
     */
    void startFerromqBroker(String name, String conf) throws IOException {
        Path file = workDir.resolve(name + ".conf");
        Files.write(file, conf.getBytes(StandardCharsets.UTF_8));
        ProcessBuilder pb = new ProcessBuilder(FerroMQ.ferromqBinary().toString(), "broker", "-c", file.toString())
            .directory(workDir.toFile());
        pb.environment().put("RUST_LOG", System.getProperty("ferromq.rustLog", "info"));
        launch(name, pb, line -> line.startsWith("The broker[") && line.contains("boot success"));
    }

    /** Config lines of a broker of this cluster; its store is {@code workDir/<dir>/store}. */
    String brokerConf(String brokerName, int brokerId, String role, int port, String dir) {
        return common(role, port, dir, brokerId).replace("brokerName=broker-a\n", "brokerName=" + brokerName + "\n");
    }

    /** A ferromq master with its own name server (standalone). */
    void startFerromqMaster(String role) throws IOException {
        Path conf = workDir.resolve("master.conf");
        Files.write(conf, common(role, masterPort, "master", 0).getBytes(StandardCharsets.UTF_8));
        ProcessBuilder pb = new ProcessBuilder(FerroMQ.ferromqBinary().toString(), "standalone", "-c", conf.toString(),
            "--namesrv-port", String.valueOf(namesrvPort)).directory(workDir.toFile());
        pb.environment().put("RUST_LOG", System.getProperty("ferromq.rustLog", "info"));
        launch("ferromq-master", pb, line -> line.startsWith("The broker[") && line.contains("boot success"));
    }

    /** Apache's broker as slave (brokerId 1) of the master, found through the name server. */
    void startApacheSlave() throws IOException {
        Path conf = workDir.resolve("slave.conf");
        Files.write(conf, common("SLAVE", slavePort, "slave", 1).getBytes(StandardCharsets.UTF_8));
        launch("apache-slave", java(apacheHome(), "512m", "slave-logback.log",
            "org.apache.rocketmq.broker.BrokerStartup", "-c", conf.toString()),
            line -> line.startsWith("The broker[") && line.contains("boot success"));
    }

    private Path apacheHome() throws IOException {
        Path home = workDir.resolve("rocketmq-home");
        Files.createDirectories(home.resolve("conf"));
        for (String server : List.of("namesrv", "broker")) {
            String xml = "<configuration>\n"
                + "  <appender name=\"FILE\" class=\"ch.qos.logback.core.FileAppender\">\n"
                + "    <file>${interop.serverLog}</file>\n"
                + "    <encoder><pattern>%d{HH:mm:ss.SSS} %-5level [%thread] %logger{24} - %msg%n</pattern></encoder>\n"
                + "  </appender>\n"
                + "  <root level=\"INFO\"><appender-ref ref=\"FILE\"/></root>\n"
                + "</configuration>\n";
            Files.write(home.resolve("conf").resolve("logback_" + server + ".xml"), xml.getBytes(StandardCharsets.UTF_8));
        }
        return home;
    }

    /** The ferromq slave (brokerId 1); it finds the master through the name server. */
    void startFerromqSlave() throws IOException {
        Path conf = workDir.resolve("slave.conf");
        Files.write(conf, common("SLAVE", slavePort, "slave", 1).getBytes(StandardCharsets.UTF_8));
        ProcessBuilder pb = new ProcessBuilder(FerroMQ.ferromqBinary().toString(), "broker", "-c", conf.toString())
            .directory(workDir.toFile());
        pb.environment().put("RUST_LOG", System.getProperty("ferromq.rustLog", "info"));
        launch("ferromq-slave", pb, line -> line.startsWith("The broker[") && line.contains("boot success"));
    }

    private ProcessBuilder java(Path home, String heap, String serverLog, String mainClass, String... args) {
        List<String> cmd = new ArrayList<>(List.of(
            Paths.get(System.getProperty("java.home"), "bin", "java").toString(),
            "-Xms64m", "-Xmx" + heap, "-XX:MaxDirectMemorySize=512m", "-XX:+UseSerialGC",
            "-XX:TieredStopAtLevel=1",
            "--add-opens", "java.base/java.nio=ALL-UNNAMED",
            "--add-opens", "java.base/sun.nio.ch=ALL-UNNAMED",
            "--add-opens", "java.base/jdk.internal.ref=ALL-UNNAMED",
            "--add-opens", "java.base/java.lang=ALL-UNNAMED",
            "-Duser.home=" + home,
            "-Drocketmq.home.dir=" + home,
            "-Dinterop.serverLog=" + workDir.resolve(serverLog),
            "-cp", classpath, mainClass));
        cmd.addAll(List.of(args));
        ProcessBuilder pb = new ProcessBuilder(cmd).directory(workDir.toFile());
        pb.environment().put("ROCKETMQ_HOME", home.toString());
        return pb;
    }

    private void launch(String name, ProcessBuilder pb, Predicate<String> readyLine) throws IOException {
        Path log = workDir.resolve(name + ".log");
        pb.redirectErrorStream(true);
        pb.redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null")));
        Proc p = new Proc(name, pb.start(), log, readyLine);
        procs.add(p);
        try {
            p.ready.get(BOOT_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS);
        } catch (Exception e) {
            fail(name + " did not boot: " + e + "\n" + tail(log));
        }
    }

    /** SIGKILL, as a crash. */
    void kill(String name) throws InterruptedException {
        for (Proc p : procs) {
            if (p.name.equals(name)) {
                p.process.destroyForcibly();
                p.process.waitFor(10, TimeUnit.SECONDS);
            }
        }
    }

    static String tail(Path log) {
        try {
            List<String> lines = Files.readAllLines(log, StandardCharsets.UTF_8);
            return String.join("\n", lines.subList(Math.max(0, lines.size() - 40), lines.size()));
        } catch (IOException e) {
            return "(no log: " + e + ")";
        }
    }

    @Override
    public void close() {
        for (int i = procs.size() - 1; i >= 0; i--) {
            Process p = procs.get(i).process;
            p.destroy();
            try {
                if (!p.waitFor(15, TimeUnit.SECONDS)) {
                    p.destroyForcibly();
                    p.waitFor(10, TimeUnit.SECONDS);
                }
            } catch (InterruptedException e) {
                p.destroyForcibly();
                Thread.currentThread().interrupt();
            }
        }
        procs.clear();
    }

    private static final class Proc {
        final String name;
        final Process process;
        final CompletableFuture<Void> ready = new CompletableFuture<>();

        Proc(String name, Process process, Path log, Predicate<String> readyLine) {
            this.name = name;
            this.process = process;
            Thread t = new Thread(() -> {
                try (BufferedReader in = new BufferedReader(new InputStreamReader(process.getInputStream(),
                    StandardCharsets.UTF_8));
                     Writer out = Files.newBufferedWriter(log, StandardCharsets.UTF_8,
                         StandardOpenOption.CREATE, StandardOpenOption.APPEND)) {
                    String line;
                    while ((line = in.readLine()) != null) {
                        out.write(line);
                        out.write('\n');
                        out.flush();
                        if (readyLine.test(line.replaceAll("\u001B\\[[;\\d]*m", ""))) {
                            ready.complete(null);
                        }
                    }
                } catch (IOException e) {
                    // the process went away
                }
                ready.completeExceptionally(new IllegalStateException(name + " exited before booting"));
            }, "drain-" + name);
            t.setDaemon(true);
            t.start();
        }
    }
}
