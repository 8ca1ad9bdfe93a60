package dev.sluice.coordinator.alerting;

import dev.sluice.coordinator.internal.LogThrottle;
import dev.sluice.coordinator.state.ClusterSnapshot;
import dev.sluice.coordinator.state.NodeView;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.time.Duration;
import java.time.Instant;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Comparator;
import java.util.Deque;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Consumer;

/**
 * Evaluates the rules against cluster snapshots and keeps the alerts: pending -> firing -> resolved.
 *
 * <p>Design notes:
 * <ul>
 *   <li>An alert is identified by its fingerprint (rule + sorted labels): an instance found again is the same
 *       alert, and one instance found twice in an evaluation is one alert.</li>
 *   <li>A new alert is pending from the time the state says its condition began ({@link Condition#since()}, e.g.
 *       the breaker's transition), or from now; it fires once its rule's for-duration has passed since then, at the
 *       evaluation that sees it (its {@code startsAt}). When the condition stops holding, a pending alert goes
 *       away and a firing one resolves ({@code endsAt}). Resolved alerts are kept for the retention, then
 *       forgotten.</li>
 *   <li>Inhibition: while any live node has a breaker open or half-open, the rules named as inhibited raise
 *       nothing new and their pending alerts go away: the open breaker explains them (and has its own alert). An
 *       alert of theirs that already fires is held as it is, neither resolved nor re-judged, until the breaker
 *       closes.</li>
 *   <li>A rule that throws raises nothing new and its alerts are held as they are, as if inhibited, until it
 *       evaluates again: on the node where it threw for a {@link NodeRule}, everywhere for another rule. The other
 *       rules, and the other nodes, are judged as usual. Failures are counted by rule and logged at most once a
 *       minute per rule.</li>
 *   <li>No clock: the evaluation's time is the snapshot's.</li>
 * </ul>
 *
 * <p>Thread-safe; listeners are called on the evaluating thread after the engine's lock is released, in order; one
 * that throws does not keep the others from hearing.
 */
public final class AlertEngine {

    private static final Logger log = LoggerFactory.getLogger(AlertEngine.class);

    private final List<AlertRule> rules;
    private final Set<String> inhibitedByBreaker;
    private final Duration resolvedRetention;
    private final List<AlertListener> listeners = new CopyOnWriteArrayList<>();
    private final LogThrottle logs = new LogThrottle(Duration.ofMinutes(1));
    private final Map<String, Long> failures = new TreeMap<>();

    private final Map<String, Alert> active = new LinkedHashMap<>();
    private final Deque<Alert> resolved = new ArrayDeque<>();
    private Map<String, String> inhibitions = Map.of();
    private Instant lastEvaluation;

    /**
     * @param rules               the rules; names must be unique
     * @param inhibitedByBreaker  names of the rules an open breaker inhibits
     * @param resolvedRetention   how long resolved alerts are kept
     */
    public AlertEngine(List<AlertRule> rules, Collection<String> inhibitedByBreaker, Duration resolvedRetention) {
        this.rules = List.copyOf(rules);
        this.inhibitedByBreaker = Set.copyOf(inhibitedByBreaker);
        this.resolvedRetention = Objects.requireNonNull(resolvedRetention, "resolvedRetention");
        Set<String> names = new HashSet<>();
        for (AlertRule rule : rules) {
            if (!names.add(rule.name())) {
                throw new IllegalArgumentException("two rules are named " + rule.name());
            }
        }
    }

    public void addListener(AlertListener listener) {
        listeners.add(Objects.requireNonNull(listener, "listener"));
    }

    public List<AlertRule> rules() {
        return rules;
    }

    /**
     * Takes over alerts saved by an earlier coordinator, before the first evaluation: firing ones stay firing with
     * their {@code startsAt} (no transition, so nobody is told again), resolved ones are kept as resolved until
     * their retention ends. Pending ones are not saved; the state's {@code since} times bring them back.
     */
    public void restore(Collection<Alert> saved, Instant now) {
        List<Alert> expired = new ArrayList<>();
        synchronized (this) {
            List<Alert> sorted = new ArrayList<>(saved);
            sorted.sort(Comparator.comparing(a -> a.endsAt() == null ? Instant.MIN : a.endsAt()));
            for (Alert alert : sorted) {
                switch (alert.state()) {
                    case FIRING -> active.put(alert.fingerprint(), alert);
                    case RESOLVED -> {
                        if (alert.endsAt() != null && alert.endsAt().plus(resolvedRetention).isAfter(now)) {
                            resolved.addLast(alert);
                        } else {
                            expired.add(alert);
                        }
                    }
                    case PENDING, INACTIVE -> {
                        // not kept across restarts
                    }
                }
            }
        }
        for (Alert alert : expired) {
            tell(now, l -> l.onExpired(alert));
        }
    }

