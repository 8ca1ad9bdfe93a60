package dev.sluice.worker.cli;

import dev.sluice.common.config.SluiceConfig;
import dev.sluice.common.job.BadJobException;
import dev.sluice.common.job.BatchId;
import dev.sluice.common.job.Job;
import dev.sluice.common.job.JobCodec;
import dev.sluice.control.Backfills;
import dev.sluice.worker.queue.Enqueued;
import dev.sluice.worker.queue.JobQueue;
import picocli.CommandLine.Command;
import picocli.CommandLine.ITypeConverter;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.TypeConversionException;
import redis.clients.jedis.exceptions.JedisDataException;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * {@code sluice enqueue}: puts jobs on the queue as a producer would, in pipelined batches, from keys given as
 * arguments, in files, on stdin and as a numeric range, in that order. Blank lines are skipped and keys are
 * trimmed. Each key becomes {@code Job.of(type, prefix + key)}, checked by the job codec first; an invalid key
 * stops the command, after the batches before it were sent.
 */
@Command(name = "enqueue", mixinStandardHelpOptions = true, usageHelpAutoWidth = true,
        description = "Adds jobs to the queue (the stream or list of queue.mode) without starting a worker.",
        footer = {"", "Examples:",
            "  sluice enqueue --config sluice.toml user-1 user-2",
            "  sluice enqueue --config sluice.toml --range 1..5000 --prefix user-",
            "  cut -f1 users.tsv | sluice enqueue --config sluice.toml --stdin"})
final class EnqueueCommand extends RedisCommand {
    static final int BATCH = 1_000;

    /** An inclusive range of whole numbers. */
    record Range(long start, long end) {
        long size() {
            return end - start + 1;
        }
    }

    static final class RangeConverter implements ITypeConverter<Range> {
        private static final Pattern RANGE = Pattern.compile("(-?\\d{1,18})\\.\\.(-?\\d{1,18})");

        @Override
        public Range convert(String value) {
            Matcher m = RANGE.matcher(value.strip());
            if (!m.matches()) {
                throw new TypeConversionException("must look like START..END (e.g. 1..5000), but was '" + value + "'");
            }
            long start = Long.parseLong(m.group(1));
            long end = Long.parseLong(m.group(2));
            if (end < start) {
                throw new TypeConversionException("END must not be less than START, but was " + value);
            }
            return new Range(start, end);
        }
    }

    @Parameters(paramLabel = "KEY", arity = "0..*", description = "Job keys.")
    List<String> keys = new ArrayList<>();

    @Option(names = "--file", paramLabel = "F", description = "A file with one key per line (repeatable).")
    List<Path> files = new ArrayList<>();

    @Option(names = "--stdin", description = "Read keys from standard input, one per line.")
    boolean stdin;

    @Option(names = "--range", paramLabel = "START..END", converter = RangeConverter.class,
            description = "The whole numbers START to END, both included, as keys.")
    Range range;

    @Option(names = "--prefix", paramLabel = "P", defaultValue = "", description = "Put before every key.")
    String prefix;

    @Option(names = "--batch", paramLabel = "ID",
            description = "The backfill's id, new on this queue (default: enqueue-<UTC time>-<4 random letters>). "
                    + "The dashboard shows each backfill's progress and time to drain.")
    String batchId;

    @Option(names = "--by", paramLabel = "NAME", description = "Who enqueues, shown with the backfill (default: $USER on this host).")
    String by;

    @Option(names = "--type", paramLabel = "T", defaultValue = Job.DEFAULT_TYPE,
            description = "The job type (handler). Default: ${DEFAULT-VALUE}.")
    String type;

    EnqueueCommand(CliContext context) {
        super(context);
    }

    @Override
    void validate() {
        if (keys.isEmpty() && files.isEmpty() && !stdin && range == null) {
            throw new ParameterException(spec.commandLine(), "Give keys: KEY..., --file F, --stdin or --range START..END");
        }
        try {
            new JobCodec(Integer.MAX_VALUE).fromFields(Map.of("key", "k", "type", type));
        } catch (BadJobException e) {
            throw new ParameterException(spec.commandLine(), "--type " + e.getMessage().replace("field 'type' ", ""));
        }
        if (batchId != null && !BatchId.valid(batchId)) {
            throw new ParameterException(spec.commandLine(), "--batch: " + BatchId.rule(batchId));
        }
        for (Path f : files) {
            if (!Files.isRegularFile(f) || !Files.isReadable(f)) {
                throw new ParameterException(spec.commandLine(), "--file " + f + " is not a readable file");
            }
        }
    }

