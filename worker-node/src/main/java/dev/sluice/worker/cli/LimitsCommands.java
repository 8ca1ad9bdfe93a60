package dev.sluice.worker.cli;

import dev.sluice.common.config.SluiceConfig;
import dev.sluice.control.FleetLimits;
import dev.sluice.control.FleetRecord;
import dev.sluice.control.FleetState;
import dev.sluice.control.Pause;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;

import java.io.PrintWriter;
import java.util.Locale;

/** {@code sluice limits show} and {@code sluice limits set}: the fleet's live Hub limits in Redis. */
final class LimitsCommands {
    private LimitsCommands() {
    }

    /** {@code sluice limits show}. */
    @Command(name = "show", mixinStandardHelpOptions = true, usageHelpAutoWidth = true,
            description = "Shows the fleet's Hub limits: the record every node follows, its version and who set it.")
    static final class Show extends RedisCommand {
        @Option(names = "--json", description = "Print JSON.")
        boolean json;

        Show(CliContext context) {
            super(context);
        }

        @Override
        int run(SluiceConfig config, QueueSession session) {
            FleetRecord record = new FleetRecord(config.cluster().name());
            FleetState state = session.redis().withJedis(record::read);
            FleetLimits limits = state == null ? null : state.limits();
            PrintWriter out = out();
            if (json) {
                out.println(limits == null ? "null" : Json.write(limits.toMap()));
            } else if (limits == null) {
                out.println("no fleet limits in " + record.key() + ": the first node to start seeds them from its "
                        + "configuration (hub.max_requests_per_second = " + config.hub().maxRequestsPerSecond()
                        + ", hub.max_concurrent_connections = " + config.hub().maxConcurrentConnections() + " here)");
                if (state != null) {
                    out.printf(Locale.ROOT, "  %-20s %s%n", "pause", state.pause().describe());
                }
            } else {
                print(out, record, state);
            }
            out.flush();
            return ExitCodes.OK;
        }
    }

    /** {@code sluice limits set}. */
    @Command(name = "set", mixinStandardHelpOptions = true, usageHelpAutoWidth = true,
            description = "Changes the fleet's Hub limits without a restart: every node follows within 2 s (within one "
                    + "permit lease for a node cut off). Refused when the record changed since --expect-version.")
    static final class Set extends RedisCommand {
        @Option(names = "--rps", required = true, paramLabel = "N",
                description = "Requests per second for the whole fleet (1 to 1000000).")
        int rps;

        @Option(names = "--in-flight", required = true, paramLabel = "M",
                description = "Requests in flight for the whole fleet (1 to 10000).")
        int inFlight;

        @Option(names = "--expect-version", paramLabel = "V",
                description = "Change only if the record is still at this version (from `sluice limits show`).")
        Long expectVersion;

        @Option(names = "--by", paramLabel = "NAME",
                description = "Who makes the change, for the record and the events (default: $USER on this host).")
        String by;

        Set(CliContext context) {
            super(context);
        }

        @Override
        void validate() {
            try {
                FleetLimits.check(rps, inFlight);
            } catch (IllegalArgumentException e) {
                throw new ParameterException(spec.commandLine(), e.getMessage());
            }
        }

        @Override
        int run(SluiceConfig config, QueueSession session) {
            FleetRecord record = new FleetRecord(config.cluster().name());
            String who = by != null ? by : defaultName();
            FleetRecord.Change change = session.redis().withJedis(
                    j -> record.setLimits(j, expectVersion, rps, inFlight, who + " (sluice limits set)"));
            PrintWriter out = out();
            if (!change.applied()) {
                err().println("not changed: the fleet's limits record is no longer at version " + expectVersion
                        + (change.limits() == null ? " (there is none)" : "; it is at " + change.limits().describe()));
                err().flush();
                return ExitCodes.FAILURE;
            }
            out.println("changed; every node follows within 2 s");
            print(out, record, change.record());
            out.flush();
            return ExitCodes.OK;
        }

        static String defaultName() {
            String user = System.getenv().getOrDefault("USER", System.getProperty("user.name", "unknown"));
            String host;
            try {
                host = java.net.InetAddress.getLocalHost().getHostName();
            } catch (java.io.IOException e) {
                host = "unknown host";
            }
            return user + "@" + host;
        }
    }

    private static void print(PrintWriter out, FleetRecord record, FleetState state) {
        FleetLimits limits = state.limits();
        out.printf(Locale.ROOT, "  %-20s %s%n", "record", record.key());
        out.printf(Locale.ROOT, "  %-20s %d%n", "requests per second", limits.maxPerSecond());
        out.printf(Locale.ROOT, "  %-20s %d%n", "in flight", limits.maxInFlight());
        out.printf(Locale.ROOT, "  %-20s %s%n", "version", limits.describe());
        out.printf(Locale.ROOT, "  %-20s %s%n", "pause", state.pause().describe());
    }

    /** {@code sluice pause} and {@code sluice resume}. */
    abstract static class PauseCommand extends RedisCommand {
        @Option(names = "--by", paramLabel = "NAME",
                description = "Who makes the change, for the record, the audit stream and the events (default: $USER "
                        + "on this host).")
        String by;

        @Option(names = "--reason", paramLabel = "TEXT", description = "Why, for the record (at most 500 characters).")
        String reason;

        PauseCommand(CliContext context) {
            super(context);
        }

        abstract boolean pause();

        @Override
        void validate() {
            if (reason != null && reason.strip().length() > 500) {
                throw new ParameterException(spec.commandLine(), "--reason must be at most 500 characters, but was "
                        + reason.strip().length());
            }
        }

        @Override
        int run(SluiceConfig config, QueueSession session) {
            FleetRecord record = new FleetRecord(config.cluster().name());
            String who = (by != null ? by : Set.defaultName()) + " (sluice " + (pause() ? "pause" : "resume") + ")";
            FleetRecord.Change change = session.redis().withJedis(j -> record.setPaused(j, pause(), who, reason));
            Pause now = change.record().pause();
            PrintWriter out = out();
            if (change.applied()) {
                out.println((pause() ? "paused: nothing new goes to the Hub within 2 s; requests on the wire finish, "
                        + "jobs not sent go back to the queue unattempted" : "resumed: nodes fetch again within 2 s"));
            } else {
                out.println("unchanged: the fleet is already " + (pause() ? "paused" : "running"));
            }
            out.printf(Locale.ROOT, "  %-20s %s%n", "record", record.key());
            out.printf(Locale.ROOT, "  %-20s %s%n", "pause", now.describe());
            out.flush();
            return ExitCodes.OK;
        }
    }

    @Command(name = "pause", mixinStandardHelpOptions = true, usageHelpAutoWidth = true,
            description = "Pauses the whole fleet through its record in Redis: within 2 s no node sends anything new to "
                    + "the Hub; jobs not yet sent go back to the queue unattempted; the pause survives restarts.")
    static final class PauseFleet extends PauseCommand {
        PauseFleet(CliContext context) {
            super(context);
        }

        @Override
        boolean pause() {
            return true;
        }
    }

    @Command(name = "resume", mixinStandardHelpOptions = true, usageHelpAutoWidth = true,
            description = "Resumes a paused fleet: nodes fetch and call the Hub again within 2 s.")
    static final class ResumeFleet extends PauseCommand {
        ResumeFleet(CliContext context) {
            super(context);
        }

        @Override
        boolean pause() {
            return false;
        }
    }
}
