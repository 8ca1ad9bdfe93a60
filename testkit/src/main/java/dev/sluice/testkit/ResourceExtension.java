package dev.sluice.testkit;

import org.junit.jupiter.api.extension.AfterAllCallback;
import org.junit.jupiter.api.extension.AfterEachCallback;
import org.junit.jupiter.api.extension.BeforeAllCallback;
import org.junit.jupiter.api.extension.BeforeEachCallback;
import org.junit.jupiter.api.extension.ExtensionContext;
import org.junit.jupiter.api.extension.ParameterContext;
import org.junit.jupiter.api.extension.ParameterResolver;

/**
 * The lifecycle shared by the testkit's server extensions: one resource per test class when the extension
 * is registered on a static field (or with {@code @ExtendWith}), one per test when it is registered on an
 * instance field or asks for {@code perTest}; closed by the after-callback of the context that opened it;
 * injected into parameters of its type.
 */
abstract class ResourceExtension<R extends AutoCloseable> implements BeforeAllCallback, AfterAllCallback,
        BeforeEachCallback, AfterEachCallback, ParameterResolver {

    private final Class<R> type;
    private final boolean perTest;
    private R resource;
    private String owner;

    ResourceExtension(Class<R> type, boolean perTest) {
        this.type = type;
        this.perTest = perTest;
    }

    /** Creates and starts a resource for {@code context}. */
    abstract R open(ExtensionContext context);

    /** Prepares a resource shared by several tests for the next one (restart if a test stopped it, flush). */
    void beforeTest(R shared) {
    }

    final synchronized R current(String what) {
        if (resource == null) {
            throw new IllegalStateException("no " + what + " yet: it is started before all tests of the class "
                    + "(extension on a static field) or before each test (instance field or per-test lifecycle)");
        }
        return resource;
    }

    @Override
    public final synchronized void beforeAll(ExtensionContext context) {
        if (!perTest && resource == null) {
            openFor(context);
        }
    }

    @Override
    public final synchronized void beforeEach(ExtensionContext context) {
        if (resource == null) {
            openFor(context);
        } else {
            beforeTest(resource);
        }
    }

    @Override
    public final synchronized void afterEach(ExtensionContext context) throws Exception {
        closeIfOwnedBy(context);
    }

    @Override
    public final synchronized void afterAll(ExtensionContext context) throws Exception {
        closeIfOwnedBy(context);
    }

    @Override
    public final boolean supportsParameter(ParameterContext parameterContext, ExtensionContext extensionContext) {
        return parameterContext.getParameter().getType() == type;
    }

    @Override
    public final synchronized Object resolveParameter(ParameterContext parameterContext, ExtensionContext context) {
        if (resource == null) {
            openFor(context);
        }
        return resource;
    }

    private void openFor(ExtensionContext context) {
        resource = open(context);
        owner = context.getUniqueId();
    }

    private void closeIfOwnedBy(ExtensionContext context) throws Exception {
        if (resource != null && context.getUniqueId().equals(owner)) {
            R closing = resource;
            resource = null;
            owner = null;
            closing.close();
        }
    }
}
