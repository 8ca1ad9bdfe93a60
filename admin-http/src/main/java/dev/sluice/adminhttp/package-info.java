/**
 * The one HTTP layer of Sluice's admin endpoints, the worker node's and the coordinator's: {@link AdminHttp} routes
 * read endpoints, static files and state-changing operations on the JDK's HTTP server (virtual threads); an
 * {@link Access} decides who may operate; {@link Responses} writes JSON answers and {@link EventStream} server-sent
 * events.
 *
 * <p>Depends on the JDK, Jackson and SLF4J only; nothing of Sluice. The worker and the coordinator register their own
 * endpoints and say what they allow.
 */
@NullMarked
package dev.sluice.adminhttp;

import org.jspecify.annotations.NullMarked;
