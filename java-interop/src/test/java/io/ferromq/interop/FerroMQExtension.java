package io.ferromq.interop;

import java.lang.reflect.Method;

import org.junit.jupiter.api.extension.AfterEachCallback;
import org.junit.jupiter.api.extension.ExtensionContext;
import org.junit.jupiter.api.extension.ParameterContext;
import org.junit.jupiter.api.extension.ParameterResolutionException;
import org.junit.jupiter.api.extension.ParameterResolver;
import org.junit.jupiter.api.extension.TestExecutionExceptionHandler;

/**
 * Gives each test method that declares a {@link FerroMQ} parameter its own freshly started
 * server (configured by {@link BrokerConfig} on the method or class), and stops it after the
 * test. When the test fails, the tail of the server's log is attached to the failure (as a
 * suppressed exception, so it shows in the Surefire report and console) and the server's work
 * directory is kept under target/interop-work. A server that died during a passing test fails it.
 */
public final class FerroMQExtension implements ParameterResolver, TestExecutionExceptionHandler, AfterEachCallback {

    private static final ExtensionContext.Namespace NS = ExtensionContext.Namespace.create(FerroMQExtension.class);
    private static final String KEY = "server";
    private static final int TAIL_LINES = 60;

    @Override
    public boolean supportsParameter(ParameterContext pc, ExtensionContext ec) {
        return pc.getParameter().getType() == FerroMQ.class;
    }

    @Override
    public Object resolveParameter(ParameterContext pc, ExtensionContext ec) {
        Method method = ec.getRequiredTestMethod();
        String id = ec.getRequiredTestClass().getSimpleName() + "." + method.getName();
        FerroMQ server = FerroMQ.create(id);
        for (BrokerConfig bc : new BrokerConfig[] {
            ec.getRequiredTestClass().getAnnotation(BrokerConfig.class), method.getAnnotation(BrokerConfig.class)}) {
            if (bc == null) {
                continue;
            }
            for (String kv : bc.value()) {
                int eq = kv.indexOf('=');
                if (eq <= 0) {
                    throw new ParameterResolutionException("@BrokerConfig entries must be key=value: " + kv);
                }
                server.extraConfig(kv.substring(0, eq).trim(), kv.substring(eq + 1).trim());
            }
        }
        // Stored before start() so that a failed start is still cleaned up by afterEach.
        ec.getStore(NS).put(KEY, new Holder(server));
        try {
            server.start();
        } catch (java.io.IOException e) {
            throw new ParameterResolutionException("could not start " + server.targetName(), e);
        }
        return server;
    }

    @Override
    public void handleTestExecutionException(ExtensionContext ec, Throwable t) throws Throwable {
        Holder h = ec.getStore(NS).get(KEY, Holder.class);
        if (h != null) {
            h.failed = true;
            h.server.keepWorkDir();
            String crash = h.server.unexpectedExit();
            t.addSuppressed(new ServerLog((crash != null ? "!!! " + crash + "\n" : "")
                + h.server.targetName() + " logs (full logs in " + h.server.logDir() + "):\n"
                + h.server.logTail(TAIL_LINES)));
        }
        throw t;
    }

    @Override
    public void afterEach(ExtensionContext ec) {
        Holder h = ec.getStore(NS).remove(KEY, Holder.class);
        if (h == null) {
            return;
        }
        String crash = h.server.unexpectedExit();
        h.server.close();
        if (crash != null && !h.failed && ec.getExecutionException().isEmpty()) {
            throw new AssertionError(crash + "\n" + h.server.logTail(TAIL_LINES));
        }
    }

    private static final class Holder {
        final FerroMQ server;
        boolean failed;

        Holder(FerroMQ server) {
            this.server = server;
        }
    }

    /** Carries a log tail in its message; no stack trace of its own. */
    static final class ServerLog extends Exception {
        private static final long serialVersionUID = 1L;

        ServerLog(String message) {
            super(message, null, false, false);
        }

        @Override
        public String toString() {
            return getMessage();
        }
    }
}
