package dev.sluice.worker.cli;

import dev.sluice.common.config.SluiceConfig;
import dev.sluice.worker.limits.live.FleetLimits;
import dev.sluice.worker.limits.live.LimitsRecord;
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
            LimitsRecord record = new LimitsRecord(config.cluster().name());
            FleetLimits limits = session.redis().withJedis(record::read);
            PrintWriter out = out();
            if (json) {
                out.println(limits == null ? "null" : Json.write(limits.toMap()));
            } else if (limits == null) {
                out.println("no fleet limits record in " + record.key() + ": the first node to start seeds it from its "
                        + "configuration (hub.max_requests_per_second = " + config.hub().maxRequestsPerSecond()
                        + ", hub.max_concurrent_connections = " + config.hub().maxConcurrentConnections() + " here)");
            } else {
                print(out, record, limits);
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
            LimitsRecord record = new LimitsRecord(config.cluster().name());
            String who = by != null ? by : defaultName();
            LimitsRecord.Change change = session.redis().withJedis(
                    j -> record.set(j, expectVersion, rps, inFlight, who + " (sluice limits set)"));
            PrintWriter out = out();
            if (!change.applied()) {
                err().println("not changed: the fleet's limits record is no longer at version " + expectVersion
                        + (change.record() == null ? " (there is none)" : "; it is at " + change.record().describe()));
                err().flush();
                return ExitCodes.FAILURE;
            }
            out.println("changed; every node follows within 2 s");
            print(out, record, change.record());
            out.flush();
            return ExitCodes.OK;
        }

        private static String defaultName() {
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

    private static void print(PrintWriter out, LimitsRecord record, FleetLimits limits) {
        out.printf(Locale.ROOT, "  %-20s %s%n", "record", record.key());
        out.printf(Locale.ROOT, "  %-20s %d%n", "requests per second", limits.maxPerSecond());
        out.printf(Locale.ROOT, "  %-20s %d%n", "in flight", limits.maxInFlight());
        out.printf(Locale.ROOT, "  %-20s %s%n", "version", limits.describe());
    }
}
