package dev.sluice.adminhttp;

import com.fasterxml.jackson.databind.JsonNode;

import java.io.IOException;

/**
 * A state-changing operation (POST): what it answers, given who asked (the name {@link Access} gave) and the request's
 * JSON object. {@link AdminHttp} has checked the method, the caller, the site and the body before.
 */
@FunctionalInterface
public interface Operation {
    Result handle(String who, JsonNode body) throws IOException;

    /** An operation's answer: status and a JSON-able body (a Jackson tree, a record, a map). */
    record Result(int status, Object body) {
    }
}
