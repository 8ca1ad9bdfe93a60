/**
 * A job, its wire formats (stream fields, JSON) and what makes one malformed, and backfill ids.
 *
 * <p>Depends on {@code common.error} and Jackson.
 */
@NullMarked
package dev.sluice.common.job;

import org.jspecify.annotations.NullMarked;
