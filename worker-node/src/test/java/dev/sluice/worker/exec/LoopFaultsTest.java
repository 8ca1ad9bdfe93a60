package dev.sluice.worker.exec;

import dev.sluice.common.config.SluiceConfig;
import dev.sluice.common.job.Job;
import dev.sluice.control.DeadLetterEntry;
import dev.sluice.testkit.RedisExtension;
import dev.sluice.worker.TestConfigs;
import dev.sluice.worker.handler.HandlerRegistry;
import dev.sluice.worker.handler.JobContext;
import dev.sluice.worker.handler.JobHandler;
import dev.sluice.common.health.LoopWatch;
import dev.sluice.worker.pool.RedisConnections;
import dev.sluice.worker.pool.RedisErrors;
import dev.sluice.worker.queue.Completion;
import dev.sluice.worker.queue.Delivery;
import dev.sluice.worker.queue.Enqueued;
import dev.sluice.worker.queue.JobQueue;
import dev.sluice.worker.queue.QueueStats;
import dev.sluice.worker.queue.Refused;
import dev.sluice.worker.queue.stream.StreamJobQueue;
import dev.sluice.worker.sink.KafkaErrors;
import dev.sluice.worker.sink.RedisSink;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import redis.clients.jedis.Jedis;
import redis.clients.jedis.args.ClientPauseMode;
import redis.clients.jedis.exceptions.JedisConnectionException;

import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.BooleanSupplier;
import java.util.stream.IntStream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * No zombie: every long-lived loop of a node restarts after an exception, a fatal error marks the node dead and
 * asks to exit, and a loop that dies or freezes while it has work fails liveness. Faults come from test
 * collaborators (a queue that throws or blocks on cue, a handler that throws an Error) around the real stream queue
 * on a real redis-server; the watch runs on a clock the test moves, so "three periods, at least 30 s" is judged
 * without waiting 30 s.
 */
class LoopFaultsTest {

    @RegisterExtension
    static final RedisExtension redis = RedisExtension.builder().build();

    private final AtomicLong now = new AtomicLong(1_000_000_000L);
    private final List<Throwable> exits = new CopyOnWriteArrayList<>();
    private final LoopWatch watch = new LoopWatch(now::get, LoopWatch.MINIMUM_STALL, exits::add);
    private final List<AutoCloseable> closing = new ArrayList<>();

    @AfterEach
    void closeAll() throws Exception {
        release.countDown();
        for (int i = closing.size() - 1; i >= 0; i--) {
            closing.get(i).close();
        }
    }

    private final CountDownLatch release = new CountDownLatch(1);

    /** The real stream queue, with faults on cue. */
    private final class FaultyQueue implements JobQueue {
        final JobQueue real;
        final AtomicInteger fetchErrors = new AtomicInteger();
        final AtomicBoolean freezeFetch = new AtomicBoolean();
        final AtomicBoolean freezeComplete = new AtomicBoolean();
        final AtomicBoolean keepAliveError = new AtomicBoolean();
        final AtomicBoolean freezeStats = new AtomicBoolean();

        FaultyQueue(JobQueue real) {
            this.real = real;
        }

        private void freezeIf(AtomicBoolean cue) {
            if (cue.get()) {
                try {
                    release.await();
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            }
        }

        @Override
        public String mode() {
            return real.mode();
        }

        @Override
        public void start() {
            real.start();
        }

        @Override
        public List<Delivery> fetch(int max, Duration block) {
            if (fetchErrors.getAndUpdate(n -> Math.max(0, n - 1)) > 0) {
                throw new OutOfMemoryError("injected into the fetcher");
            }
            freezeIf(freezeFetch);
            return real.fetch(max, block);
        }

        @Override
        public List<Delivery> reclaim(int max) {
            return real.reclaim(max);
        }

        @Override
        public List<Delivery> reclaimFrom(String deadNodeId, int max) {
            return real.reclaimFrom(deadNodeId, max);
        }

        @Override
        public List<Refused> complete(List<Completion> batch) {
            freezeIf(freezeComplete);
            return real.complete(batch);
        }

        @Override
        public void keepAlive(Collection<Delivery> inFlight) {
            if (keepAliveError.get()) {
                throw new StackOverflowError("injected into keep-alive");
            }
            real.keepAlive(inFlight);
        }

        @Override
        public int promoteDue(int max) {
            return real.promoteDue(max);
        }

        @Override
        public Enqueued enqueue(List<Job> jobs) {
            return real.enqueue(jobs);
        }

        @Override
        public Enqueued enqueueRaw(List<String> elements) {
            return real.enqueueRaw(elements);
        }

        @Override
        public QueueStats stats() {
            freezeIf(freezeStats);
            return real.stats();
        }

        @Override
        public List<DeadLetterEntry> deadLetters(int count) {
            return real.deadLetters(count);
        }

        @Override
        public int replayDeadLetters(Collection<String> deadLetterIds) {
            return real.replayDeadLetters(deadLetterIds);
        }

        @Override
        public long trimDeadLetters() {
            return real.trimDeadLetters();
        }

        @Override
        public void close() {
            real.close();
        }
    }

