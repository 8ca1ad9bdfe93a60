package dev.sluice.coordinator.alerting;

import dev.sluice.common.config.AlertsConfig;
import dev.sluice.common.config.ConfigLoader;
import dev.sluice.common.event.Event;
import dev.sluice.coordinator.FakeClock;
import dev.sluice.coordinator.TestEvents;
import dev.sluice.coordinator.state.ClusterState;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;

/** A cluster state and an alert engine on a fake clock, configured from TOML, with the transitions recorded. */
final class EngineHarness {

    final FakeClock clock = new FakeClock();
    final AlertsConfig config;
    final ClusterState state;
    final AlertEngine engine;
    final List<AlertTransition> transitions = new ArrayList<>();
    final List<Alert> expired = new ArrayList<>();

    EngineHarness(String alertsToml) {
        this(alertsToml, new ArrayList<>());
    }

    private EngineHarness(String alertsToml, List<AlertRule> extraRules) {
        this.config = ConfigLoader.parse("[alerts]\n" + alertsToml, Map.of()).alerts();
        this.state = new ClusterState(new ClusterState.Settings(Duration.ofSeconds(5),
                config.nodeDownMissedHeartbeats(), Duration.ofMinutes(11), Duration.ofHours(1)));
        List<AlertRule> rules = new ArrayList<>(Rules.defaults(config));
        rules.addAll(extraRules);
        this.engine = new AlertEngine(rules, config.breakerInhibits(), Duration.ofMinutes(15));
        engine.addListener(new AlertListener() {
            @Override
            public void onTransitions(List<AlertTransition> batch) {
                transitions.addAll(batch);
            }

            @Override
            public void onExpired(Alert alert) {
                expired.add(alert);
            }
        });
    }

    static EngineHarness withRules(String alertsToml, AlertRule... extra) {
        return new EngineHarness(alertsToml, List.of(extra));
    }

    void apply(Event event) {
        state.apply(event, clock.instant());
    }

    List<AlertTransition> evaluate() {
        return engine.evaluate(state.snapshot(clock.instant()));
    }

    /**
     * Moves time on by {@code seconds} in steps of 5 s; at each step every node sends a heartbeat (after
     * {@code each} has changed it) and the rules are evaluated.
     */
    void run(int seconds, TestEvents... nodes) {
        for (int t = 0; t < seconds; t += 5) {
            clock.advanceSeconds(Math.min(5, seconds - t));
            for (TestEvents node : nodes) {
                apply(node.heartbeat(clock.millis()));
            }
            evaluate();
        }
    }

    /** Like {@link #run} with the same work added to every node before each heartbeat. */
    void runWithWork(int seconds, Consumer<TestEvents> work, TestEvents... nodes) {
        for (int t = 0; t < seconds; t += 5) {
            clock.advanceSeconds(Math.min(5, seconds - t));
            for (TestEvents node : nodes) {
                work.accept(node);
                apply(node.heartbeat(clock.millis()));
            }
            evaluate();
        }
    }

    List<Alert> alerts(String rule, AlertState state) {
        List<Alert> found = new ArrayList<>(engine.active());
        found.addAll(engine.recentlyResolved());
        return found.stream().filter(a -> a.rule().equals(rule) && a.state() == state).toList();
    }

    Alert only(String rule, AlertState state) {
        List<Alert> found = alerts(rule, state);
        if (found.size() != 1) {
            throw new AssertionError("expected one " + state + " " + rule + " alert, found " + found
                    + "; active: " + engine.active());
        }
        return found.getFirst();
    }

    List<AlertTransition> transitionsOf(String rule) {
        return transitions.stream().filter(t -> t.alert().rule().equals(rule)).toList();
    }
}
