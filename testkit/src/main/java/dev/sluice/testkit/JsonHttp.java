package dev.sluice.testkit;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;

/** A small HTTP client for JSON endpoints (the coordinator's, a node's admin, Alertmanager's), for tests. */
public final class JsonHttp {
    public static final ObjectMapper JSON = new ObjectMapper();
    static final HttpClient CLIENT = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

    private JsonHttp() {
    }

    /** {@code method path} without a body; a failure to connect is an {@link UncheckedIOException} naming it. */
    public static HttpResponse<String> request(URI base, String method, String path) {
        HttpRequest request = HttpRequest.newBuilder(base.resolve(path)).timeout(Duration.ofSeconds(10))
                .method(method, HttpRequest.BodyPublishers.noBody()).build();
        try {
            return CLIENT.send(request, HttpResponse.BodyHandlers.ofString());
        } catch (IOException e) {
            throw new UncheckedIOException(method + " " + base.resolve(path) + " failed", e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    public static HttpResponse<String> get(URI base, String path) {
        return request(base, "GET", path);
    }

    /** True when {@code GET path} answers 200; false when it answers otherwise or cannot connect. */
    public static boolean ok(URI base, String path) {
        try {
            return get(base, path).statusCode() == 200;
        } catch (UncheckedIOException e) {
            return false;
        }
    }

    /** The JSON body of {@code GET path}; an {@link AssertionError} unless it answers 200. */
    public static JsonNode json(URI base, String path) {
        HttpResponse<String> response = get(base, path);
        if (response.statusCode() != 200) {
            throw new AssertionError("GET " + base.resolve(path) + " answered " + response.statusCode() + ": "
                    + response.body());
        }
        try {
            return JSON.readTree(response.body());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