    /** Counts jobs; a job whose key starts with "error" throws an Error (not a VirtualMachineError). */
    private static final class CountingHandler implements JobHandler {
        final AtomicInteger done = new AtomicInteger();

        @Override
        public String type() {
            return "noop";
        }

        @Override
        public void handle(Job job, JobContext context) {
            if (job.key().startsWith("error")) {
                throw new AssertionError("injected into a job");
            }
            if (job.key().startsWith("redis-down")) {
                throw new JedisConnectionException("Failed to connect to 127.0.0.1:1",
                        new java.net.ConnectException("Connection refused"));
            }
            if (job.key().startsWith("too-large")) {
                throw new org.apache.kafka.common.errors.RecordTooLargeException("the result is 2097152 bytes");
            }
            done.incrementAndGet();
        }
    }

    private final CountingHandler handler = new CountingHandler();
    private final SimpleMeterRegistry meters = new SimpleMeterRegistry();

    private FaultyQueue queue() {
        SluiceConfig config = TestConfigs.config(redis.url(), "redis.pool_size", "4", "queue.stream",
                "loop-faults:" + ThreadLocalRandom.current().nextLong(1L << 40));
        RedisConnections connections = new RedisConnections(config.redis(), "node-a");
        closing.add(connections);
        StreamJobQueue real = new StreamJobQueue(config.queue(), "node-a", connections, Clock.systemUTC());
        closing.add(real);
        real.start();
        return new FaultyQueue(real);
    }

    private Worker worker(FaultyQueue queue, int concurrency, BooleanSupplier underPressure) {
        Worker.Settings settings = new Worker.Settings(concurrency, Duration.ofMillis(100), Duration.ofMillis(50),
                Duration.ofSeconds(2), 3, 5, Duration.ofSeconds(5), Duration.ofMillis(100));
        Worker worker = new Worker(settings, queue, HandlerRegistry.of(List.of(handler)), null, null,
                new Backoff(TestConfigs.config(redis.url(), "retry.base_delay_ms", "20", "retry.max_delay_ms", "100").retry(),
                        ThreadLocalRandom.current()), underPressure,
                () -> false, RedisErrors.TRANSLATOR.or(KafkaErrors.TRANSLATOR), meters, watch);
        closing.add(worker);
        worker.start();
        return worker;
    }

    private static List<Job> jobs(String prefix, int n) {
        return IntStream.range(0, n).mapToObj(i -> Job.of("noop", prefix + i)).toList();
    }

    /** Moves the watch's clock past every loop's limit, then lets live loops come round once more. */
    private void standStillForAMinute() {
        now.addAndGet(Duration.ofSeconds(61).toNanos());
    }

    @Test
    void anExceptionEscapingTheFetcherRestartsItAndJobsGoOn() {
        FaultyQueue queue = queue();
        AtomicInteger throwsLeft = new AtomicInteger(3);
        worker(queue, 10, () -> {
            if (throwsLeft.getAndUpdate(n -> Math.max(0, n - 1)) > 0) {
                throw new IllegalStateException("injected into the fetcher's pressure check");
            }
            return false;
        });
        queue.enqueue(jobs("k", 50));
        await().atMost(Duration.ofSeconds(20)).until(() -> handler.done.get() == 50);
        assertThat(throwsLeft.get()).isZero();
        assertThat(exits).isEmpty();
        assertThat(watch.problems()).isEmpty();
    }

