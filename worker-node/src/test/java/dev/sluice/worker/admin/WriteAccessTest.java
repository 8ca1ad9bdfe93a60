package dev.sluice.worker.admin;

import org.junit.jupiter.api.Test;

import static dev.sluice.worker.admin.WriteAccess.Decision.ALLOWED;
import static dev.sluice.worker.admin.WriteAccess.Decision.DISABLED;
import static dev.sluice.worker.admin.WriteAccess.Decision.MISSING;
import static dev.sluice.worker.admin.WriteAccess.Decision.WRONG;
import static org.assertj.core.api.Assertions.assertThat;

class WriteAccessTest {

    @Test
    void withoutAConfiguredTokenNothingMayChangeState() {
        WriteAccess access = new WriteAccess("");

        assertThat(access.enabled()).isFalse();
        assertThat(access.check(null)).isEqualTo(DISABLED);
        assertThat(access.check("Bearer ")).isEqualTo(DISABLED);
        assertThat(access.check("Bearer anything")).isEqualTo(DISABLED);
        assertThat(new WriteAccess(null).check("Bearer x")).isEqualTo(DISABLED);
    }

    @Test
    void acceptsOnlyTheConfiguredBearerToken() {
        WriteAccess access = new WriteAccess("s3cr3t");

        assertThat(access.check("Bearer s3cr3t")).isEqualTo(ALLOWED);
        assertThat(access.check("bearer s3cr3t")).as("the scheme is case-insensitive").isEqualTo(ALLOWED);
        assertThat(access.check("Bearer  s3cr3t ")).isEqualTo(ALLOWED);
        assertThat(access.check("Bearer s3cr3T")).isEqualTo(WRONG);
        assertThat(access.check("Bearer s3cr3t-and-more")).isEqualTo(WRONG);
        assertThat(access.check("Bearer s3cr")).isEqualTo(WRONG);
        assertThat(access.check(null)).isEqualTo(MISSING);
        assertThat(access.check("")).isEqualTo(MISSING);
        assertThat(access.check("Bearer")).isEqualTo(MISSING);
        assertThat(access.check("Basic czNjcjN0Og==")).isEqualTo(MISSING);
        assertThat(access.check("s3cr3t")).isEqualTo(MISSING);
    }

    @Test
    void refusalsAnswer401Or403() {
        assertThat(DISABLED.status).isEqualTo(403);
        assertThat(MISSING.status).isEqualTo(401);
        assertThat(WRONG.status).isEqualTo(401);
    }
}
