package dev.serval.testing;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.UncheckedIOException;
import java.net.http.HttpHeaders;

/** An HTTP answer as tests look at it. */
public record Reply(int status, String body, HttpHeaders headers) {
    private static final ObjectMapper JSON = new ObjectMapper();

    /** The body parsed as JSON. */
    public JsonNode json() {
        try {
            return JSON.readTree(body);
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            throw new UncheckedIOException("not JSON (status " + status + "): " + body, e);
        }
    }

    /** The {@code error} field of an error body. */
    public String error() {
        return json().path("error").asText();
    }

    @Override
    public String toString() {
        return status + " " + body;
    }
}