    @Override
    int run(SluiceConfig config, QueueSession session) {
        JobQueue queue = session.queue();
        queue.start();
        long known = files.isEmpty() && !stdin ? keys.size() + (range == null ? 0 : range.size()) : -1;
        long t0 = System.nanoTime();
        Progress progress = new Progress(err(), context.stderrIsTerminal(), known, System::nanoTime);
        String batch = batchId != null ? batchId : newBatchId(context.clock());
        Backfills backfills = new Backfills(config.queue().key());
        String who = by != null ? by : LimitsCommands.Set.defaultName();
        if (!session.redis().withJedis(j -> backfills.begin(j, batch, who))) {
            throw new CliException(ExitCodes.USAGE, "backfill '" + batch + "' exists on " + session.describe()
                    + "; give a new id with --batch (an id is not used again while its backfill is listed)");
        }
        Batcher batcher = new Batcher(queue, new JobCodec(config.queue().maxJobBytes()), progress, batch,
                backfills, session);
        // However the command ends (done, failed, Ctrl-C, SIGTERM), the backfill says whether its enqueue finished.
        AtomicBoolean marked = new AtomicBoolean();
        Thread onSignal = new Thread(() -> markEnded(session, backfills, batch, false, batcher.outstanding, marked),
                "sluice-enqueue-stopped");
        Runtime.getRuntime().addShutdownHook(onSignal);
        boolean complete = false;
        String notMarked;
        try {
            for (int i = 0; i < keys.size(); i++) {
                batcher.add(keys.get(i), "argument " + (i + 1));
            }
            for (Path f : files) {
                try (BufferedReader reader = Files.newBufferedReader(f, StandardCharsets.UTF_8)) {
                    batcher.addLines(reader, f.toString());
                } catch (IOException e) {
                    throw new CliException(ExitCodes.FAILURE, "cannot read " + f + ": " + e.getMessage(), e);
                }
            }
            if (stdin) {
                BufferedReader reader = new BufferedReader(new InputStreamReader(context.stdin(), StandardCharsets.UTF_8));
                try {
                    batcher.addLines(reader, "stdin");
                } catch (IOException e) {
                    throw new CliException(ExitCodes.FAILURE, "cannot read stdin: " + e.getMessage(), e);
                }
            }
            if (range != null) {
                for (long n = range.start(); n <= range.end(); n++) {
                    batcher.add(Long.toString(n), "--range");
                }
            }
            batcher.flush();
            complete = true;
        } finally {
            progress.finish();
            notMarked = markEnded(session, backfills, batch, complete, batcher.outstanding, marked);
            try {
                Runtime.getRuntime().removeShutdownHook(onSignal);
            } catch (IllegalStateException shuttingDown) {
                // The hook runs or ran; it marks nothing twice.
            }
        }
        if (notMarked != null) {
            throw new CliException(ExitCodes.FAILURE, "enqueued " + batcher.sent + " jobs, but could not mark backfill '"
                    + batch + "' complete (" + notMarked + "); the dashboard shows it as still enqueuing");
        }
        double secs = (System.nanoTime() - t0) / 1e9;
        long rate = Math.round(batcher.sent / Math.max(secs, 1e-6));
        out().printf(Locale.ROOT, "enqueued %d jobs to %s in %.2f s (%d jobs/s) as backfill %s%n", batcher.sent,
                session.describe(), secs, rate, batch);
        out().flush();
        return ExitCodes.OK;
    }

    /** Marks the backfill's enqueue over, once; returns why that failed, or null. */
    private String markEnded(QueueSession session, Backfills backfills, String batch, boolean complete, long uncertain,
                             AtomicBoolean marked) {
        if (marked.getAndSet(true)) {
            return null;
        }
        try {
            session.redis().withJedis(j -> {
                backfills.ended(j, batch, complete, uncertain);
                return null;
            });
            return null;
        } catch (RuntimeException e) {
            err().println("could not mark backfill '" + batch + "' " + (complete ? "complete" : "stopped") + ": "
                    + e.getMessage());
            err().flush();
            return e.getMessage();
        }
    }

