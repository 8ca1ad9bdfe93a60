package dev.sluice.coordinator.ingest;

import dev.sluice.common.event.EventCodec;
import dev.sluice.common.health.LoopWatch;
import dev.sluice.coordinator.internal.LogThrottle;
import dev.sluice.coordinator.state.ClusterState;
import dev.sluice.coordinator.state.EventsGap;
import dev.sluice.coordinator.state.Rejection;
import org.apache.kafka.clients.consumer.CloseOptions;
import org.apache.kafka.clients.consumer.Consumer;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRebalanceListener;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.ConsumerRecords;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndTimestamp;
import org.apache.kafka.common.KafkaException;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.RecordDeserializationException;
import org.apache.kafka.common.errors.WakeupException;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.Collection;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.function.Function;

/**
 * Consumes the events topic in the coordinator's consumer group and applies every event to the {@link ClusterState}.
 * A record that is not a readable event is counted by reason ({@link IngestStats}) and skipped; an event the state
 * refuses (values out of bounds, no room for another node) or fails to apply is counted as rejected and logged at
 * most once a minute per reason; nothing on the topic stops the consumer.
 *
 * <p>Rebuilding after a start: the state lives in memory, so when a partition is first assigned the consumer seeks
 * back to the events of the last {@code replay} (offsets for times) and reads forward from there, whatever the
 * group's committed offset; events read again this way are observed at their record timestamp (never later than
 * now, nor earlier than the replay reaches back), live ones at the coordinator's clock. The time a node wrote into an
 * event is never used to judge it. It is {@link #caughtUp()} once it has read every assigned partition up
 * to the end offset it had at assignment. A partition assigned again later (a rebalance) resumes where this consumer
 * left it, so no event is applied twice.
 *
 * <p>Currency: about every {@value #PROBE_INTERVAL_MS} ms the consumer asks the broker for the end offsets. When it
 * has read up to them, the state is current as of that probe ({@link #currentAsOf()}); when it has at least read
 * everything that existed at the previous probe, as of the previous one. While Kafka is unreachable or the consumer
 * lags, that time stands still, and the coordinator judges liveness at it rather than calling every node down.
 * When it moves on by more than {@link #GAP} at once, the stretch it stood still is the {@link #lastGap()}: the
 * nodes' silence within it is not held against them, since their events could not arrive (after an outage a node's
 * producer may reconnect a few seconds after this consumer does).
 *
 * <p>A consumer that fails in a way the Kafka client does not recover from (anything but a {@link KafkaException}
 * from {@code poll}, e.g. the classic consumer's heartbeat thread dying on an {@link IllegalStateException}) is
 * closed and replaced by a new one in the same group after a pause, {@link #ERROR_PAUSE} doubled for every further
 * failure in a row up to {@link #MAX_RESTART_PAUSE}; it resumes every partition where the failed one left it, so
 * nothing is applied twice and nothing is skipped. Counted in {@link IngestStats#consumerRestarts()}. An
 * {@link Error} ends the consumer's thread: the {@link LoopWatch} reports it (and a {@link VirtualMachineError} ends
 * the process), as it reports a consumer that has not come round for three of its rounds.
 */
