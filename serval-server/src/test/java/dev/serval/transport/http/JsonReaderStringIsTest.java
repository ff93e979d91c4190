package dev.serval.transport.http;

import static dev.serval.transport.http.JsonReaderTest.reader;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.serval.transport.http.JsonReader.Token;
import org.junit.jupiter.api.Test;

/** {@link JsonReader#stringIs}: a string matched against a known one as written, without decoding it. */
class JsonReaderStringIsTest {
    @Test
    void stringIs_matchesOnlyTheStringAsWritten() {
        JsonReader in = reader("{\"name\":\"input\",\"other\":\"\\u0069nput\",\"n\":5,\"q\":\"in\\\"\"}");
        in.nextToken();
        assertThat(in.nextToken()).isEqualTo(Token.FIELD_NAME);
        assertThat(in.stringIs("input")).as("on the name, before its value").isFalse();
        assertThat(in.nextToken()).isEqualTo(Token.STRING);
        assertThat(in.stringIs("input")).isTrue();
        assertThat(in.stringIs("inpu")).isFalse();
        assertThat(in.stringIs("input2")).isFalse();
        assertThat(in.stringIs("INPUT")).isFalse();
        assertThat(in.stringIs("")).isFalse();
        in.nextToken();
        assertThat(in.nextToken()).isEqualTo(Token.STRING);
        assertThat(in.stringIs("input")).as("an escape that decodes to it").isFalse();
        assertThat(in.getText()).isEqualTo("input");
        in.nextToken();
        assertThat(in.nextToken()).isEqualTo(Token.NUMBER_INT);
        assertThat(in.stringIs("5")).isFalse();
        in.nextToken();
        assertThat(in.nextToken()).isEqualTo(Token.STRING);
        assertThat(in.stringIs("in\\")).isFalse();
        assertThat(in.stringIs("in\"")).isFalse();
        assertThat(in.getText()).isEqualTo("in\"");
        assertThat(in.nextToken()).isEqualTo(Token.END_OBJECT);
    }

    @Test
    void stringIs_leavesAMatchedStringToBeCheckedWhenSteppedOver() {
        JsonReader in = reader("[\"ok\", 1]");
        in.nextToken();
        assertThat(in.nextToken()).isEqualTo(Token.STRING);
        assertThat(in.stringIs("ok")).isTrue();
        assertThat(in.nextToken()).isEqualTo(Token.NUMBER_INT);
        JsonReader unclosed = reader("[\"ok");
        unclosed.nextToken();
        unclosed.nextToken();
        assertThat(unclosed.stringIs("ok")).isFalse();
        assertThatThrownBy(unclosed::nextToken).hasMessageContaining("end-of-input");
    }

    @Test
    void stringIs_refusesNonAsciiBytesThatReadAsTheCandidatesChars() {
        // "\u00c3\u00a9" (2 chars) against the UTF-8 bytes of "\u00e9": never equal.
        JsonReader in = reader("[\"\u00e9\"]");
        in.nextToken();
        in.nextToken();
        assertThat(in.stringIs("\u00c3\u00a9")).isFalse();
        assertThat(in.getText()).isEqualTo("\u00e9");
    }
}
