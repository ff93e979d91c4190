package dev.serval.transport.http;

import io.helidon.common.parameters.Parameters;
import io.helidon.common.uri.UriPath;
import io.helidon.http.PathMatcher;
import io.helidon.http.PathMatchers;
import io.helidon.http.RoutedPath;
import java.util.Map;

/**
 * The inference paths, {@code /v2/models/{model}/infer} and
 * {@code /v2/models/{model}/versions/{version}/infer}, matched by looking at the path's slashes.
 *
 * <p>Design note: Helidon matches a path with parameters by a regular expression with a named group
 * per parameter and copies the groups into a map; a route registered by a service is matched under
 * the service's prefix, and its parameters copied once more into the parent's. For iris over JSON
 * that was 8% of the server's Java samples, at every request (JFR, 2026-12-07). These matchers
 * accept exactly the decoded paths those expressions accept ({@code [^/]+} per parameter, matrix
 * parameters dropped) and give the same parameters (InferencePathsTest compares them); the routes
 * are registered at the top of the routing, before any service.
 *
 * <p>Immutable and thread-safe.
 */
final class InferencePaths implements PathMatcher {
    static final InferencePaths LATEST = new InferencePaths(false);
    static final InferencePaths VERSIONED = new InferencePaths(true);

    private static final String PREFIX = "/v2/models/";
    private static final String VERSIONS = "/versions/";
    private static final String SUFFIX = "/infer";

    private final boolean versioned;

    private InferencePaths(boolean versioned) {
        this.versioned = versioned;
    }

    @Override
    public PathMatchers.MatchResult match(UriPath uriPath) {
        String path = uriPath.path();
        int end = path.length() - SUFFIX.length();
        if (end <= PREFIX.length() || !path.startsWith(PREFIX) || !path.startsWith(SUFFIX, end)) {
            return PathMatchers.MatchResult.notAccepted();
        }
        int slash = path.indexOf('/', PREFIX.length());
        Parameters parameters;
        if (!versioned) {
            if (slash != end) {
                return PathMatchers.MatchResult.notAccepted();
            }
            parameters = Parameters.createSingleValueMap("http/path", Map.of("model", path.substring(PREFIX.length(), end)));
        } else {
            int version = slash + VERSIONS.length();
            if (slash == PREFIX.length() || version >= end || !path.startsWith(VERSIONS, slash)
                    || path.indexOf('/', version) != end) {
                return PathMatchers.MatchResult.notAccepted();
            }
            parameters = Parameters.createSingleValueMap("http/path", Map.of(
                    "model", path.substring(PREFIX.length(), slash), "version", path.substring(version, end)));
        }
        return new PathMatchers.MatchResult(true, new Routed(uriPath, parameters));
    }

    /** Only a whole path matches: these routes are never lists of routes, for which Helidon asks this. */
    @Override
    public PathMatchers.PrefixMatchResult prefixMatch(UriPath uriPath) {
        PathMatchers.MatchResult whole = match(uriPath);
        return whole.accepted()
                ? new PathMatchers.PrefixMatchResult(true, whole.path(), UriPath.root())
                : PathMatchers.PrefixMatchResult.notAccepted();
    }

    @Override
    public String toString() {
        return versioned ? PREFIX + "{model}" + VERSIONS + "{version}" + SUFFIX : PREFIX + "{model}" + SUFFIX;
    }

    /** A matched path and its parameters. */
    private record Routed(UriPath uriPath, Parameters pathParameters) implements RoutedPath {
        @Override
        public RoutedPath absolute() {
            UriPath absolute = uriPath.absolute();
            return absolute == uriPath ? this : new Routed(absolute, pathParameters);
        }

        @Override
        public String rawPath() {
            return uriPath.rawPath();
        }

        @Override
        public String rawPathNoParams() {
            return uriPath.rawPathNoParams();
        }

        @Override
        public String path() {
            return uriPath.path();
        }

        @Override
        public Parameters matrixParameters() {
            return uriPath.matrixParameters();
        }

        @Override
        public void validate() {
            uriPath.validate();
        }

        @Override
        public String toString() {
            return uriPath.toString();
        }
    }
}
