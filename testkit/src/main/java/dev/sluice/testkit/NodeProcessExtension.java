package dev.sluice.testkit;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.extension.AfterAllCallback;
import org.junit.jupiter.api.extension.AfterEachCallback;
import org.junit.jupiter.api.extension.BeforeEachCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

/**
 * Starts {@link NodeProcess}es for tests and cleans up after them: a process started during a test is killed
 * when the test ends, one started in {@code @BeforeAll} when the class ends. When a test fails, the end of
 * each of its processes' logs is printed to stderr first, since the log files go away with the processes.
 *
 * <pre>{@code
 * @RegisterExtension
 * static NodeProcessExtension processes = new NodeProcessExtension();
 *
 * @Test
 * void finishesJobsAfterSigkill() {
 *     NodeProcess worker = processes.start(NodeProcess.forMainClass(Main.class).args("--node-id", "a"));
 *     ...
 * }
 * }</pre>
 */
public final class NodeProcessExtension implements BeforeEachCallback, AfterEachCallback, AfterAllCallback {

    private final List<NodeProcess> classProcesses = new ArrayList<>();
    private final List<NodeProcess> testProcesses = new ArrayList<>();
    private boolean inTest;

    /** Starts the process and ties its cleanup to the running test (or class, outside a test). */
    public synchronized NodeProcess start(NodeProcess.Builder builder) {
        NodeProcess process = builder.start();
        (inTest ? testProcesses : classProcesses).add(process);
        return process;
    }

    @Override
    public synchronized void beforeEach(ExtensionContext context) {
        inTest = true;
    }

    @Override
    public synchronized void afterEach(ExtensionContext context) {
        inTest = false;
        closeAll(testProcesses, context);
    }

    @Override
    public synchronized void afterAll(ExtensionContext context) {
        closeAll(classProcesses, context);
    }

    private static void closeAll(List<NodeProcess> processes, ExtensionContext context) {
        if (context.getExecutionException().isPresent()) {
            for (NodeProcess process : processes) {
                System.err.println("---- " + context.getDisplayName() + " failed; last lines of " + process + " ("
                        + process.logFile() + "):" + System.lineSeparator() + process.logTail());
            }
        }
        RuntimeException failure = null;
        for (NodeProcess process : processes) {
            try {
                process.close();
            } catch (RuntimeException e) {
                if (failure == null) {
                    failure = e;
                } else {
                    failure.addSuppressed(e);
                }
            }
        }
        processes.clear();
        if (failure != null) {
            throw failure;
        }
    }
}
