/**
 * The configuration: one immutable, validated record per TOML section, read from a file and the SLUICE_*
 * environment. A bad value stops the process with the key, the value and the rule; closed sets are enums ({@link
 * dev.sluice.common.config.Choice}).
 *
 * <p>Depends on Jackson (TOML) and SLF4J only; every module depends on it.
 */
package dev.sluice.common.config;
