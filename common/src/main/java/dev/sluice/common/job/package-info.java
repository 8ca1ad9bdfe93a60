/**
 * A job, its wire formats (stream fields, JSON) and what makes one malformed, and backfill ids.
 *
 * <p>Depends on {@code common.error} and Jackson.
 */
package dev.sluice.common.job;
