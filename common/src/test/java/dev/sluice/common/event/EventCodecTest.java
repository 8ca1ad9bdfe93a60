package dev.sluice.common.event;

import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

class EventCodecTest {

    static final EventPayload.PoolSample POOL = new EventPayload.PoolSample(20, 17, 3, 2, 1.5, 0.15);

    static List<EventPayload> everyType() {
        return List.of(
                new EventPayload.NodeStarted("stream", 250, 20, 5000),
                new EventPayload.NodeStopping("SIGTERM"),
                new EventPayload.Heartbeat(5000,
                        new EventPayload.Counters(10, Map.of("hub-timeout", 2L), 1, 12, 2, 0, 1, 40, 0, 2, 0),
                        POOL, Map.of("hub", "CLOSED"), "ok", new EventPayload.QueueSample(5, 3, 1, 1, 1200)),
                new EventPayload.BreakerTransition("hub", "CLOSED", "OPEN", 100f, 5, 5),
                new EventPayload.PoolPressure(true, POOL),
                new EventPayload.JobDeadLettered("hub-fetch:k", "bad-job", "missing field 'key'", 0),
                new EventPayload.LimiterState(true, "no majority", "fail-closed"));
    }

    @Test
    void everyTypeRoundTrips() {
        long seq = 0;
        for (EventPayload payload : everyType()) {
            Event event = new Event(EventCodec.VERSION, "node-1", 1_700_000_000_000L, seq++, payload);
            EventCodec.Decoded decoded = EventCodec.decode(EventCodec.encode(event));
            assertThat(decoded).isEqualTo(new EventCodec.Decoded.Ok(event));
        }
    }

    @Test
    void newerVersionsAreSkippedNotFatal() {
        String json = "{\"v\":2,\"type\":\"heartbeat\",\"node\":\"n\",\"ts\":1,\"seq\":1,\"payload\":{}}";
        assertThat(EventCodec.decode(json.getBytes(StandardCharsets.UTF_8)))
                .isEqualTo(new EventCodec.Decoded.Skipped("unsupported-version", "schema version 2"));
    }

    @Test
    void unknownTypesAreSkipped() {
        String json = "{\"v\":1,\"type\":\"node-exploded\",\"node\":\"n\",\"ts\":1,\"seq\":1,\"payload\":{}}";
        assertThat(EventCodec.decode(json.getBytes(StandardCharsets.UTF_8)))
                .isEqualTo(new EventCodec.Decoded.Skipped("unknown-type", "node-exploded"));
    }

    @Test
    void malformedRecordsAreSkipped() {
        assertThat(EventCodec.decode("{nope".getBytes(StandardCharsets.UTF_8)))
                .isInstanceOf(EventCodec.Decoded.Skipped.class)
                .extracting(d -> ((EventCodec.Decoded.Skipped) d).reason()).isEqualTo("malformed");
        assertThat(EventCodec.decode("[1,2]".getBytes(StandardCharsets.UTF_8)))
                .extracting(d -> ((EventCodec.Decoded.Skipped) d).reason()).isEqualTo("malformed");
        assertThat(EventCodec.decode(null))
                .extracting(d -> ((EventCodec.Decoded.Skipped) d).reason()).isEqualTo("malformed");
        String badPayload = "{\"v\":1,\"type\":\"pool-pressure\",\"node\":\"n\",\"ts\":1,\"seq\":1,\"payload\":{\"entered\":\"maybe\"}}";
        assertThat(EventCodec.decode(badPayload.getBytes(StandardCharsets.UTF_8)))
                .extracting(d -> ((EventCodec.Decoded.Skipped) d).reason()).isEqualTo("malformed");
    }

    @Test
    void unknownPayloadFieldsFromNewerMinorWritersAreIgnored() {
        String json = "{\"v\":1,\"type\":\"node-stopping\",\"node\":\"n\",\"ts\":1,\"seq\":7,\"payload\":{\"reason\":\"x\",\"extra\":1}}";
        assertThat(EventCodec.decode(json.getBytes(StandardCharsets.UTF_8)))
                .isEqualTo(new EventCodec.Decoded.Ok(new Event(1, "n", 1, 7, new EventPayload.NodeStopping("x"))));
    }
}
