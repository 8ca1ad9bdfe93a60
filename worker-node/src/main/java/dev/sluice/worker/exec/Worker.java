package dev.sluice.worker.exec;

import dev.sluice.common.error.ErrorClassifier;
import dev.sluice.common.error.ErrorKind;
import dev.sluice.common.error.SluiceException;
import dev.sluice.common.job.Job;
import dev.sluice.worker.handler.HandlerRegistry;
import dev.sluice.common.health.LoopWatch;
import dev.sluice.common.health.Loops;
import dev.sluice.worker.handler.JobContext;
import dev.sluice.worker.handler.JobHandler;
import dev.sluice.worker.hub.HubClient;
import dev.sluice.worker.queue.Completion;
import dev.sluice.worker.queue.Delivery;
import dev.sluice.worker.queue.JobQueue;
import dev.sluice.worker.sink.ResultSink;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.BooleanSupplier;

/**
 * Runs jobs: one fetcher thread reads batches no larger than the free job slots, each job runs on its own virtual
 * thread, and every outcome goes through the {@link Completer}.
 *
 * <p>The fetcher pauses while anything asks it to (pool pressure, an open breaker) and shortens its blocking read
 * while the pool is under pressure. Graceful drain: fetching stops, jobs that have not started their real work
 * (waiting for a Hub permit) are handed back to the queue at once, the rest get {@code drainTimeout} to finish,
 * and whatever still runs after that is handed back too (it may then run twice; sinks are idempotent).
 */
