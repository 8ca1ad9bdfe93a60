package dev.sluice.worker.cli;

import dev.sluice.common.config.SluiceConfig;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Spec;

import java.io.PrintWriter;
import java.util.concurrent.Callable;

/**
 * A command that loads the configuration and works on the queue. Checks its arguments before it connects, and
 * turns a failure to talk to Redis into one line that names the server.
 */
abstract class RedisCommand implements Callable<Integer> {

    @Mixin
    ConfigOptions options;

    @Spec
    CommandSpec spec;

    final CliContext context;

    RedisCommand(CliContext context) {
        this.context = context;
    }

    @Override
    public final Integer call() throws Exception {
        validate();
        SluiceConfig config = options.load(context.env());
        try (QueueSession session = new QueueSession(config, context.clock())) {
            return run(config, session);
        } catch (RuntimeException e) {
            if (RedisFailures.isRedisFailure(e)) {
                throw RedisFailures.describe(e, config);
            }
            throw e;
        }
    }

    /** Checks the arguments; throws a {@link picocli.CommandLine.ParameterException} for a usage error. */
    void validate() {
    }

    abstract int run(SluiceConfig config, QueueSession session) throws Exception;

    PrintWriter out() {
        return spec.commandLine().getOut();
    }

    PrintWriter err() {
        return spec.commandLine().getErr();
    }
}
