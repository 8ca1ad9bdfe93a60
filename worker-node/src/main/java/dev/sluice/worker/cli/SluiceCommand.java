package dev.sluice.worker.cli;

import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

import java.util.concurrent.Callable;

/** {@code sluice}: the top command, and the command groups that only hold subcommands. */
@Command(name = "sluice", mixinStandardHelpOptions = true, versionProvider = SluiceCommand.Version.class,
        usageHelpAutoWidth = true,
        description = "Drains a Redis job backlog through a rate-limited Hub: runs a worker node, and inspects and "
                + "feeds its queue.",
        footer = {"", "Exit status:", "  0   done", "  1   failed (Redis unreachable, port in use ...)", "  2   usage error",
            "  78  bad configuration (the message names the key, the value and the rule)"})
public final class SluiceCommand implements Callable<Integer> {

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() {
        throw new ParameterException(spec.commandLine(), "Missing required subcommand");
    }

    /** {@code sluice queue ...}. */
    @Command(name = "queue", mixinStandardHelpOptions = true, description = "Looks at the job queue.")
    static final class QueueGroup implements Callable<Integer> {
        @Spec
        CommandSpec spec;

        @Override
        public Integer call() {
            throw new ParameterException(spec.commandLine(), "Missing required subcommand");
        }
    }

    /** {@code sluice dlq ...}. */
    @Command(name = "dlq", mixinStandardHelpOptions = true, description = "Lists and replays dead letters.")
    static final class DlqGroup implements Callable<Integer> {
        @Spec
        CommandSpec spec;

        @Override
        public Integer call() {
            throw new ParameterException(spec.commandLine(), "Missing required subcommand");
        }
    }

    /** {@code sluice limits ...}. */
    @Command(name = "limits", mixinStandardHelpOptions = true,
            description = "Shows and changes the fleet's live Hub limits (every node follows them within 2 s).")
    static final class LimitsGroup implements Callable<Integer> {
        @Spec
        CommandSpec spec;

        @Override
        public Integer call() {
            throw new ParameterException(spec.commandLine(), "Missing required subcommand");
        }
    }

    /** {@code sluice config ...}. */
    @Command(name = "config", mixinStandardHelpOptions = true, description = "Checks the configuration.")
    static final class ConfigGroup implements Callable<Integer> {
        @Spec
        CommandSpec spec;

        @Override
        public Integer call() {
            throw new ParameterException(spec.commandLine(), "Missing required subcommand");
        }
    }

    /** The version from the jar manifest. */
    static final class Version implements CommandLine.IVersionProvider {
        @Override
        public String[] getVersion() {
            String version = SluiceCommand.class.getPackage().getImplementationVersion();
            return new String[] {"sluice " + (version == null ? "(development build)" : version)};
        }
    }
}
