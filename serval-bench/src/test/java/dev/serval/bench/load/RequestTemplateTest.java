package dev.serval.bench.load;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.charset.StandardCharsets;
import java.util.List;
import org.junit.jupiter.api.Test;

class RequestTemplateTest {

    @Test
    void build_writesHeadAndBodyOnce() {
        Target target = Target.parse("http://127.0.0.1:8000/v2/models/iris/infer");
        byte[] bytes = RequestTemplate.build("POST", target, List.of("Authorization: Bearer x"), "application/json",
                "{}".getBytes(StandardCharsets.UTF_8));

        assertThat(new String(bytes, StandardCharsets.ISO_8859_1)).isEqualTo("POST /v2/models/iris/infer HTTP/1.1\r\n"
                + "Host: 127.0.0.1:8000\r\nAuthorization: Bearer x\r\nContent-Type: application/json\r\n"
                + "Content-Length: 2\r\n\r\n{}");
    }

    @Test
    void parse_acceptsUrlsWithoutSchemeOrPath() {
        assertThat(Target.parse("localhost:9000")).isEqualTo(new Target("localhost", 9000, "/"));
        assertThat(Target.parse("[::1]:9000/x").authority()).isEqualTo("[::1]:9000");
        assertThatThrownBy(() -> Target.parse("https://h:1/")).hasMessageContaining("https");
        assertThatThrownBy(() -> Target.parse("h:port/")).hasMessageContaining("not a port");
    }

    @Test
    void build_refusesHeadersTheGeneratorOwns() {
        Target target = Target.parse("h:1/");
        assertThatThrownBy(() -> RequestTemplate.build("GET", target, List.of("Content-Length: 5"), null, null))
                .hasMessageContaining("set by the generator");
        assertThatThrownBy(() -> RequestTemplate.build("get", target, List.of(), null, null))
                .hasMessageContaining("upper-case");
    }
}
