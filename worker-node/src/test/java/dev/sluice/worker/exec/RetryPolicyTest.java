package dev.sluice.worker.exec;

import dev.sluice.common.config.Jitter;
import dev.sluice.common.config.RetryConfig;
import dev.sluice.common.error.ErrorKind;
import dev.sluice.common.job.BadJobException;
import dev.sluice.common.job.Job;
import dev.sluice.worker.queue.Completion;
import dev.sluice.worker.queue.Delivery;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.time.Duration;
import java.util.EnumSet;
import java.util.Map;
import java.util.Random;
import java.util.Set;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The error policy as a table: every {@link ErrorKind} against the attempts behind a job, whether the failed attempt
 * counted, and whether the job never went out while the node stopped or the fleet paused. Backoff without jitter
 * (base 100 ms, max 10 s), so a retry's delay is its cap or the kind's suggested delay, whichever is longer;
 * {@code retry.max_attempts} 5, {@code queue.max_deliveries} 5.
 */
class RetryPolicyTest {

    private static final Set<ErrorKind> RECOVERABLE = EnumSet.of(ErrorKind.POOL_EXHAUSTED, ErrorKind.CONNECTION_TIMEOUT,
            ErrorKind.REDIS_UNAVAILABLE, ErrorKind.HUB_RATE_LIMITED, ErrorKind.HUB_UNAVAILABLE, ErrorKind.HUB_TIMEOUT,
            ErrorKind.SINK_FAILURE, ErrorKind.BACKPRESSURE, ErrorKind.INTERNAL);
    private static final Set<ErrorKind> PERMANENT = EnumSet.of(ErrorKind.HUB_REJECTED, ErrorKind.BAD_JOB);

    private final RetryPolicy policy = new RetryPolicy(5, 5,
            new Backoff(new RetryConfig(100, 10_000, 5, Jitter.NONE), new Random(1)));

    private static Delivery delivery(int attempts, long deliveries) {
        return new Delivery("1-0", new Job("j-1", "noop", "k", null, attempts, "b-1"), null, Map.of("key", "k"), deliveries);
    }

    @Test
    void everyKindIsInTheTable() {
        assertThat(EnumSet.copyOf(RECOVERABLE)).doesNotContainAnyElementsOf(PERMANENT);
        EnumSet<ErrorKind> all = EnumSet.copyOf(RECOVERABLE);
        all.addAll(PERMANENT);
        assertThat(all).as("a new kind needs its rows here").isEqualTo(EnumSet.allOf(ErrorKind.class));
        for (ErrorKind k : ErrorKind.values()) {
            assertThat(k.recoverable()).as(k.name()).isEqualTo(RECOVERABLE.contains(k));
        }
    }

