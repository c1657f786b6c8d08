package io.ferromq.interop;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.fail;

import java.io.ByteArrayOutputStream;
import java.io.File;
import java.io.IOException;
import java.io.InputStream;
import java.lang.reflect.InvocationTargetException;
import java.net.URISyntaxException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.time.LocalTime;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Runs the stock {@code mqadmin} tool (org.apache.rocketmq:rocketmq-tools 4.9.7, main class
 * {@code org.apache.rocketmq.tools.command.MQAdminStartup}) as a separate JVM against a
 * {@link FerroMQ} server, and captures what it prints.
 *
 * <p>The tools' runtime classpath is resolved once per JVM with
 * {@code mvn dependency:build-classpath} on {@code java-interop/mqadmin-tools/pom.xml} and cached
 * in {@code java-interop/target/mqadmin-tools.classpath}. mqadmin does nothing at all unless
 * {@code $ROCKETMQ_HOME/conf/logback_tools.xml} exists, so every instance gets its own home
 * directory (inside the server's work directory) with a logback config that logs nothing. The
 * process runs in that directory too: {@code consumerStatus} writes files relative to it.
 *
 * <p>MQAdminStartup swallows every exception (it prints the stack trace) and returns normally, so
 * its exit code is 0 whether or not the command worked; {@link Result#failed()} looks at the output
 * instead. When main returns, the stock JVM still waits ~2 s for netty's graceful-shutdown quiet
 * period before it exits. By default the process therefore starts through {@link Main}, which calls
 * the unmodified {@code MQAdminStartup.main} and exits as soon as it returns (everything the command
 * does, including unregistering its client from the broker, has happened by then);
 * {@code -Dinterop.mqadmin.plainMain=true} runs {@code MQAdminStartup} directly instead.
 */
public final class MqAdmin {

    public static final String MAIN_CLASS = "org.apache.rocketmq.tools.command.MQAdminStartup";
    public static final String VERSION = "4.9.7";
    static final Duration TIMEOUT = Duration.ofSeconds(60);
    private static final Duration RESOLVE_TIMEOUT = Duration.ofMinutes(5);

    private static volatile String toolsClasspath;

    private final FerroMQ server;
    private final Path home;
    private final Path log;
    private int runs;

    /**
     * Skips the calling test unless the interop client is 4.9.x: mqadmin pins its own 4.9.7
     * client, and what it is compared with must be that version too.
     */
    public static void assumeClient49(String what) {
        String v = System.getProperty("interop.clientVersion", "4.9.7");
        org.junit.jupiter.api.Assumptions.assumeTrue(v.startsWith("4.9."),
            what + " tests run with client 4.9.x only (mqadmin pins its own 4.9.7 client); client is " + v);
    }

    public MqAdmin(FerroMQ server) throws IOException {
        this.server = server;
        this.home = server.storeDir().getParent().resolve("mqadmin-home");
        Files.createDirectories(home.resolve("conf"));
        Files.write(home.resolve("conf").resolve("logback_tools.xml"),
            "<configuration><root level=\"OFF\"/></configuration>\n".getBytes(StandardCharsets.UTF_8));
        this.log = server.logDir().resolve("mqadmin.log");
        Files.createDirectories(log.getParent());
    }

    /**
     * Gives mqadmin ACL credentials: 4.9.7's MQAdminStartup signs every request with the
     * accessKey/secretKey of {@code $ROCKETMQ_HOME/conf/tools.yml} when that file has them.
     */
    public MqAdmin credentials(String accessKey, String secretKey) throws IOException {
        Files.write(home.resolve("conf").resolve("tools.yml"),
            ("accessKey: " + accessKey + "\nsecretKey: " + secretKey + "\n").getBytes(java.nio.charset.StandardCharsets.UTF_8));
        return this;
    }

    /** The mqadmin process's home and working directory. */
    public Path home() {
        return home;
    }

    /** What one mqadmin run printed (stdout and stderr, merged). */
    public static final class Result {
        private static final Pattern CODE = Pattern.compile("CODE: (-?\\d+)\\s+DESC: ([^\\n]*)");

        public final List<String> args;
        public final int exitCode;
        public final String output;
        public final long millis;

        Result(List<String> args, int exitCode, String output, long millis) {
            this.args = args;
            this.exitCode = exitCode;
            this.output = output;
            this.millis = millis;
        }

        /**
         * True if the command reported a failure: MQAdminStartup prints
         * {@code SubCommandException: <Cmd> command failed} and a stack trace; some commands
         * print {@code [error] ...} or a swallowed exception's stack trace and carry on.
         */
        public boolean failed() {
            return exitCode != 0 || output.contains("command failed") || output.contains("[error]")
                || output.contains("Exception") || output.contains("\tat org.apache.rocketmq.")
                || output.contains("The sub command") && output.contains("not exist");
        }

        /** The response code of the first {@code CODE: <c>  DESC: <remark>} in the output, or -1. */
        public int errorCode() {
            Matcher m = CODE.matcher(output);
            return m.find() ? Integer.parseInt(m.group(1)) : -1;
        }

        /** The remark of the first {@code CODE: <c>  DESC: <remark>} in the output, or null. */
        public String errorRemark() {
            Matcher m = CODE.matcher(output);
            return m.find() ? m.group(2) : null;
        }

        public List<String> lines() {
            return Arrays.asList(output.split("\\r?\\n"));
        }

        /**
         * {@code key=value} lines as getBrokerConfig / getNamesrvConfig print them
         * ({@code %-50s=  %s}); first occurrence wins.
         */
        public Map<String, String> properties() {
            Map<String, String> out = new LinkedHashMap<>();
            Pattern p = Pattern.compile("^(\\S+)\\s*=  (.*)$");
            for (String line : lines()) {
                Matcher m = p.matcher(line);
                if (m.matches()) {
                    out.putIfAbsent(m.group(1), m.group(2).trim());
                }
            }
            return out;
        }

        /** {@code key : value} lines as brokerStatus prints them ({@code %-32s: %s}). */
        public Map<String, String> colonTable() {
            Map<String, String> out = new LinkedHashMap<>();
            Pattern p = Pattern.compile("^(\\S+)\\s*: (.*)$");
            for (String line : lines()) {
                Matcher m = p.matcher(line);
                if (m.matches()) {
                    out.putIfAbsent(m.group(1), m.group(2));
                }
            }
            return out;
        }

        @Override
        public String toString() {
            return "mqadmin " + String.join(" ", args) + " (exit " + exitCode + ", " + millis + " ms) printed:\n"
                + (output.isEmpty() ? "(nothing)" : output);
        }
    }

    /** Runs {@code mqadmin <args> -n <namesrvAddr>}. */
    public Result run(String... args) throws IOException, InterruptedException {
        List<String> all = new ArrayList<>(Arrays.asList(args));
        all.add("-n");
        all.add(server.namesrvAddr());
        return exec(all);
    }

    /** Runs the command and fails the test unless it succeeded (see {@link Result#failed()}). */
    public Result ok(String... args) throws IOException, InterruptedException {
        Result r = run(args);
        if (r.failed()) {
            fail("mqadmin " + args[0] + " against " + server.targetName() + " failed: " + r);
        }
        return r;
    }

    /**
     * Runs the command, expects it to fail with {@code CODE: <code>} and returns the result
     * (for asserting on the remark).
     */
    public Result fails(int code, String... args) throws IOException, InterruptedException {
        Result r = run(args);
        if (!r.failed()) {
            fail("mqadmin " + args[0] + " against " + server.targetName() + " was expected to fail with code "
                + code + " but succeeded: " + r);
        }
        assertEquals(code, r.errorCode(), "response code in mqadmin's output: " + r);
        return r;
    }

    private Result exec(List<String> args) throws IOException, InterruptedException {
        List<String> cmd = new ArrayList<>();
        cmd.add(Paths.get(System.getProperty("java.home"), "bin", "java").toString());
        // Small, short-lived JVM: C1 only and the serial collector start fastest on 2 cores.
        cmd.addAll(List.of("-Xmx256m", "-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC", "-Xshare:auto"));
        cmd.add("-Drocketmq.home.dir=" + home);
        cmd.add("-Duser.home=" + home);
        cmd.add("-Drocketmq.client.logUseSlf4j=false");
        cmd.add("-Drocketmq.client.logRoot=" + home.resolve("logs"));
        cmd.add("-cp");
        boolean plain = Boolean.getBoolean("interop.mqadmin.plainMain");
        cmd.add(plain ? toolsClasspath() : toolsClasspath() + File.pathSeparator + ownClasspathEntry());
        cmd.add(plain ? MAIN_CLASS : Main.class.getName());
        cmd.addAll(args);

        ProcessBuilder pb = new ProcessBuilder(cmd).directory(home.toFile()).redirectErrorStream(true);
        pb.environment().put("ROCKETMQ_HOME", home.toString());
        pb.redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")));
        long t0 = System.nanoTime();
        Process p = pb.start();
        ByteArrayOutputStream buf = new ByteArrayOutputStream();
        Thread drain = new Thread(() -> copy(p.getInputStream(), buf), "mqadmin-drain");
        drain.setDaemon(true);
        drain.start();
        boolean exited = p.waitFor(TIMEOUT.toMillis(), TimeUnit.MILLISECONDS);
        if (!exited) {
            p.destroyForcibly();
            p.waitFor(10, TimeUnit.SECONDS);
        }
        drain.join(5000);
        long ms = (System.nanoTime() - t0) / 1_000_000;
        String out;
        synchronized (buf) {
            out = buf.toString(StandardCharsets.UTF_8);
        }
        Result r = new Result(args, exited ? p.exitValue() : -1, out, ms);
        record(r, exited);
        if (!exited) {
            fail("mqadmin " + String.join(" ", args) + " did not finish within " + TIMEOUT.getSeconds()
                + " s against " + server.targetName() + "; output so far:\n" + out);
        }
        return r;
    }

    private void record(Result r, boolean exited) {
        runs++;
        String entry = "===== " + LocalTime.now() + " #" + runs + " mqadmin " + String.join(" ", r.args)
            + (exited ? " -> exit " + r.exitCode : " -> TIMED OUT") + " after " + r.millis + " ms\n"
            + r.output + (r.output.endsWith("\n") ? "" : "\n");
        try {
            Files.write(log, entry.getBytes(StandardCharsets.UTF_8), StandardOpenOption.CREATE,
                StandardOpenOption.APPEND);
        } catch (IOException e) {
            // best effort
        }
        server.note("mqadmin " + String.join(" ", r.args) + " -> " + (r.failed() ? "FAILED" : "ok")
            + " in " + r.millis + " ms");
    }

    private static void copy(InputStream in, ByteArrayOutputStream out) {
        byte[] b = new byte[8192];
        try {
            int n;
            while ((n = in.read(b)) > 0) {
                synchronized (out) {
                    out.write(b, 0, n);
                }
            }
        } catch (IOException e) {
            // process gone
        }
    }

    private static String ownClasspathEntry() {
        try {
            return Paths.get(Main.class.getProtectionDomain().getCodeSource().getLocation().toURI()).toString();
        } catch (URISyntaxException e) {
            throw new IllegalStateException(e);
        }
    }

    // ------------------------------------------------------------------------------------------
    // Tools classpath
    // ------------------------------------------------------------------------------------------

    static Path interopDir() {
        return Paths.get(System.getProperty("interop.repoRoot", "..")).toAbsolutePath().normalize()
            .resolve("java-interop");
    }

    /** The runtime classpath of rocketmq-tools 4.9.7, resolved once per JVM (cached in target/). */
    static String toolsClasspath() throws IOException, InterruptedException {
        String cp = toolsClasspath;
        if (cp != null) {
            return cp;
        }
        synchronized (MqAdmin.class) {
            if (toolsClasspath != null) {
                return toolsClasspath;
            }
            Path pom = interopDir().resolve("mqadmin-tools").resolve("pom.xml");
            Path file = interopDir().resolve("target").resolve("mqadmin-tools.classpath");
            Files.createDirectories(file.getParent());
            String why = "";
            if (!usable(file)) {
                why = resolve(pom, file, true);
                if (!usable(file)) {
                    why += resolve(pom, file, false);
                }
            }
            if (!usable(file)) {
                fail("could not resolve the rocketmq-tools " + VERSION + " classpath with " + pom + ":\n" + why);
            }
            toolsClasspath = new String(Files.readAllBytes(file), StandardCharsets.UTF_8).trim();
            return toolsClasspath;
        }
    }

    private static boolean usable(Path file) throws IOException {
        if (!Files.isRegularFile(file)) {
            return false;
        }
        String cp = new String(Files.readAllBytes(file), StandardCharsets.UTF_8).trim();
        if (!cp.contains("rocketmq-tools-" + VERSION + ".jar")) {
            return false;
        }
        for (String entry : cp.split(File.pathSeparator)) {
            if (!Files.exists(Paths.get(entry))) {
                return false;
            }
        }
        return true;
    }

    /** Runs mvn dependency:build-classpath; returns a description of what happened (for failures). */
    private static String resolve(Path pom, Path out, boolean offline) throws IOException, InterruptedException {
        List<String> cmd = new ArrayList<>();
        cmd.add(mvnExecutable());
        cmd.addAll(List.of("-q", "-B"));
        if (offline) {
            cmd.add("-o");
        }
        cmd.addAll(List.of("-f", pom.toString(), "dependency:build-classpath", "-Dmdep.outputFile=" + out));
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true);
        pb.redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")));
        Process p = pb.start();
        ByteArrayOutputStream buf = new ByteArrayOutputStream();
        Thread drain = new Thread(() -> copy(p.getInputStream(), buf), "mvn-drain");
        drain.setDaemon(true);
        drain.start();
        if (!p.waitFor(RESOLVE_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS)) {
            p.destroyForcibly();
        }
        drain.join(5000);
        synchronized (buf) {
            return "$ " + String.join(" ", cmd) + "\n" + buf.toString(StandardCharsets.UTF_8)
                + (p.isAlive() ? "(timed out)\n" : "(exit " + p.exitValue() + ")\n");
        }
    }

    private static String mvnExecutable() {
        String mavenHome = System.getProperty("maven.home", "");
        if (!mavenHome.isEmpty()) {
            Path mvn = Paths.get(mavenHome, "bin", "mvn");
            if (Files.isExecutable(mvn)) {
                return mvn.toString();
            }
        }
        return "mvn";
    }

    /**
     * Entry point of the mqadmin JVM: the unmodified {@code MQAdminStartup.main(args)}, then exit
     * right away instead of waiting out netty's graceful-shutdown quiet period. Only uses
     * reflection, so this class needs nothing but the tools classpath.
     */
    public static final class Main {
        private Main() {
        }

        public static void main(String[] args) throws Exception {
            int code = 0;
            try {
                Class.forName(MAIN_CLASS).getMethod("main", String[].class).invoke(null, (Object) args);
            } catch (InvocationTargetException e) {
                e.getCause().printStackTrace();
                code = 1;
            }
            System.out.flush();
            System.err.flush();
            System.exit(code);
        }
    }
}