public final class Worker implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(Worker.class);
    private static final int MAX_FETCH = 1_000;

    /**
     * @param concurrency    job slots
     * @param block          blocking read timeout
     * @param pressureBlock  blocking read timeout while the pool is under pressure
     * @param drainTimeout   how long a drain waits for running jobs
     * @param maxAttempts    attempts (that ran the handler) before dead-lettering
     * @param maxDeliveries  deliveries before a job is taken for poison
     * @param reclaimEvery   how often the fetcher looks for dead nodes' jobs
     * @param promoteEvery   how often the fetcher moves due retries back to the queue (on its own connection, so
     *                       the keep-alive of running jobs never waits behind it)
     */
    public record Settings(int concurrency, Duration block, Duration pressureBlock, Duration drainTimeout,
                           int maxAttempts, int maxDeliveries, Duration reclaimEvery, Duration promoteEvery) {
    }

    private final class Running implements JobContext {
        final long seq;
        final Delivery delivery;
        volatile Thread thread;
        volatile boolean started;

        Running(long seq, Delivery delivery) {
            this.seq = seq;
            this.delivery = delivery;
        }

        @Override
        public byte[] callHub(String key) {
            if (hub == null) {
                throw new SluiceException(ErrorKind.INTERNAL, "this node has no Hub client");
            }
            return hub.fetch(key, new HubClient.StartSignal() {
                @Override
                public void started() {
                    started = true;
                }

                @Override
                public boolean mayStart() {
                    return !pausedBy.contains(FLEET_PAUSED);
                }
            });
        }

        @Override
        public void writeResult(Job job, byte[] result) throws InterruptedException {
            started = true;
            sink.write(job, result);
        }
    }

    private final Settings settings;
    private final JobQueue queue;
    private final HandlerRegistry handlers;
    private final HubClient hub;
    private final ResultSink sink;
    private final RetryPolicy policy;
    private final BooleanSupplier underPressure;
    private final Completer completer;
    private final Semaphore slots;
    // Keyed by a sequence, not the delivery's handle: a list may hold the same element twice.
    private final Map<Long, Running> running = new ConcurrentHashMap<>();
    private final AtomicLong dispatched = new AtomicLong();
    private final Set<String> pausedBy = ConcurrentHashMap.newKeySet();
    /** The pause source of a paused fleet: besides stopping the fetcher, it keeps jobs not yet sent from the Hub. */
    public static final String FLEET_PAUSED = "fleet-paused";
    private final CountDownLatch fetcherDone = new CountDownLatch(1);
    private final AtomicLong reclaimRequested = new AtomicLong();
    private final Set<String> goneNodes = ConcurrentHashMap.newKeySet();
    private final Timer fetchTimer;
    private final MeterRegistry meters;
    private final Counter fetchErrors;
    private final java.util.concurrent.atomic.LongAdder done = new java.util.concurrent.atomic.LongAdder();
    private final java.util.concurrent.atomic.LongAdder deadLettered = new java.util.concurrent.atomic.LongAdder();
    private final Map<String, java.util.concurrent.atomic.LongAdder> failedByKind = new ConcurrentHashMap<>();
    private final List<java.util.function.Consumer<Completion.DeadLetter>> deadLetterListeners =
            new java.util.concurrent.CopyOnWriteArrayList<>();
    private volatile boolean stopping;
    private volatile boolean idle;
    private volatile Thread fetcher;
    private final LoopWatch watch;
    private final LoopWatch.Loop fetcherLoop;
    private final BooleanSupplier promotionHeld;
    private final ErrorClassifier.Translator clientFailures;
    private static final int PROMOTE_BATCH = 500;

    /**
     * @param promotionHeld    true while due retries should stay where they are (Redis refuses writes)
     * @param clientFailures   what the node's client libraries' exceptions mean, for a handler that lets one out
     *                         (the node's own calls give their failures a kind where they happen)
     * @param watch            watches the fetcher and completer; its handler takes errors on every thread here
     */
    public Worker(Settings settings, JobQueue queue, HandlerRegistry handlers, HubClient hub, ResultSink sink,
                  Backoff backoff, BooleanSupplier underPressure, BooleanSupplier promotionHeld,
                  ErrorClassifier.Translator clientFailures, MeterRegistry meters, LoopWatch watch) {
        this.settings = settings;
        this.clientFailures = clientFailures;
        this.queue = queue;
        this.handlers = handlers;
        this.hub = hub;
        this.sink = sink;
        this.policy = new RetryPolicy(settings.maxAttempts(), settings.maxDeliveries(), backoff);
        this.underPressure = underPressure;
        this.meters = meters;
        this.watch = watch;
        this.promotionHeld = promotionHeld;
        this.completer = new Completer(queue, watch);
        this.fetcherLoop = watch.register("fetcher", settings.block().plusSeconds(5), () -> true);
        this.slots = new Semaphore(settings.concurrency());
        this.fetchTimer = Timer.builder("sluice.fetch").description("Time of one fetch from the queue")
                .publishPercentiles(0.5, 0.99).register(meters);
        this.fetchErrors = Counter.builder("sluice.fetch.errors")
                .description("Fetches from the queue that failed").register(meters);
        Gauge.builder("sluice.jobs.in_flight", running, Map::size)
                .description("Jobs this node is working on").register(meters);
        Gauge.builder("sluice.worker.paused", pausedBy, s -> s.isEmpty() ? 0 : 1)
                .description("1 while the fetcher is paused (pool pressure, open breaker, draining)").register(meters);
    }

    public void start() {
        fetcher = Thread.ofPlatform().name("sluice-fetcher").uncaughtExceptionHandler(watch.uncaughtHandler())
                .start(() -> {
                    boolean ended = false;
                    try {
                        Loops.restarting("fetcher", this::fetchLoop);
                        ended = true;
                        fetcherLoop.stopped();
                    } finally {
                        if (!ended) {
                            fetcherLoop.died();
                        }
                        fetcherDone.countDown();
                    }
                });
    }

    /**
     * Pauses or resumes fetching on behalf of {@code source} (e.g. "pool-pressure", "breaker-open"). A fleet pause
     * ({@link #FLEET_PAUSED}) also wakes the jobs that have not gone out yet (waiting for room, a permit or a token),
     * which then go back to the queue unattempted, so a pause reaches the Hub at once whatever the rate limit. (As in a
     * drain, a job that starts its request in the instant between the check and the interrupt has it cut and retried.)
     */
    public void setPaused(String source, boolean paused) {
        if (paused ? pausedBy.add(source) : pausedBy.remove(source)) {
            log.info("fetching {} ({})", paused ? "paused" : "resumed", source);
            if (paused && source.equals(FLEET_PAUSED)) {
                for (Running r : running.values()) {
                    Thread t = r.thread;
                    if (!r.started && t != null) {
                        t.interrupt();
                    }
                }
            }
        }
    }

    public Set<String> pausedBy() {
        return Set.copyOf(pausedBy);
    }

    /** Asks the fetcher to look for a dead node's jobs now rather than on its schedule. */
    public void requestReclaim() {
        reclaimRequested.incrementAndGet();
    }

    /**
     * Asks the fetcher to take over node {@code nodeId}'s in-flight jobs at once (the cluster reports it gone), ahead
     * of new jobs. Returns at once; the fetcher keeps claiming until nothing of that node is left.
     */
    public void reclaimFrom(String nodeId) {
        goneNodes.add(nodeId);
    }

    /** Nodes whose in-flight jobs the fetcher still has to take over. */
    public Set<String> pendingReclaims() {
        return Set.copyOf(goneNodes);
    }

    /** The deliveries this node is working on now. */
    public Collection<Delivery> inFlight() {
        List<Delivery> out = new ArrayList<>(running.size());
        running.values().forEach(r -> out.add(r.delivery));
        return out;
    }

    /** True while the fetcher is paused and holds no read in progress. */
    public boolean fetcherIdle() {
        return idle;
    }

    public int inFlightCount() {
        return running.size();
    }

    /** One fetcher's life: returns when the worker stops; an exception escaping it restarts it (see {@link Loops}). */
    private void fetchLoop() throws InterruptedException {
        long lastReclaim = 0;
        long lastPromote = 0;
        long seenReclaimRequests = 0;
        long errorBackoffMs = 100;
        while (!stopping) {
            fetcherLoop.tick();
            lastPromote = promoteIfDue(lastPromote);
            if (!pausedBy.isEmpty() || underPressure.getAsBoolean()) {
                idle = true;
                TimeUnit.MILLISECONDS.sleep(50);
                continue;
            }
            idle = false;
            if (!slots.tryAcquire(100, TimeUnit.MILLISECONDS)) {
                continue;
            }
            int free = 1 + slots.drainPermits();
            int want = Math.min(free, MAX_FETCH);
            slots.release(free - want);
            int used = 0;
            try {
                for (String gone : goneNodes) {
                    if (used >= want || stopping) {
                        break;
                    }
                    List<Delivery> claimed = queue.reclaimFrom(gone, want - used);
                    for (Delivery d : claimed) {
                        dispatch(d);
                        used++;
                    }
                    if (used < want) {
                        goneNodes.remove(gone); // it had fewer than we could take: nothing of it is left
                    }
                }
                long now = System.nanoTime();
                long requests = reclaimRequested.get();
                if (requests != seenReclaimRequests || now - lastReclaim >= settings.reclaimEvery().toNanos()) {
                    seenReclaimRequests = requests;
                    lastReclaim = now;
                    for (Delivery d : queue.reclaim(want)) {
                        dispatch(d);
                        used++;
                    }
                }
                if (used < want && !stopping) {
                    Duration block = underPressure.getAsBoolean() ? settings.pressureBlock() : settings.block();
                    long t0 = System.nanoTime();
                    List<Delivery> batch = queue.fetch(want - used, block);
                    fetchTimer.record(System.nanoTime() - t0, TimeUnit.NANOSECONDS);
                    for (Delivery d : batch) {
                        dispatch(d);
                        used++;
                    }
                }
                errorBackoffMs = 100;
            } catch (RuntimeException e) {
                fetchErrors.increment();
                log.warn("fetching from the queue failed ({}), retrying in {} ms", e.toString(), errorBackoffMs);
                TimeUnit.MILLISECONDS.sleep(errorBackoffMs);
                errorBackoffMs = Math.min(errorBackoffMs * 2, 2_000);
            } finally {
                slots.release(want - used);
            }
        }
    }

    /** Moves due retries back to the queue when {@code promoteEvery} has passed; returns when it last ran. */
    private long promoteIfDue(long last) {
        long now = System.nanoTime();
        if (now - last < settings.promoteEvery().toNanos() || promotionHeld.getAsBoolean()) {
            return last;
        }
        try {
            queue.promoteDue(PROMOTE_BATCH);
        } catch (RuntimeException e) {
            log.debug("promoting due retries failed", e);
        }
        return now;
    }

    private void dispatch(Delivery d) {
        Running r = new Running(dispatched.incrementAndGet(), d);
        r.thread = Thread.ofVirtual().name("sluice-job").uncaughtExceptionHandler(watch.uncaughtHandler())
                .unstarted(() -> run(r));
        // Registered before it runs, so a drain can find and interrupt it.
        running.put(r.seq, r);
        r.thread.start();
    }

    private void run(Running r) {
        Delivery d = r.delivery;
        try {
            RetryPolicy.Decision result = decide(r);
            String outcome = switch (result.completion()) {
                case Completion.Ack a -> "done";
                case Completion.Retry rt -> "retried";
                case Completion.DeadLetter dl -> "dead";
                case Completion.HandBack hb -> "handed-back";
            };
            try {
                completer.submit(result.completion()).join();
                count(result);
                Counter.builder("sluice.jobs").description("Jobs completed on this node, by outcome and error kind")
                        .tag("outcome", outcome).tag("kind", result.kind() == null ? "none" : result.kind().tag())
                        .register(meters).increment();
            } catch (RuntimeException e) {
                log.warn("completion of {} not applied ({}); it stays pending and will be delivered again", d.describe(), e.toString());
            }
        } finally {
            // Also after a fatal error: the slot comes back (the process is on its way out; the job stays pending).
            running.remove(r.seq);
            slots.release();
        }
    }

    private void count(RetryPolicy.Decision result) {
        if (result.completion() instanceof Completion.Ack) {
            done.increment();
            return;
        }
        if (result.kind() != null && !(result.completion() instanceof Completion.HandBack)) {
            failedByKind.computeIfAbsent(result.kind().tag(), k -> new java.util.concurrent.atomic.LongAdder()).increment();
        }
        if (result.completion() instanceof Completion.DeadLetter dead) {
            deadLettered.increment();
            for (var listener : deadLetterListeners) {
                try {
                    listener.accept(dead);
                } catch (RuntimeException e) {
                    log.warn("dead-letter listener failed", e);
                }
            }
        }
    }

    /** Told of every job this node dead-letters, after it is in the dead-letter stream. */
    public void onDeadLetter(java.util.function.Consumer<Completion.DeadLetter> listener) {
        deadLetterListeners.add(listener);
    }

    /** Jobs acknowledged since start. */
    public long jobsDone() {
        return done.sum();
    }

    /** Jobs dead-lettered since start. */
    public long jobsDeadLettered() {
        return deadLettered.sum();
    }

    /** Failed attempts (retried or dead-lettered) since start, by error kind tag. */
    public Map<String, Long> failuresByKind() {
        Map<String, Long> out = new java.util.TreeMap<>();
        failedByKind.forEach((k, v) -> out.put(k, v.sum()));
        return out;
    }

    private RetryPolicy.Decision decide(Running r) {
        RetryPolicy.Decision refused = policy.beforeRun(r.delivery, handlers.types());
        return refused != null ? refused : attempt(r, handlers.find(r.delivery.job().type()));
    }

    private RetryPolicy.Decision attempt(Running r, JobHandler handler) {
        try {
            handler.handle(r.delivery.job(), r);
            return policy.succeeded(r.delivery);
        } catch (VirtualMachineError fatal) {
            throw fatal;
        } catch (Exception | Error caught) {
            // An Error from a handler (an assertion, a class that failed to load) is the job's failure, not the
            // node's: it is retried and, if it keeps failing, dead-lettered, rather than left pending unseen.
            Exception e = caught instanceof Exception ex ? ex
                    : new SluiceException(ErrorKind.INTERNAL, "handler threw " + caught, caught);
            if (e instanceof InterruptedException) {
                Thread.currentThread().interrupt();
            }
            // Not sent: back to the queue unattempted (the node stops, or the fleet paused before it went out).
            boolean notSent = !r.started && (stopping || (pausedBy.contains(FLEET_PAUSED)
                    && (e instanceof InterruptedException || (e instanceof SluiceException s && !s.attempted()))));
            return policy.failed(r.delivery, new RetryPolicy.Failure(ErrorClassifier.classify(e, clientFailures),
                    !(e instanceof SluiceException s) || s.attempted(),
                    e.getMessage() == null ? e.toString() : e.getMessage(),
                    e instanceof SluiceException s ? s.retryAfter().orElse(null) : null, notSent));
        }
    }

    /**
     * Stops fetching, hands back jobs that have not started, waits up to the drain timeout for the rest, then
     * hands back whatever still runs. Returns the number of jobs handed back.
     */
    public int drain() {
        stopping = true;
        try {
            // A worker that was never started has no fetcher to wait for (a node whose start failed).
            if (fetcher != null) {
                fetcherDone.await(settings.block().toMillis() + 5_000, TimeUnit.MILLISECONDS);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        int handedBack = 0;
        for (Running r : running.values()) {
            if (!r.started) {
                r.thread.interrupt();
                handedBack++;
            }
        }
        long deadline = System.nanoTime() + settings.drainTimeout().toNanos();
        while (!running.isEmpty() && System.nanoTime() < deadline) {
            try {
                TimeUnit.MILLISECONDS.sleep(20);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                break;
            }
        }
        List<Running> left = new ArrayList<>(running.values());
        if (!left.isEmpty()) {
            log.warn("{} job(s) still running after the {} s drain timeout; handing them back", left.size(),
                    settings.drainTimeout().toSeconds());
            List<java.util.concurrent.CompletableFuture<Void>> done = new ArrayList<>();
            for (Running r : left) {
                done.add(completer.submit(new Completion.HandBack(r.delivery)));
            }
            for (var f : done) {
                try {
                    f.get(5, TimeUnit.SECONDS);
                    handedBack++;
                } catch (Exception e) {
                    log.warn("handing back failed ({}); the job stays pending and will be reclaimed", e.toString());
                }
            }
        }
        return handedBack;
    }

    @Override
    public void close() {
        if (!stopping) {
            drain();
        }
        completer.close();
    }
}
