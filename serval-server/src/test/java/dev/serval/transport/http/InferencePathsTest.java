package dev.serval.transport.http;

import static org.assertj.core.api.Assertions.assertThat;

import io.helidon.common.uri.UriPath;
import io.helidon.http.PathMatcher;
import io.helidon.http.PathMatchers;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** {@link InferencePaths} accepts what Helidon's matchers of the same templates accept, with the same parameters. */
class InferencePathsTest {
    private static final PathMatcher HELIDON_LATEST = PathMatchers.create("/v2/models/{model}/infer");
    private static final PathMatcher HELIDON_VERSIONED = PathMatchers.create("/v2/models/{model}/versions/{version}/infer");
    private static final String[] PIECES = {"/", "/", "v2", "models", "versions", "infer", "iris", "1", "a", "%20", "%2F",
        ";x=1", "-", ".", "..", "v"};

    /** Whether Helidon's matcher accepted (false also for paths Helidon could not parse). */
    private static boolean assertSame(PathMatcher ours, PathMatcher helidon, String raw) {
        UriPath path;
        try {
            path = UriPath.create(raw);
            path.path(); // decoded lazily
        } catch (IllegalArgumentException e) {
            return false; // not a path Helidon would route ("//" parses as an authority)
        }
        PathMatchers.MatchResult expected = helidon.match(path);
        PathMatchers.MatchResult actual = ours.match(path);
        assertThat(actual.accepted()).as("%s accepts %s (decoded %s)", ours, raw, path.path()).isEqualTo(expected.accepted());
        if (expected.accepted()) {
            var want = expected.path().pathParameters();
            var got = actual.path().pathParameters();
            assertThat(got.names()).as(raw).isEqualTo(want.names());
            for (String name : want.names()) {
                assertThat(got.get(name)).as("%s of %s", name, raw).isEqualTo(want.get(name));
            }
            assertThat(actual.path().path()).isEqualTo(expected.path().path());
            assertThat(actual.path().rawPath()).isEqualTo(expected.path().rawPath());
            assertThat(actual.path().absolute().path()).isEqualTo(expected.path().absolute().path());
        }
        return expected.accepted();
    }

    /** 1 when the latest-version template matched, 2 the versioned one, else 0. */
    private static int assertBothSame(String raw) {
        return (assertSame(InferencePaths.LATEST, HELIDON_LATEST, raw) ? 1 : 0)
                + (assertSame(InferencePaths.VERSIONED, HELIDON_VERSIONED, raw) ? 2 : 0);
    }

    @Test
    void match_acceptsTheInferencePathsWithTheirParameters() {
        PathMatchers.MatchResult latest = InferencePaths.LATEST.match(UriPath.create("/v2/models/iris/infer"));
        assertThat(latest.accepted()).isTrue();
        assertThat(latest.path().pathParameters().get("model")).isEqualTo("iris");
        assertThat(latest.path().pathParameters().contains("version")).isFalse();
        PathMatchers.MatchResult versioned = InferencePaths.VERSIONED.match(UriPath.create("/v2/models/iris/versions/2/infer"));
        assertThat(versioned.path().pathParameters().get("model")).isEqualTo("iris");
        assertThat(versioned.path().pathParameters().get("version")).isEqualTo("2");
    }

    @Test
    void match_agreesWithHelidonOnEdgeCases() {
        for (String raw : new String[] {"/v2/models/iris/infer", "/v2/models/infer", "/v2/models//infer", "/v2/models/iris/infer/",
            "/v2/models/a/versions/1/infer", "/v2/models/versions/versions/1/infer", "/v2/models/a/versions//infer",
            "/v2/models/a/versions/infer", "/v2/models/a/b/infer", "/v2/models/my%20model/infer", "/v2/models/a%2Fb/infer",
            "/v2/models/a;v=1/infer", "//v2/models/iris/infer", "/v2/models/./infer", "/v2/models/../infer", "/v2/models/x/../infer",
            "/v2/models/a/versions/1/2/infer", "/v2/models/a/version/1/infer", "/v2/models/a/infer/infer", "/v2/models/",
            "/v2/modelsx/a/infer", "/v2/models/a/xinfer", "/", "/v2/models/a/versions/1/infer;y=2"}) {
            assertBothSame(raw);
        }
    }

    @Test
    void match_agreesWithHelidonOnRandomPaths() {
        Random random = new Random(7);
        int[] matched = new int[3];
        for (int i = 0; i < 20_000; i++) {
            StringBuilder raw = new StringBuilder(random.nextInt(4) == 0 ? "/" : "/v2/models/");
            for (int n = random.nextInt(4); n > 0; n--) {
                raw.append(PIECES[random.nextInt(PIECES.length)]);
            }
            if (random.nextBoolean()) {
                raw.append("/versions/");
                for (int n = random.nextInt(4); n > 0; n--) {
                    raw.append(PIECES[random.nextInt(PIECES.length)]);
                }
            }
            if (random.nextInt(4) != 0) {
                raw.append("/infer");
            }
            matched[assertBothSame(raw.toString())]++;
        }
        assertThat(matched[1]).as("paths of the latest version").isGreaterThan(100);
        assertThat(matched[2]).as("paths with a version").isGreaterThan(10);
    }

    @Test
    void prefixMatch_acceptsOnlyWholePaths() {
        assertThat(InferencePaths.LATEST.prefixMatch(UriPath.create("/v2/models/iris/infer")).accepted()).isTrue();
        assertThat(InferencePaths.LATEST.prefixMatch(UriPath.create("/v2/models/iris/infer/x")).accepted()).isFalse();
    }
}
