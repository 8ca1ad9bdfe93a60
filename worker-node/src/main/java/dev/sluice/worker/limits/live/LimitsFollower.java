package dev.sluice.worker.limits.live;

import dev.sluice.common.event.EventPayload;
import dev.sluice.control.FleetLimits;
import dev.sluice.control.FleetRecord;
import dev.sluice.control.FleetState;
import dev.sluice.control.Pause;
import dev.sluice.worker.limits.fleet.FleetHubLimiter;
import dev.sluice.worker.pool.RedisCalls;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.binder.MeterBinder;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.function.Consumer;
import java.util.function.LongSupplier;

/**
 * Keeps a node on the fleet's record ({@link FleetRecord}): reads it a few times a second (seeding the limits from
 * this node's configuration when there are none), hands every newer limits version to the fleet limiter (when the
 * node has one), says when the file differs from what the fleet follows, tells the node when the fleet is paused or
 * resumed, and publishes each version it takes up on Kafka. Runs on the node's lease thread and connection, so a busy
 * pool never delays a change.
 */
public final class LimitsFollower implements MeterBinder {
    private static final Logger log = LoggerFactory.getLogger(LimitsFollower.class);

    private final FleetRecord record;
    private final FleetHubLimiter limiter;
    private final int fileRps;
    private final int fileInFlight;
    private final String nodeId;
    private final Consumer<EventPayload> publish;
    private final Consumer<Pause> onPause;
    private final LongSupplier nanoTime;
    private volatile FleetLimits current;
    private volatile Pause pause = Pause.NEVER;
    private volatile String problem;
    /** Whether versions are published yet: not before the node announced its start (see {@link #startAnnouncing}). */
    private boolean announcing;
    private long announcedVersion;
    private long announcedPauseAt = -1;
    /** The newest version of the record read, for noticing one that went back. */
    private long seenVersion;
    private boolean pauseRead;

    /**
     * @param limiter      the node's fleet limiter, or null for a node that keeps the Hub's limits alone (it follows
     *                     the pause only)
     * @param fileRps      hub.max_requests_per_second in this node's configuration
     * @param fileInFlight hub.max_concurrent_connections in this node's configuration
     * @param publish      where the versions this node takes up go (Kafka)
     * @param onPause      told of the fleet's pause at the first read and at every change
     */
    public LimitsFollower(FleetRecord record, FleetHubLimiter limiter, int fileRps, int fileInFlight, String nodeId,
                          Consumer<EventPayload> publish, Consumer<Pause> onPause, LongSupplier nanoTime) {
        this.record = record;
        this.limiter = limiter;
        this.fileRps = fileRps;
        this.fileInFlight = fileInFlight;
        this.nodeId = nodeId;
        this.publish = publish;
        this.onPause = onPause;
        this.nanoTime = nanoTime;
        if (limiter != null) {
            limiter.expectFleetLimits();
        }
    }

    /**
     * One read of the record: the limiter moved to a newer limits version, the node told of a pause. A failure to
     * reach Redis is thrown; the limiter's view then ages, and it reserves one token at a time until the next read
     * succeeds.
     */
    public synchronized void step(RedisCalls redis) {
        long started = nanoTime.getAsLong();
        FleetState state;
        try {
            // A node with a fleet limiter seeds the limits from its file when there are none; one without only reads
            // (it keeps its file's limits for itself and must not impose them on a fleet).
            state = redis.withJedis(j -> limiter != null ? record.readOrSeed(j, fileRps, fileInFlight, nodeId)
                    : record.read(j));
        } catch (FleetRecord.BadRecord e) {
            if (!e.getMessage().equals(problem)) {
                log.error("{}; this node keeps following {}", e.getMessage(),
                        current == null ? "its configuration" : current.describe());
            }
            problem = e.getMessage();
            followPause(redis.withJedis(record::readPause), redis, -1); // the pause holds whatever the limits say
            return;
        }
        problem = null;
        if (state == null || state.limits() == null) {
            followPause(state == null ? Pause.NEVER : state.pause(), redis, state == null ? 0 : state.version());
            return;
        }
        FleetLimits fleet = state.limits();
        FleetLimits before = current;
        if (before != null && fleet.version() < before.version()) {
            // Redis went back to an older copy (a restart from an older snapshot): the fleet's store knows the newer
            // version and would keep it. The record's values are issued again as a newer version, which every node
            // and the store then take up.
            log.warn("the fleet's limits record went back from {} to {}: Redis lost a change; issuing its values again",
                    before.describe(), fleet.describe());
            FleetLimits older = fleet;
            FleetRecord.Change again = redis.withJedis(j -> record.setLimits(j, older.version(), older.maxPerSecond(),
                    older.maxInFlight(), "node " + nodeId + " (the record went back from version " + before.version()
                            + ")"));
            if (again.limits() == null) {
                return;
            }
            state = again.record();
            fleet = again.limits();
        }
        if (before == null || fleet.version() > before.version()) {
            if (limiter != null) {
                limiter.followLimits(fleet.version(), fleet.maxPerSecond(), fleet.maxInFlight());
            }
            current = fleet;
            if (limiter == null) {
                log.info("the fleet's record {} says {} per second and {} in flight ({}); this node has no fleet "
                                + "limiter and keeps its configuration's {} and {} for itself", record.key(),
                        fleet.maxPerSecond(), fleet.maxInFlight(), fleet.describe(), fileRps, fileInFlight);
            } else if (fleet.maxPerSecond() != fileRps || fleet.maxInFlight() != fileInFlight) {
                log.warn("this node's configuration says {} requests per second and {} in flight "
                                + "(hub.max_requests_per_second, hub.max_concurrent_connections), but the fleet's limits are "
                                + "{} and {} ({}, in {}); following the fleet's", fileRps, fileInFlight,
                        fleet.maxPerSecond(), fleet.maxInFlight(), fleet.describe(), record.key());
            } else {
                log.info("fleet Hub limits: {} per second, {} in flight ({})", fleet.maxPerSecond(), fleet.maxInFlight(),
                        fleet.describe());
            }
            announce(fleet);
        }
        followPause(state.pause(), redis, state.version());
        if (limiter != null) {
            limiter.limitsRead(started); // only after the limiter has the version this read saw
        }
    }

