package dev.sluice.common.error;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.EnumSource;

import java.time.Duration;

import static org.assertj.core.api.Assertions.assertThat;

class ErrorKindTest {

    @ParameterizedTest(name = "{0}")
    @CsvSource({
            // kind,              recoverable, breaker, timeout, delay ms
            "POOL_EXHAUSTED,      true,  false, false, 250",
            "CONNECTION_TIMEOUT,  true,  false, true,  1000",
            "REDIS_UNAVAILABLE,   true,  false, false, 1000",
            "HUB_RATE_LIMITED,    true,  false, false, 1000",
            "HUB_UNAVAILABLE,     true,  true,  false, 2000",
            "HUB_TIMEOUT,         true,  true,  true,  2000",
            "HUB_REJECTED,        false, false, false, 0",
            "BAD_JOB,             false, false, false, 0",
            "SINK_FAILURE,        true,  false, false, 500",
            "BACKPRESSURE,        true,  false, false, 250",
            "INTERNAL,            true,  false, false, 1000"})
    void everyKindSaysHowToTreatIt(ErrorKind kind, boolean recoverable, boolean breaker, boolean timeout, long delayMs) {
        assertThat(kind.recoverable()).isEqualTo(recoverable);
        assertThat(kind.countsAgainstBreaker()).isEqualTo(breaker);
        assertThat(kind.timeout()).isEqualTo(timeout);
        assertThat(kind.suggestedRetryDelay()).isEqualTo(Duration.ofMillis(delayMs));
    }

    @ParameterizedTest(name = "{0}")
    @EnumSource(ErrorKind.class)
    void tagRoundTrips(ErrorKind kind) {
        assertThat(kind.tag()).matches("[a-z-]+");
        assertThat(ErrorKind.fromTag(kind.tag())).isEqualTo(kind);
    }

    @ParameterizedTest(name = "{0} -> {1}")
    @CsvSource({
            "429, HUB_RATE_LIMITED",
            "500, HUB_UNAVAILABLE",
            "502, HUB_UNAVAILABLE",
            "503, HUB_UNAVAILABLE",
            "504, HUB_TIMEOUT",
            "408, HUB_TIMEOUT",
            "400, HUB_REJECTED",
            "404, HUB_REJECTED",
            "410, HUB_REJECTED"})
    void hubStatusesMapOntoKinds(int status, ErrorKind expected) {
        assertThat(ErrorKind.ofHubStatus(status)).isEqualTo(expected);
    }
}
