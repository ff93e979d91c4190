package dev.serval.api;

/** An output the client asked for by name, with its per-output parameters. */
public record RequestedOutput(String name, Parameters parameters) {
}