    @Test
    void aVirtualMachineErrorInTheFetcherMarksTheNodeDeadAndAsksToExit() {
        FaultyQueue queue = queue();
        queue.fetchErrors.set(1);
        worker(queue, 10, () -> false);
        await().atMost(Duration.ofSeconds(10)).until(() -> !exits.isEmpty());
        assertThat(exits.getFirst()).isInstanceOf(OutOfMemoryError.class);
        assertThat(watch.problems()).anySatisfy(p -> assertThat(p).startsWith("fatal error").contains("sluice-fetcher"));
    }

    @Test
    void aFrozenFetcherFailsLivenessAndALiveOneDoesNot() {
        FaultyQueue queue = queue();
        worker(queue, 10, () -> false);
        queue.enqueue(jobs("k", 5));
        await().atMost(Duration.ofSeconds(10)).until(() -> handler.done.get() == 5);
        standStillForAMinute();
        // A live fetcher comes round within its blocking read (100 ms) and is judged alive again.
        await().atMost(Duration.ofSeconds(5)).until(() -> watch.problems().isEmpty());

        queue.freezeFetch.set(true);
        await().pollDelay(Duration.ofMillis(500)).atMost(Duration.ofSeconds(2)).until(() -> true);
        standStillForAMinute();
        assertThat(watch.problems()).singleElement().satisfies(p -> assertThat(p).startsWith("fetcher has work"));
        assertThat(exits).isEmpty();
    }

    @Test
    void aFrozenCompleterWithWorkFailsLiveness() {
        FaultyQueue queue = queue();
        worker(queue, 10, () -> false);
        queue.freezeComplete.set(true);
        queue.enqueue(jobs("k", 3));
        await().atMost(Duration.ofSeconds(10)).until(() -> handler.done.get() == 3);
        await().pollDelay(Duration.ofMillis(500)).atMost(Duration.ofSeconds(2)).until(() -> true);
        standStillForAMinute();
        // The fetcher comes round again within its blocking read; the frozen completer never does.
        await().atMost(Duration.ofSeconds(5)).untilAsserted(() -> assertThat(watch.problems()).singleElement()
                .satisfies(p -> assertThat(p).startsWith("completer has work")));
    }

    @Test
    void anErrorInAJobIsThatJobsFailureRetriedThenDeadLetteredAndItsSlotComesBack() {
        FaultyQueue queue = queue();
        Worker worker = worker(queue, 1, () -> false);
        queue.enqueue(List.of(Job.of("noop", "error-1")));
        queue.enqueue(jobs("k", 5));
        // One slot: had the Error leaked it, nothing after the first job would run.
        await().atMost(Duration.ofSeconds(10)).until(() -> handler.done.get() == 5);
        await().atMost(Duration.ofSeconds(60)).untilAsserted(() -> {
            assertThat(queue.stats().dead()).isEqualTo(1);
            assertThat(queue.stats().backlog()).isZero();
        });
        DeadLetterEntry dead = queue.deadLetters(1).getFirst();
        assertThat(dead.jobId()).isEqualTo("noop:error-1");
        assertThat(dead.reason()).contains("handler threw java.lang.AssertionError: injected into a job");
        await().atMost(Duration.ofSeconds(5)).until(() -> worker.inFlightCount() == 0);
        assertThat(exits).isEmpty();
    }

    /**
     * A handler that lets out an exception of the node's own Redis or Kafka client gets the kind that client's
     * adapter gives it (the node's wiring, {@code RedisErrors} or {@code KafkaErrors}), not {@code INTERNAL}: an
     * unreachable Redis is retried, a result too large for Kafka is dead-lettered at its first attempt.
     */
    @Test
    void aClientExceptionFromAHandlerKeepsItsClientsKind() {
        FaultyQueue queue = queue();
        worker(queue, 2, () -> false);
        queue.enqueue(List.of(Job.of("noop", "too-large-1"), Job.of("noop", "redis-down-1")));
        await().atMost(Duration.ofSeconds(20)).untilAsserted(() -> {
            assertThat(meters.find("sluice.jobs").tag("kind", "bad-job").counter()).isNotNull();
            assertThat(meters.find("sluice.jobs").tag("kind", "redis-unavailable").counter()).isNotNull();
        });
        assertThat(meters.find("sluice.jobs").tag("kind", "bad-job").tag("outcome", "dead").counter().count())
                .as("too large for Kafka: dead-lettered at once").isEqualTo(1.0);
        assertThat(meters.find("sluice.jobs").tag("kind", "redis-unavailable").tag("outcome", "retried").counter())
                .as("Redis unreachable: retried").isNotNull();
        assertThat(meters.find("sluice.jobs").tag("kind", "internal").counter()).isNull();
        DeadLetterEntry dead = queue.deadLetters(10).getFirst();
        assertThat(dead.jobId()).isEqualTo("noop:too-large-1");
    }

