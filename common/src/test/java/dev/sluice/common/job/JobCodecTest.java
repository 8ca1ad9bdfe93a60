package dev.sluice.common.job;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.util.LinkedHashMap;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class JobCodecTest {

    private final JobCodec codec = new JobCodec(1024);

    @Test
    void streamEntryWithOnlyAKeyGetsDefaults() {
        Job job = codec.fromFields(Map.of("key", "user-42"));
        assertThat(job).isEqualTo(new Job("hub-fetch:user-42", "hub-fetch", "user-42", null, 0));
    }

    @Test
    void producersIdAndTypeAreKept() {
        Job job = codec.fromFields(Map.of("key", "k", "type", "noop", "id", "order-7", "payload", "{\"a\":1}"));
        assertThat(job).isEqualTo(new Job("order-7", "noop", "k", "{\"a\":1}", 0));
    }

    @Test
    void bareListElementIsAKey() {
        assertThat(codec.fromListElement("user-42")).isEqualTo(Job.of("user-42"));
    }

    @Test
    void jsonListElementIsParsed() {
        Job job = codec.fromListElement("{\"key\":\"k\",\"type\":\"noop\",\"payload\":{\"x\":[1,2]}}");
        assertThat(job).isEqualTo(new Job("noop:k", "noop", "k", "{\"x\":[1,2]}", 0));
    }

    @Test
    void idAndAttemptsSurviveARoundTripThroughBothForms() {
        Job job = new Job("order-7", "noop", "k", "{\"a\":1}", 3);
        assertThat(codec.fromFields(codec.toFields(job))).isEqualTo(job);
        assertThat(codec.fromListElement(codec.toJson(job))).isEqualTo(job);
        assertThat(job.nextAttempt().id()).isEqualTo("order-7");
    }

    @Test
    void aBackfillsIdTravelsWithTheJobThroughRetriesInBothForms() {
        Job job = new Job("order-7", "noop", "k", null, 0, "nightly-2026.12.07");
        Job retried = job.nextAttempt();
        assertThat(retried.batch()).isEqualTo("nightly-2026.12.07");
        assertThat(codec.fromFields(codec.toFields(retried))).isEqualTo(retried);
        assertThat(codec.fromListElement(codec.toJson(retried))).isEqualTo(retried);
        assertThat(codec.fromListElement("{\"key\":\"k\",\"batch\":\"b-1\"}").batch()).isEqualTo("b-1");
    }

    @ParameterizedTest(name = "batch ''{0}'' is a producer's own field, not a backfill")
    @CsvSource(value = {"'has space'", "'-leading-dash'", "'x/y'", "''",
            "'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa'"})
    void aBatchFieldThatIsNoBackfillIdIsIgnoredNotRefused(String value) {
        Job job = codec.fromFields(Map.of("key", "k", "batch", value));
        assertThat(job.key()).isEqualTo("k");
        assertThat(job.batch()).isNull();
        assertThat(codec.fromListElement("{\"key\":\"k\",\"batch\":42}").batch()).isNull();
    }

    @Test
    void aJobCannotBeMadeWithABadBatchId() {
        assertThatThrownBy(() -> Job.of("k").inBatch("a b"))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("a backfill id must be 1 to 64 letters");
    }

    @Test
    void unknownFieldsAreIgnored() {
        assertThat(codec.fromFields(Map.of("key", "k", "producer", "billing")).key()).isEqualTo("k");
    }

    @ParameterizedTest(name = "{0}")
    @CsvSource(delimiter = '|', value = {
            "{not json                              | not valid JSON",
            "[1,2]                                  | must be an object, but was array",
            "{\"type\":\"noop\"}                    | missing field 'key'",
            "{\"key\":42}                           | field 'key' must be a string, but was number",
            "{\"key\":\"\"}                         | field 'key' must not be empty",
            "{\"key\":\"k\",\"type\":\"Bad Type\"}  | field 'type' must be a handler name",
            "{\"key\":\"k\",\"attempts\":\"x\"}     | field 'attempts' must be a whole number",
            "{\"key\":\"k\",\"payload\":\"{oops\"}  | field 'payload' is not valid JSON",
            "{\"key\":\"k\",\"v\":99}               | job schema version 99 is not supported"})
    void malformedListElementsAreRefusedWithAReason(String element, String reason) {
        assertThatThrownBy(() -> codec.fromListElement(element))
                .isInstanceOf(BadJobException.class)
                .hasMessageContaining(reason);
    }

    @Test
    void malformedStreamEntriesAreRefusedWithAReason() {
        assertThatThrownBy(() -> codec.fromFields(Map.of("type", "noop")))
                .isInstanceOf(BadJobException.class).hasMessageContaining("missing field 'key'");
        assertThatThrownBy(() -> codec.fromFields(Map.of("key", "k", "payload", "nope")))
                .hasMessageContaining("field 'payload' is not valid JSON");
        assertThatThrownBy(() -> codec.fromFields(Map.of("key", "k", "attempts", "-1")))
                .hasMessageContaining("must not be negative");
    }

    @Test
    void oversizedJobsAreRefused() {
        String big = "x".repeat(2000);
        assertThatThrownBy(() -> codec.fromListElement(big))
                .isInstanceOf(BadJobException.class).hasMessageContaining("more than queue.max_job_bytes (1024)");
        Map<String, String> fields = new LinkedHashMap<>();
        fields.put("key", "k");
        fields.put("payload", "\"" + big + "\"");
        assertThatThrownBy(() -> codec.fromFields(fields)).hasMessageContaining("more than queue.max_job_bytes");
    }
}