public final class EventConsumer implements AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(EventConsumer.class);
    private static final Duration POLL = Duration.ofMillis(200);
    private static final Duration ERROR_PAUSE = Duration.ofSeconds(1);
    private static final Duration MAX_RESTART_PAUSE = Duration.ofSeconds(30);
    static final long PROBE_INTERVAL_MS = 250;
    private static final Duration PROBE_TIMEOUT = Duration.ofSeconds(1);
    /** A standstill of {@link #currentAsOf()} longer than this is a gap in the events; normal steps are 0.25-0.5 s. */
    static final Duration GAP = Duration.ofSeconds(2);
    /**
     * The longest a round of the loop may take when all is well: a Kafka call in it (the offsets looked up at
     * assignment, a position) may wait {@code default.api.timeout.ms}, 60 s by default, and a replacement waits up
     * to {@link #MAX_RESTART_PAUSE}.
     */
    static final Duration LONGEST_ROUND = Duration.ofSeconds(60);

    private final Map<String, Object> clientConfig;
    private final String topic;
    private final Duration replay;
    private final ClusterState state;
    private final IngestStats stats;
    private final Clock clock;
    private final LogThrottle logs = new LogThrottle(Duration.ofMinutes(1));

    /** Next offset to read per partition this consumer has read; survives rebalances. */
    private final Map<TopicPartition, Long> resumeAt = new ConcurrentHashMap<>();
    /** End offsets at assignment: records below them are read again, not live. */
    private final Map<TopicPartition, Long> catchUpTo = new ConcurrentHashMap<>();
    private final CountDownLatch caughtUp = new CountDownLatch(1);
    private volatile Instant currentAsOf;
    private volatile EventsGap lastGap;
    private Instant lastProbe;
    private Map<TopicPartition, Long> lastProbeEnds = Map.of();
    /** Whether the current consumer has polled successfully: a failure after that starts the backoff again. */
    private boolean polled;
    private volatile boolean running;
    private final Function<Map<String, Object>, Consumer<String, byte[]>> clients;
    private final LoopWatch watch;
    private LoopWatch.Loop loop;
    private Map<String, Object> consumerConfig;
    private volatile Consumer<String, byte[]> consumer;
    private Thread thread;

    /**
     * @param clientConfig  bootstrap servers, group id and client properties ({@code [kafka] properties})
     * @param topic         the events topic
     * @param replay        how far back to read on first assignment
     * @param watch         watches the consumer's thread, and takes its errors
     */
    public EventConsumer(Map<String, Object> clientConfig, String topic, Duration replay, ClusterState state,
                         IngestStats stats, Clock clock, LoopWatch watch) {
        this(clientConfig, topic, replay, state, stats, clock, watch, KafkaConsumer::new);
    }

    /** As above, with the Kafka consumers made by {@code clients} (tests). */
    EventConsumer(Map<String, Object> clientConfig, String topic, Duration replay, ClusterState state,
                  IngestStats stats, Clock clock, Function<Map<String, Object>, Consumer<String, byte[]>> clients) {
        this(clientConfig, topic, replay, state, stats, clock, LoopWatch.forCoordinator(), clients);
    }

    /** As above, watched by {@code watch}, with the Kafka consumers made by {@code clients} (tests). */
    EventConsumer(Map<String, Object> clientConfig, String topic, Duration replay, ClusterState state,
                  IngestStats stats, Clock clock, LoopWatch watch,
                  Function<Map<String, Object>, Consumer<String, byte[]>> clients) {
        this.clients = clients;
        this.watch = watch;
        this.clientConfig = Map.copyOf(clientConfig);
        this.topic = topic;
        this.replay = replay;
        this.state = state;
        this.stats = stats;
        this.clock = clock;
    }

    public synchronized void start() {
        if (thread != null) {
            return;
        }
        Map<String, Object> config = new HashMap<>(clientConfig);
        config.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class.getName());
        config.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class.getName());
        config.putIfAbsent(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "latest");
        config.putIfAbsent(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "true");
        config.putIfAbsent(ConsumerConfig.CLIENT_ID_CONFIG, "sluice-coordinator-events");
        consumerConfig = Map.copyOf(config);
        consumer = clients.apply(consumerConfig);
        running = true;
        loop = watch.register("events-consumer", LONGEST_ROUND, () -> true);
        thread = Thread.ofPlatform().name("sluice-events-consumer").daemon()
                .uncaughtExceptionHandler(watch.uncaughtHandler()).start(this::run);
    }

    /** True once every assigned partition has been read up to its end offset at assignment. */
    public boolean caughtUp() {
        return caughtUp.getCount() == 0;
    }

    private void run() {
        int failuresInARow = 0;
        boolean ended = false;
        try {
            while (running) {
                loop.tick();
                try {
                    polled = false;
                    consume();
                } catch (WakeupException e) {
                    break;
                } catch (RuntimeException e) {
                    if (!running) {
                        break;
                    }
                    failuresInARow = polled ? 1 : failuresInARow + 1;
                    Duration wait = restartPause(failuresInARow);
                    stats.consumerRestarted();
                    log.error("the events consumer failed ({}, {} in a row); replacing it with a new one in {}", e,
                            failuresInARow, wait, e);
                    closeQuietly(consumer, Duration.ofSeconds(2));
                    pause(wait);
                    synchronized (this) {
                        if (!running) {
                            break;
                        }
                        consumer = clients.apply(consumerConfig);
                    }
                }
            }
            ended = true;
        } finally {
            closeQuietly(consumer, Duration.ofSeconds(5));
            if (ended) {
                loop.stopped();
            } else {
                loop.died();
            }
        }
    }

    /** The pause before replacing a consumer after the {@code failuresInARow}th failure: 1 s, 2 s, 4 s ... 30 s. */
    static Duration restartPause(int failuresInARow) {
        Duration wait = ERROR_PAUSE.multipliedBy(1L << Math.min(Math.max(failuresInARow, 1) - 1, 10));
        return wait.compareTo(MAX_RESTART_PAUSE) < 0 ? wait : MAX_RESTART_PAUSE;
    }

    private static void closeQuietly(Consumer<String, byte[]> c, Duration timeout) {
        try {
            c.close(CloseOptions.timeout(timeout));
        } catch (RuntimeException e) {
            log.debug("closing the events consumer", e);
        }
    }

    /** Subscribes and consumes until stopped; throws what it cannot recover from. */
    private void consume() {
        consumer.subscribe(List.of(topic), new Rebalance());
        while (running) {
            loop.tick();
            ConsumerRecords<String, byte[]> records;
            try {
                records = consumer.poll(POLL);
            } catch (RecordDeserializationException e) {
                stats.skipped("malformed");
                log.warn("skipping undeserializable record at {} offset {}: {}", e.topicPartition(), e.offset(),
                        e.getMessage());
                consumer.seek(e.topicPartition(), e.offset() + 1);
                continue;
            } catch (WakeupException e) {
                throw e;
            } catch (KafkaException e) {
                log.warn("polling {} failed, retrying in {}: {}", topic, ERROR_PAUSE, e.toString());
                pause(ERROR_PAUSE);
                continue;
            }
            polled = true;
            for (ConsumerRecord<String, byte[]> record : records) {
                handle(record);
            }
            checkCaughtUp();
            probe();
        }
    }

    private void handle(ConsumerRecord<String, byte[]> record) {
        TopicPartition partition = new TopicPartition(record.topic(), record.partition());
        resumeAt.put(partition, record.offset() + 1);
        Instant now = clock.instant();
        Long end = catchUpTo.get(partition);
        Instant observedAt = now;
        if (end != null && record.offset() < end && record.timestamp() >= 0) {
            Instant recorded = Instant.ofEpochMilli(record.timestamp());
            Instant earliest = now.minus(replay);
            observedAt = recorded.isAfter(now) ? now : recorded.isBefore(earliest) ? earliest : recorded;
        }
        try {
            switch (EventCodec.decode(record.value())) {
                case EventCodec.Decoded.Ok ok -> {
                    Optional<Rejection> rejected = state.apply(ok.event(), observedAt);
                    if (rejected.isPresent()) {
                        rejected(partition, record.offset(), rejected.get(), now);
                    } else {
                        stats.consumed(ok.event().type());
                    }
                }
                case EventCodec.Decoded.Skipped skipped -> {
                    stats.skipped(skipped.reason());
                    log.debug("skipped record {} offset {}: {} {}", partition, record.offset(), skipped.reason(),
                            skipped.detail());
                }
            }
        } catch (RuntimeException e) {
            stats.rejected(IngestStats.APPLY_FAILED);
            long held = logs.permit(IngestStats.APPLY_FAILED, now);
            if (held >= 0) {
                log.error("applying the event at {} offset {} failed; skipped it ({} more failed in the last {})",
                        partition, record.offset(), held, logs.period(), e);
            }
        }
    }

    private void rejected(TopicPartition partition, long offset, Rejection rejection, Instant now) {
        stats.rejected(rejection.reason());
        long held = logs.permit(rejection.reason(), now);
        if (held >= 0) {
            log.warn("rejected the event at {} offset {}: {} ({} more rejected as {} in the last {})", partition, offset,
                    rejection.detail(), held, rejection.reason(), logs.period());
        }
    }

    private void checkCaughtUp() {
        if (caughtUp() || catchUpTo.isEmpty()) {
            return;
        }
        for (Map.Entry<TopicPartition, Long> e : catchUpTo.entrySet()) {
            if (consumer.position(e.getKey()) < e.getValue()) {
                return;
            }
        }
        log.info("events consumer caught up with {} ({} partitions)", topic, catchUpTo.size());
        currentAsOf = clock.instant();
        caughtUp.countDown();
    }

    /**
     * Asks for the end offsets; if everything that existed at the previous probe has been read, the state is current
     * as of that probe.
     */
    private void probe() {
        Instant now = clock.instant();
        if (!caughtUp() || (lastProbe != null && now.isBefore(lastProbe.plusMillis(PROBE_INTERVAL_MS)))) {
            return;
        }
        var assigned = consumer.assignment();
        if (assigned.isEmpty()) {
            return;
        }
        Map<TopicPartition, Long> ends;
        try {
            ends = consumer.endOffsets(assigned, PROBE_TIMEOUT);
        } catch (KafkaException e) {
            log.debug("probing the end offsets of {} failed: {}", topic, e.toString());
            return;
        }
        if (readUpTo(ends)) {
            currentAs(now);
        } else if (lastProbe != null && readUpTo(lastProbeEnds)) {
            currentAs(lastProbe);
        }
        lastProbe = now;
        lastProbeEnds = ends;
    }

    private void currentAs(Instant at) {
        Instant before = currentAsOf;
        if (before != null && Duration.between(before, at).compareTo(GAP) > 0) {
            lastGap = new EventsGap(before, at);
            log.info("events current again after {} ms without ({} to {})", Duration.between(before, at).toMillis(),
                    before, at);
        }
        if (before == null || at.isAfter(before)) {
            currentAsOf = at;
        }
    }

    private boolean readUpTo(Map<TopicPartition, Long> ends) {
        for (Map.Entry<TopicPartition, Long> e : ends.entrySet()) {
            if (consumer.assignment().contains(e.getKey()) && consumer.position(e.getKey()) < e.getValue()) {
                return false;
            }
        }
        return true;
    }

    /**
     * The time up to which every event on the topic is known to have been read: recent while all is well, standing
     * still while Kafka is unreachable or the consumer lags; null until caught up (then the time it caught up).
     */
    public Instant currentAsOf() {
        return currentAsOf;
    }

    /** The latest stretch, since start, when {@link #currentAsOf()} stood still for more than {@link #GAP}; or null. */
    public EventsGap lastGap() {
        return lastGap;
    }

    private void pause(Duration wait) {
        try {
            Thread.sleep(wait);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            running = false;
        }
    }

    private final class Rebalance implements ConsumerRebalanceListener {
        @Override
        public void onPartitionsRevoked(Collection<TopicPartition> partitions) {
            partitions.forEach(catchUpTo::remove);
        }

        @Override
        public void onPartitionsAssigned(Collection<TopicPartition> partitions) {
            Map<TopicPartition, Long> times = new HashMap<>();
            for (TopicPartition p : partitions) {
                Long resume = resumeAt.get(p);
                if (resume != null) {
                    consumer.seek(p, resume);
                } else {
                    times.put(p, clock.instant().minus(replay).toEpochMilli());
                }
            }
            if (!times.isEmpty()) {
                Map<TopicPartition, OffsetAndTimestamp> found = consumer.offsetsForTimes(times);
                for (TopicPartition p : times.keySet()) {
                    OffsetAndTimestamp at = found.get(p);
                    if (at != null) {
                        consumer.seek(p, at.offset());
                    } else {
                        consumer.seekToEnd(List.of(p));
                    }
                }
            }
            catchUpTo.putAll(consumer.endOffsets(partitions));
            log.info("assigned {}; reading events of the last {} again to rebuild the cluster state", partitions, replay);
            checkCaughtUp();
        }
    }

    /** Stops consuming and closes the client. */
    @Override
    public void close() {
        Thread t;
        synchronized (this) {
            t = thread;
            running = false;
        }
        if (t == null) {
            return;
        }
        consumer.wakeup();
        try {
            t.join(Duration.ofSeconds(10));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
