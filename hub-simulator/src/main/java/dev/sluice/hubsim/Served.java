package dev.sluice.hubsim;

/**
 * One answered request as the Hub simulator saw it, on its process's monotonic clock ({@code System.nanoTime()}): in
 * flight from {@code arrivedAt} to {@code answeredAt}, as its in-flight counts have it.
 *
 * @param status the HTTP status it was answered with
 */
public record Served(long arrivedAt, long answeredAt, int status) {
}