    @ParameterizedTest(name = "{0} after {1} attempts, attempted {2}, not sent {3}: {4}")
    @CsvSource(delimiter = '|', value = {
            "POOL_EXHAUSTED     | 0 | true  | false | RETRY     | 1 | 250",
            "POOL_EXHAUSTED     | 4 | true  | false | DEAD      | 5 | gave up after 5 attempts: boom",
            "POOL_EXHAUSTED     | 4 | false | false | RETRY     | 4 | 800",
            "POOL_EXHAUSTED     | 2 | false | true  | HAND_BACK | 2 | ",
            "CONNECTION_TIMEOUT | 0 | true  | false | RETRY     | 1 | 1000",
            "CONNECTION_TIMEOUT | 4 | true  | false | DEAD      | 5 | gave up after 5 attempts: boom",
            "CONNECTION_TIMEOUT | 4 | false | false | RETRY     | 4 | 1000",
            "CONNECTION_TIMEOUT | 2 | false | true  | HAND_BACK | 2 | ",
            "REDIS_UNAVAILABLE  | 0 | true  | false | RETRY     | 1 | 1000",
            "REDIS_UNAVAILABLE  | 4 | true  | false | DEAD      | 5 | gave up after 5 attempts: boom",
            "REDIS_UNAVAILABLE  | 4 | false | false | RETRY     | 4 | 1000",
            "REDIS_UNAVAILABLE  | 2 | false | true  | HAND_BACK | 2 | ",
            "HUB_RATE_LIMITED   | 0 | true  | false | RETRY     | 1 | 1000",
            "HUB_RATE_LIMITED   | 4 | true  | false | DEAD      | 5 | gave up after 5 attempts: boom",
            "HUB_RATE_LIMITED   | 4 | false | false | RETRY     | 4 | 1000",
            "HUB_RATE_LIMITED   | 2 | false | true  | HAND_BACK | 2 | ",
            "HUB_UNAVAILABLE    | 0 | true  | false | RETRY     | 1 | 2000",
            "HUB_UNAVAILABLE    | 4 | true  | false | DEAD      | 5 | gave up after 5 attempts: boom",
            "HUB_UNAVAILABLE    | 4 | false | false | RETRY     | 4 | 2000",
            "HUB_UNAVAILABLE    | 2 | false | true  | HAND_BACK | 2 | ",
            "HUB_TIMEOUT        | 0 | true  | false | RETRY     | 1 | 2000",
            "HUB_TIMEOUT        | 4 | true  | false | DEAD      | 5 | gave up after 5 attempts: boom",
            "HUB_TIMEOUT        | 4 | false | false | RETRY     | 4 | 2000",
            "HUB_TIMEOUT        | 2 | false | true  | HAND_BACK | 2 | ",
            "HUB_REJECTED       | 0 | true  | false | DEAD      | 1 | boom",
            "HUB_REJECTED       | 4 | true  | false | DEAD      | 5 | boom",
            "HUB_REJECTED       | 4 | false | false | DEAD      | 4 | boom",
            "HUB_REJECTED       | 2 | false | true  | HAND_BACK | 2 | ",
            "BAD_JOB            | 0 | true  | false | DEAD      | 1 | boom",
            "BAD_JOB            | 4 | true  | false | DEAD      | 5 | boom",
            "BAD_JOB            | 4 | false | false | DEAD      | 4 | boom",
            "BAD_JOB            | 2 | false | true  | HAND_BACK | 2 | ",
            "SINK_FAILURE       | 0 | true  | false | RETRY     | 1 | 500",
            "SINK_FAILURE       | 4 | true  | false | DEAD      | 5 | gave up after 5 attempts: boom",
            "SINK_FAILURE       | 4 | false | false | RETRY     | 4 | 800",
            "SINK_FAILURE       | 2 | false | true  | HAND_BACK | 2 | ",
            "BACKPRESSURE       | 0 | true  | false | RETRY     | 1 | 250",
            "BACKPRESSURE       | 4 | true  | false | DEAD      | 5 | gave up after 5 attempts: boom",
            "BACKPRESSURE       | 4 | false | false | RETRY     | 4 | 800",
            "BACKPRESSURE       | 2 | false | true  | HAND_BACK | 2 | ",
            "INTERNAL           | 0 | true  | false | RETRY     | 1 | 1000",
            "INTERNAL           | 4 | true  | false | DEAD      | 5 | gave up after 5 attempts: boom",
            "INTERNAL           | 4 | false | false | RETRY     | 4 | 1000",
            "INTERNAL           | 2 | false | true  | HAND_BACK | 2 | "
    })
    void afterAFailure(ErrorKind kind, int priorAttempts, boolean attempted, boolean notSent, String expected,
                       int attempts, String detail) {
        Delivery d = delivery(priorAttempts, 1);
        RetryPolicy.Decision decision = policy.failed(d, new RetryPolicy.Failure(kind, attempted, "boom", null, notSent));
        switch (expected) {
            case "HAND_BACK" -> {
                assertThat(decision.completion()).isEqualTo(new Completion.HandBack(d));
                assertThat(decision.kind()).isEqualTo(ErrorKind.BACKPRESSURE);
            }
            case "DEAD" -> {
                assertThat(decision.completion()).isEqualTo(new Completion.DeadLetter(d, kind, detail, attempts));
                assertThat(decision.kind()).isEqualTo(kind);
            }
            case "RETRY" -> {
                Completion.Retry retry = (Completion.Retry) decision.completion();
                assertThat(retry.next()).isEqualTo(d.job().withAttempts(attempts));
                assertThat(retry.next().batch()).as("the backfill travels with the retry").isEqualTo("b-1");
                assertThat(retry.delayMs()).isEqualTo(Long.parseLong(detail));
                assertThat(decision.kind()).isEqualTo(kind);
            }
            default -> throw new AssertionError(expected);
        }
    }

    @Test
    void theHubsRetryAfterIsWaitedOut() {
        RetryPolicy.Decision decision = policy.failed(delivery(0, 1),
                new RetryPolicy.Failure(ErrorKind.HUB_RATE_LIMITED, false, "429", Duration.ofSeconds(30), false));
        assertThat(((Completion.Retry) decision.completion()).delayMs()).isEqualTo(30_000);
    }

    @Test
    void aSuccessIsAnAck() {
        Delivery d = delivery(3, 2);
        assertThat(policy.succeeded(d)).isEqualTo(new RetryPolicy.Decision(new Completion.Ack(d), null));
    }

    @Test
    void beforeARunMalformedPoisonAndUnknownTypesAreDeadLetteredAndTheRestRuns() {
        Delivery malformed = new Delivery("1-0", null, new BadJobException("missing field 'key'"), Map.of(), 1);
        assertThat(policy.beforeRun(malformed, Set.of("noop"))).isEqualTo(new RetryPolicy.Decision(
                new Completion.DeadLetter(malformed, ErrorKind.BAD_JOB, "missing field 'key'", 0), ErrorKind.BAD_JOB));

        Delivery fifth = delivery(2, 5);
        assertThat(policy.beforeRun(fifth, Set.of("noop"))).as("the fifth delivery still runs").isNull();
        Delivery sixth = delivery(2, 6);
        RetryPolicy.Decision poison = policy.beforeRun(sixth, Set.of("noop"));
        assertThat(poison.completion()).isEqualTo(new Completion.DeadLetter(sixth, ErrorKind.INTERNAL,
                "poison: delivered 6 times without completing (queue.max_deliveries = 5)", 2));

        RetryPolicy.Decision unknown = policy.beforeRun(fifth, Set.of("hub-fetch"));
        assertThat(unknown.completion()).isEqualTo(new Completion.DeadLetter(fifth, ErrorKind.BAD_JOB,
                "no handler for job type 'noop' (this node has [hub-fetch])", 2));
    }
}
