package dev.sluice.worker.cli;

import dev.sluice.common.config.ConfigException;
import picocli.CommandLine;
import picocli.CommandLine.IExecutionExceptionHandler;
import picocli.CommandLine.ParseResult;

import java.io.PrintWriter;

/**
 * Builds the {@code sluice} command line. Failures end in one line on stderr, {@code sluice: <what went wrong>},
 * and an exit status from {@link ExitCodes}; {@code --verbose} adds the stack trace.
 */
public final class Cli {
    private Cli() {
    }

    /** The whole command tree, ready to {@link CommandLine#execute execute}. */
    public static CommandLine commandLine(CliContext context) {
        CommandLine top = new CommandLine(new SluiceCommand());
        top.addSubcommand(new CommandLine(new WorkerCommand(context)));
        top.addSubcommand(new CommandLine(new EnqueueCommand(context)));
        top.addSubcommand(new CommandLine(new SluiceCommand.QueueGroup())
                .addSubcommand(new CommandLine(new QueueStatsCommand(context))));
        top.addSubcommand(new CommandLine(new SluiceCommand.DlqGroup())
                .addSubcommand(new CommandLine(new DlqListCommand(context)))
                .addSubcommand(new CommandLine(new DlqReplayCommand(context))));
        top.addSubcommand(new CommandLine(new SluiceCommand.LimitsGroup())
                .addSubcommand(new CommandLine(new LimitsCommands.Show(context)))
                .addSubcommand(new CommandLine(new LimitsCommands.Set(context))));
        top.addSubcommand(new CommandLine(new LimitsCommands.PauseFleet(context)));
        top.addSubcommand(new CommandLine(new LimitsCommands.ResumeFleet(context)));
        top.addSubcommand(new CommandLine(new SluiceCommand.ConfigGroup())
                .addSubcommand(new CommandLine(new ConfigCheckCommand(context))));
        top.setExecutionExceptionHandler(new FailureHandler());
        return top;
    }

    /** Maps what a command threw to a message and an exit status. */
    private static final class FailureHandler implements IExecutionExceptionHandler {
        @Override
        public int handleExecutionException(Exception e, CommandLine commandLine, ParseResult parseResult) {
            PrintWriter err = commandLine.getErr();
            int code;
            boolean expected = true;
            if (e instanceof ConfigException c) {
                code = ExitCodes.CONFIG;
                err.println("sluice: " + c.getMessage());
            } else if (e instanceof CliException c) {
                code = c.exitCode();
                err.println("sluice: " + c.getMessage());
            } else {
                code = ExitCodes.FAILURE;
                expected = false;
                err.println("sluice: " + (e.getMessage() == null ? e.toString() : e.getMessage() + " (" + e.getClass().getSimpleName() + ")"));
            }
            if (verbose(parseResult)) {
                e.printStackTrace(err);
            } else if (!expected) {
                err.println("sluice: run with --verbose for the stack trace");
            }
            err.flush();
            return code;
        }

        private static boolean verbose(ParseResult parseResult) {
            for (ParseResult r = parseResult; r != null; r = r.subcommand()) {
                if (r.hasMatchedOption("--verbose")) {
                    return true;
                }
            }
            return false;
        }
    }
}