    /** Evaluates every rule at the snapshot's time and returns the transitions (also given to the listeners). */
    public List<AlertTransition> evaluate(ClusterSnapshot cluster) {
        List<AlertTransition> transitions = new ArrayList<>();
        List<Alert> expired = new ArrayList<>();
        synchronized (this) {
            Instant now = cluster.at();
            lastEvaluation = now;
            Optional<String> breakerOpen = openBreaker(cluster);
            Map<String, String> inhibitedNow = new TreeMap<>();
            Set<String> seen = new HashSet<>();
            for (AlertRule rule : rules) {
                if (breakerOpen.isPresent() && inhibitedByBreaker.contains(rule.name())) {
                    inhibitedNow.put(rule.name(), breakerOpen.get());
                    // Firing alerts of an inhibited rule are held as they are.
                    active.values().stream()
                            .filter(a -> a.rule().equals(rule.name()) && a.state() == AlertState.FIRING)
                            .forEach(a -> seen.add(a.fingerprint()));
                    continue;
                }
                for (Condition condition : conditions(rule, cluster, seen)) {
                    apply(rule, condition, now, seen, transitions);
                }
            }
            inhibitions = Map.copyOf(inhibitedNow);
            for (Alert alert : List.copyOf(active.values())) {
                if (seen.contains(alert.fingerprint())) {
                    continue;
                }
                active.remove(alert.fingerprint());
                if (alert.state() == AlertState.PENDING) {
                    transitions.add(new AlertTransition(alert.with(AlertState.INACTIVE, null, null, now),
                            AlertState.PENDING, AlertState.INACTIVE, now));
                } else {
                    Alert done = alert.with(AlertState.RESOLVED, alert.startsAt(), now, now);
                    resolved.addLast(done);
                    transitions.add(new AlertTransition(done, AlertState.FIRING, AlertState.RESOLVED, now));
                }
            }
            while (!resolved.isEmpty() && !resolved.peekFirst().endsAt().plus(resolvedRetention).isAfter(now)) {
                Alert old = resolved.removeFirst();
                if (!active.containsKey(old.fingerprint())
                        && resolved.stream().noneMatch(r -> r.fingerprint().equals(old.fingerprint()))) {
                    expired.add(old);
                }
            }
        }
        Instant now = cluster.at();
        if (!transitions.isEmpty()) {
            List<AlertTransition> view = List.copyOf(transitions);
            tell(now, l -> l.onTransitions(view));
        }
        for (Alert alert : expired) {
            tell(now, l -> l.onExpired(alert));
        }
        return transitions;
    }

    /**
     * What {@code rule} finds, node by node for a {@link NodeRule}; where it throws, its alerts are held (marked
     * {@code seen}) and nothing is found.
     */
    private List<Condition> conditions(AlertRule rule, ClusterSnapshot cluster, Set<String> seen) {
        if (!(rule instanceof NodeRule perNode)) {
            try {
                return rule.evaluate(cluster);
            } catch (RuntimeException e) {
                failed(rule, null, cluster.at(), seen, e);
                return List.of();
            }
        }
        List<Condition> found = new ArrayList<>();
        for (NodeView node : perNode.nodes(cluster)) {
            try {
                found.addAll(perNode.evaluate(cluster, node));
            } catch (RuntimeException e) {
                failed(rule, node.id(), cluster.at(), seen, e);
            }
        }
        return found;
    }

    /** Counts and logs a failure of {@code rule} (on {@code node}, or as a whole) and holds its alerts there. */
    private void failed(AlertRule rule, String node, Instant now, Set<String> seen, RuntimeException e) {
        failures.merge(rule.name(), 1L, Long::sum);
        for (Alert alert : active.values()) {
            if (alert.rule().equals(rule.name()) && (node == null || node.equals(alert.labels().get("node")))) {
                seen.add(alert.fingerprint());
            }
        }
        long held = logs.permit("rule " + rule.name(), now);
        if (held >= 0) {
            log.error("rule {} failed{}; its alerts there are held as they are ({} more failures of it in the last {})",
                    rule.name(), node == null ? "" : " on node " + node, held, logs.period(), e);
        }
    }

    private void tell(Instant now, Consumer<AlertListener> call) {
        for (AlertListener listener : listeners) {
            try {
                call.accept(listener);
            } catch (RuntimeException e) {
                long held = logs.permit("listener", now);
                if (held >= 0) {
                    log.error("alert listener {} failed; the others are told all the same ({} more listener failures "
                            + "in the last {})", listener.getClass().getName(), held, logs.period(), e);
                }
            }
        }
    }