    /** Gathers jobs into batches of {@value #BATCH}, each sent as one pipeline. */
    private final class Batcher {
        private final JobQueue queue;
        private final JobCodec codec;
        private final Progress progress;
        private final List<Job> batch = new ArrayList<>(BATCH);
        private final String batchId;
        private final Backfills backfills;
        private final QueueSession session;
        long sent;
        /** Jobs counted in the total whose enqueue has not answered (a chunk in flight, or one that failed unheard). */
        volatile long outstanding;

        Batcher(JobQueue queue, JobCodec codec, Progress progress, String batchId, Backfills backfills,
                QueueSession session) {
            this.queue = queue;
            this.codec = codec;
            this.progress = progress;
            this.batchId = batchId;
            this.backfills = backfills;
            this.session = session;
        }

        void addLines(BufferedReader reader, String source) throws IOException {
            String line;
            long n = 0;
            while ((line = reader.readLine()) != null) {
                n++;
                add(line, source + " line " + n);
            }
        }

        void add(String raw, String where) {
            String key = raw.strip();
            if (key.isEmpty()) {
                return;
            }
            Job job = Job.of(type, prefix + key).inBatch(batchId);
            try {
                // The codec's checks (key length, job size) catch here what a worker would dead-letter.
                codec.fromFields(codec.toFields(job));
            } catch (BadJobException e) {
                throw new CliException(ExitCodes.USAGE, where + ": " + e.getMessage() + " (key '" + abbreviate(key)
                        + "'); " + sent + " jobs were enqueued before it", e);
            }
            batch.add(job);
            if (batch.size() == BATCH) {
                flush();
            }
        }

        void flush() {
            if (batch.isEmpty()) {
                return;
            }
            int size = batch.size();
            // The total goes up first, so a job is never on the queue uncounted; what Redis then refuses is taken off.
            // Outstanding before the count: a signal's hook that ends the backfill in between says these may be lost.
            outstanding = size;
            boolean counted;
            try {
                counted = session.redis().withJedis(j -> backfills.reserve(j, batchId, size));
            } catch (JedisDataException e) {
                throw new CliException(ExitCodes.FAILURE, "Redis refused to count the next " + size + " jobs of backfill '"
                        + batchId + "' (" + e.getMessage() + "); enqueued " + sent + " jobs in all, the rest were not enqueued", e);
            }
            if (!counted) {
                throw new CliException(ExitCodes.FAILURE, "backfill '" + batchId + "' was marked over while its enqueue "
                        + "ran (the command is being stopped); enqueued " + sent + " jobs in all, the rest were not enqueued");
            }
            Enqueued result = queue.enqueue(List.copyOf(batch));
            sent += result.accepted();
            session.redis().withJedis(j -> {
                backfills.settle(j, batchId, result.refused());
                return null;
            });
            outstanding = 0;
            batch.clear();
            progress.update(sent);
            if (!result.all()) {
                // Redis refused writes (full, read-only): stop here and say exactly how much went in.
                throw new CliException(ExitCodes.FAILURE, "Redis refused " + result.refused() + " of the last " + size
                        + " jobs (" + result.firstRefusal().reason() + ": " + result.firstRefusal().getMessage()
                        + "); enqueued " + sent + " jobs in all, the rest were not enqueued", result.firstRefusal());
            }
        }
    }

    private static String newBatchId(Clock clock) {
        String when = java.time.format.DateTimeFormatter.ofPattern("yyyyMMdd-HHmmss", Locale.ROOT)
                .withZone(java.time.ZoneOffset.UTC).format(clock.instant());
        StringBuilder tail = new StringBuilder();
        java.util.concurrent.ThreadLocalRandom random = java.util.concurrent.ThreadLocalRandom.current();
        for (int i = 0; i < 4; i++) {
            tail.append((char) ('a' + random.nextInt(26)));
        }
        return "enqueue-" + when + "-" + tail;
    }

    private static String abbreviate(String s) {
        return s.length() <= 40 ? s : s.substring(0, 37) + "...";
    }
}
