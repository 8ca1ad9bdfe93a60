package dev.sluice.worker.limits;

import java.util.Collections;
import java.util.List;

/** The contract on one node's own limiter: every handle is the same instance. */
class LocalHubLimiterTest extends HubLimiterContract {

    @Override
    protected List<HubLimiter> limiters(int handles, int maxInFlight, int maxPerSecond) {
        return Collections.nCopies(handles, new LocalHubLimiter(maxInFlight, maxPerSecond));
    }
}