    private void apply(AlertRule rule, Condition condition, Instant now, Set<String> seen,
                       List<AlertTransition> transitions) {
        TreeMap<String, String> labels = new TreeMap<>(rule.settings().labels());
        labels.putAll(condition.labels());
        labels.put("alertname", rule.alertname());
        labels.put("severity", rule.settings().severity());
        String fingerprint = Fingerprint.of(rule.name(), labels);
        if (!seen.add(fingerprint)) {
            return;
        }
        Map<String, String> annotations = Map.of("summary", condition.summary(), "description", condition.description());
        Alert current = active.get(fingerprint);
        if (current == null) {
            Instant activeAt = condition.since() == null || condition.since().isAfter(now) ? now : condition.since();
            Alert pending = new Alert(fingerprint, rule.name(), labels, annotations, AlertState.PENDING, activeAt,
                    null, null, condition.value(), now);
            if (firesAt(rule, pending, now)) {
                Alert firing = pending.with(AlertState.FIRING, now, null, now);
                active.put(fingerprint, firing);
                resolved.removeIf(r -> r.fingerprint().equals(fingerprint));
                transitions.add(new AlertTransition(firing, null, AlertState.FIRING, now));
            } else {
                active.put(fingerprint, pending);
                transitions.add(new AlertTransition(pending, null, AlertState.PENDING, now));
            }
            return;
        }
        Alert refreshed = new Alert(fingerprint, rule.name(), labels, annotations, current.state(), current.activeAt(),
                current.startsAt(), null, condition.value(), current.updatedAt());
        if (refreshed.state() == AlertState.PENDING && firesAt(rule, refreshed, now)) {
            Alert firing = refreshed.with(AlertState.FIRING, now, null, now);
            active.put(fingerprint, firing);
            resolved.removeIf(r -> r.fingerprint().equals(fingerprint));
            transitions.add(new AlertTransition(firing, AlertState.PENDING, AlertState.FIRING, now));
        } else {
            active.put(fingerprint, refreshed);
        }
    }

    private static boolean firesAt(AlertRule rule, Alert pending, Instant now) {
        return !pending.activeAt().plus(rule.forDuration()).isAfter(now);
    }

    /** "breaker hub is OPEN on node n1" for the first live node with a breaker not closed. */
    private static Optional<String> openBreaker(ClusterSnapshot cluster) {
        for (NodeView node : cluster.aliveNodes()) {
            for (var e : node.breakers().entrySet()) {
                if (e.getValue().notClosed()) {
                    return Optional.of("breaker " + e.getKey() + " is " + e.getValue().state() + " on " + node.id());
                }
            }
        }
        return Optional.empty();
    }

    /** Pending and firing alerts, by rule then fingerprint. */
    public synchronized List<Alert> active() {
        List<Alert> list = new ArrayList<>(active.values());
        list.sort(Comparator.comparing(Alert::rule).thenComparing(Alert::fingerprint));
        return list;
    }

    public synchronized List<Alert> firing() {
        return active().stream().filter(a -> a.state() == AlertState.FIRING).toList();
    }

    /** Resolved alerts still within their retention, newest first. */
    public synchronized List<Alert> recentlyResolved() {
        List<Alert> list = new ArrayList<>(resolved);
        list.sort(Comparator.comparing(Alert::endsAt).reversed());
        return list;
    }

    /** The alert with this fingerprint: the active one, else the newest resolved one. */
    public synchronized Optional<Alert> find(String fingerprint) {
        Alert a = active.get(fingerprint);
        if (a != null) {
            return Optional.of(a);
        }
        return recentlyResolved().stream().filter(r -> r.fingerprint().equals(fingerprint)).findFirst();
    }

    /** Rules inhibited at the last evaluation, with the reason. */
    public synchronized Map<String, String> inhibitions() {
        return inhibitions;
    }

    /** Firing alerts per rule name (every rule present, 0 when none fires). */
    public synchronized Map<String, Long> firingByRule() {
        Map<String, Long> counts = new TreeMap<>();
        rules.forEach(r -> counts.put(r.name(), 0L));
        active.values().stream().filter(a -> a.state() == AlertState.FIRING)
                .forEach(a -> counts.merge(a.rule(), 1L, Long::sum));
        return counts;
    }

    /** Evaluations of a rule (for the cluster, or for one node) that threw, by rule name (every rule present). */
    public synchronized Map<String, Long> failuresByRule() {
        Map<String, Long> counts = new TreeMap<>();
        rules.forEach(r -> counts.put(r.name(), failures.getOrDefault(r.name(), 0L)));
        return counts;
    }

    /** The time of the last evaluation; null before the first. */
    public synchronized Instant lastEvaluation() {
        return lastEvaluation;
    }
}