    /**
     * Takes up the fleet's pause as read at record version {@code version} (-1: not known). A record that went back
     * to an older version (Redis restarted from an older snapshot) and lost a pause is paused again: a pause must
     * survive whatever Redis does, and a resume that was lost is only a pause that lasts until someone resumes again.
     */
    private void followPause(Pause now, RedisCalls redis, long version) {
        if (version >= 0 && version < seenVersion && pause.paused() && !now.paused()) {
            Pause lost = pause;
            log.warn("the fleet's record went back from version {} to {} and lost its pause ({}); pausing again",
                    seenVersion, version, lost.describe());
            FleetRecord.Change again = redis.withJedis(j -> record.setPaused(j, true, lost.by(), lost.reason()
                    + (lost.reason().isEmpty() ? "" : "; ") + "paused again by node " + nodeId + " after Redis lost it"));
            now = again.record().pause();
            version = again.record().version();
        }
        if (version > seenVersion) {
            seenVersion = version;
        }
        if (now.paused() != pause.paused() || !pauseRead) {
            if (now.paused() || pause.paused()) {
                log.warn("the fleet is {}: {}", now.paused() ? "PAUSED (nothing new goes to the Hub)" : "resumed",
                        now.describe());
            }
            pause = now;
            pauseRead = true;
            onPause.accept(now);
            announcePause(now);
        }
        pause = now;
    }

    /**
     * Publishes the version followed now and every later one. A node calls it after its node-started event: the
     * coordinator takes an event of a new run that comes before that for a restart it did not see.
     */
    public synchronized void startAnnouncing() {
        announcing = true;
        if (current != null) {
            announce(current);
        }
        announcePause(pause);
    }

    private void announce(FleetLimits fleet) {
        if (!announcing || fleet.version() <= announcedVersion) {
            return;
        }
        publish.accept(new EventPayload.LimitsChanged(fleet.version(), fleet.maxPerSecond(), fleet.maxInFlight(),
                fleet.changedBy(), fleet.changedAtMs(), announcedVersion));
        announcedVersion = fleet.version();
    }

    private void announcePause(Pause p) {
        if (!announcing || p.atMs() == 0 || p.atMs() == announcedPauseAt) {
            return;
        }
        publish.accept(new EventPayload.PauseChanged(p.paused(), p.by(), p.atMs(), p.reason()));
        announcedPauseAt = p.atMs();
    }

    /**
     * The fleet's pause and the limits this node keeps ({@code sluice_fleet_*}): the live record's with a fleet
     * limiter, else the file's.
     */
    @Override
    public void bindTo(MeterRegistry meters) {
        Gauge.builder("sluice.fleet.paused", this, f -> f.pause().paused() ? 1 : 0)
                .description("1 while the fleet's record says the fleet is paused (sluice pause, the dashboard)")
                .register(meters);
        Gauge.builder("sluice.fleet.limit.requests_per_second", this,
                        f -> limiter == null || f.current() == null ? fileRps : f.current().maxPerSecond())
                .description("The Hub rate limit this node keeps: the fleet's live limits record with a fleet limiter, "
                        + "else its file's").register(meters);
        Gauge.builder("sluice.fleet.limit.in_flight", this,
                        f -> limiter == null || f.current() == null ? fileInFlight : f.current().maxInFlight())
                .description("The fleet's Hub in-flight limit this node follows").register(meters);
    }

    /** The fleet's limits this node follows, or null before its first read. */
    public FleetLimits current() {
        return current;
    }

    /** The fleet's pause as this node last read it. */
    public Pause pause() {
        return pause;
    }

    /** What {@code /api/status} shows of the limits: the value, where it comes from, and the file's. */
    public Map<String, Object> status() {
        FleetLimits now = current;
        Map<String, Object> s = new LinkedHashMap<>();
        if (now == null) {
            s.put("maxRequestsPerSecond", fileRps);
            s.put("maxInFlight", fileInFlight);
            s.put("source", "configuration file (the fleet's record not read yet)");
        } else {
            s.put("maxRequestsPerSecond", now.maxPerSecond());
            s.put("maxInFlight", now.maxInFlight());
            s.put("version", now.version());
            s.put("source", "fleet record " + record.key() + " (" + now.describe() + ")");
            s.put("changedBy", now.changedBy());
            s.put("changedAt", java.time.Instant.ofEpochMilli(now.changedAtMs()).toString());
        }
        s.put("configurationFile", Map.of("maxRequestsPerSecond", fileRps, "maxInFlight", fileInFlight));
        s.put("followsConfigurationFile", now == null
                || (now.maxPerSecond() == fileRps && now.maxInFlight() == fileInFlight));
        if (limiter == null) {
            s.put("enforcedBy", "this node alone (no fleet limiter): its configuration's limits");
        }
        s.put("pause", pause.toMap());
        if (problem != null) {
            s.put("problem", problem);
        }
        return s;
    }
}
