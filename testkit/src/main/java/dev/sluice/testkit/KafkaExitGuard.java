package dev.sluice.testkit;

import org.apache.kafka.common.utils.internals.Exit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * While an embedded broker runs, Kafka's own exit and halt calls (its fatal-fault handlers use them) throw
 * instead of ending the test JVM, which would lose every test report of the run.
 */
final class KafkaExitGuard {

    private static final Logger LOG = LoggerFactory.getLogger(KafkaExitGuard.class);
    private static int holders;

    private KafkaExitGuard() {
    }

    static synchronized void acquire() {
        if (holders++ == 0) {
            Exit.setExitProcedure((status, message) -> refuse("exit", status, message));
            Exit.setHaltProcedure((status, message) -> refuse("halt", status, message));
        }
    }

    static synchronized void release() {
        if (holders > 0 && --holders == 0) {
            Exit.resetExitProcedure();
            Exit.resetHaltProcedure();
        }
    }

    private static void refuse(String how, int status, String message) {
        String text = "the embedded Kafka broker called " + how + "(" + status + (message == null ? "" : ", " + message)
                + "); the testkit refused to end the test JVM";
        LOG.error(text);
        throw new IllegalStateException(text);
    }
}