    @Test
    void anErrorInKeepAliveStopsThatLoopAndLivenessSaysSo() {
        FaultyQueue queue = queue();
        Worker worker = worker(queue, 10, () -> false);
        Maintenance maintenance = new Maintenance(queue, worker, Clock.systemUTC(), watch);
        closing.add(maintenance);
        queue.keepAliveError.set(true);
        maintenance.start(Duration.ofMillis(100));
        await().atMost(Duration.ofSeconds(10)).until(() -> !exits.isEmpty());
        assertThat(exits.getFirst()).isInstanceOf(StackOverflowError.class);
        standStillForAMinute();
        // The other tasks come round again (stats every 2 s); the keep-alive's schedule died with its error.
        await().atMost(Duration.ofSeconds(6)).untilAsserted(() -> assertThat(watch.problems())
                .allSatisfy(p -> assertThat(p).satisfiesAnyOf(
                        q -> assertThat(q).startsWith("fatal error: java.lang.StackOverflowError"),
                        q -> assertThat(q).startsWith("keep-alive has work")))
                .hasSize(2));
    }

    @Test
    void aFrozenStatisticsTaskFailsLiveness() {
        FaultyQueue queue = queue();
        Worker worker = worker(queue, 10, () -> false);
        Maintenance maintenance = new Maintenance(queue, worker, Clock.systemUTC(), watch);
        closing.add(maintenance);
        queue.freezeStats.set(true);
        maintenance.start(Duration.ofMillis(100));
        await().pollDelay(Duration.ofMillis(500)).atMost(Duration.ofSeconds(2)).until(() -> true);
        standStillForAMinute();
        // Keep-alive shares the thread and stands still behind it: both are reported, the fetcher is not.
        await().atMost(Duration.ofSeconds(5)).untilAsserted(() -> assertThat(watch.problems())
                .anySatisfy(p -> assertThat(p).startsWith("stats has work"))
                .noneSatisfy(p -> assertThat(p).startsWith("fetcher")));
    }

    @Test
    void aSinkWriterHeldByRedisFailsLivenessAndComesBackWhenRedisAnswers() throws Exception {
        SluiceConfig config = TestConfigs.config(redis.url(), "redis.pool_size", "4", "redis.connection_timeout_ms", "60000");
        RedisConnections connections = new RedisConnections(config.redis(), "node-a");
        closing.add(connections);
        RedisSink sink = new RedisSink(connections, "loop-faults:result:", 1, watch);
        closing.add(sink);
        try (Jedis j = redis.server().newJedis()) {
            // Redis holds every write (a real fault: CLIENT PAUSE); the writer waits inside its SET.
            j.clientPause(20_000, ClientPauseMode.WRITE);
            try {
                Thread writer = Thread.ofVirtual().start(() -> {
                    try {
                        sink.write(Job.of("noop", "held"), new byte[] {1});
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                    }
                });
                await().pollDelay(Duration.ofMillis(500)).atMost(Duration.ofSeconds(2)).until(() -> true);
                standStillForAMinute();
                assertThat(watch.problems()).singleElement().satisfies(p -> assertThat(p).startsWith("sink-writer has work"));
                j.clientUnpause();
                writer.join(Duration.ofSeconds(10));
                assertThat(writer.isAlive()).isFalse();
            } finally {
                j.clientUnpause();
            }
            assertThat(j.exists("loop-faults:result:noop:held")).isTrue();
        }
        await().atMost(Duration.ofSeconds(5)).until(() -> watch.problems().isEmpty());
    }
}
