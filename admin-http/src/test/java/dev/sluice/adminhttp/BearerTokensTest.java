package dev.sluice.adminhttp;

import org.junit.jupiter.api.Test;

import java.util.LinkedHashMap;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

class BearerTokensTest {

    private static int status(Access access, String authorization) {
        return access.check(authorization).status();
    }

    @Test
    void withoutAConfiguredTokenNothingMayChangeState() {
        BearerTokens access = BearerTokens.single("admin", "", "read-only: set the token");

        assertThat(access.enabled()).isFalse();
        assertThat(status(access, null)).isEqualTo(403);
        assertThat(status(access, "Bearer ")).isEqualTo(403);
        assertThat(access.check("Bearer anything")).isEqualTo(Access.Verdict.refused(403, "read-only: set the token"));
        assertThat(status(BearerTokens.single("admin", null, "off"), "Bearer x")).isEqualTo(403);
        assertThat(status(new BearerTokens(Map.of("alice", ""), "off"), "Bearer ")).as("an empty token is none")
                .isEqualTo(403);
    }

    @Test
    void acceptsOnlyAConfiguredBearerTokenAndNamesIt() {
        BearerTokens access = BearerTokens.single("admin", "s3cr3t", "off");

        assertThat(access.check("Bearer s3cr3t")).isEqualTo(Access.Verdict.allowed("admin"));
        assertThat(access.check("bearer s3cr3t").who()).as("the scheme is case-insensitive").isEqualTo("admin");
        assertThat(access.check("Bearer  s3cr3t ").who()).isEqualTo("admin");
        for (String wrong : new String[]{"Bearer s3cr3T", "Bearer s3cr3t-and-more", "Bearer s3cr"}) {
            assertThat(access.check(wrong)).as(wrong).satisfies(v -> {
                assertThat(v.who()).isNull();
                assertThat(v.status()).isEqualTo(401);
                assertThat(v.message()).isEqualTo("the bearer token is not the configured one");
            });
        }
        for (String missing : new String[]{null, "", "Bearer", "Basic czNjcjN0Og==", "s3cr3t"}) {
            assertThat(access.check(missing)).as(String.valueOf(missing)).satisfies(v -> {
                assertThat(v.who()).isNull();
                assertThat(v.status()).isEqualTo(401);
                assertThat(v.message()).contains("present Authorization: Bearer <token>");
            });
        }
    }

    @Test
    void eachOfSeveralTokensIsKnownByItsName() {
        Map<String, String> tokens = new LinkedHashMap<>();
        tokens.put("alice", "token-a");
        tokens.put("bob", "token-b");
        BearerTokens access = new BearerTokens(tokens, "off");

        assertThat(access.check("Bearer token-a").who()).isEqualTo("alice");
        assertThat(access.check("Bearer token-b").who()).isEqualTo("bob");
        assertThat(access.check("Bearer token-c"))
                .isEqualTo(Access.Verdict.refused(401, "the bearer token is not one of the configured ones"));
    }
}
