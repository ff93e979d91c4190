package dev.serval.transport.http;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.InetAddress;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.HashMap;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

/** The kernel's connection table as {@link ClientDepartures} reads it. */
class TcpTableTest {
    private static final String TCP = """
              sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
               0: 00000000:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1283 1 0
               1: 0100007F:1F90 0100007F:C350 01 00000000:00000000 00:00000000 00000000     0        0 7 1 0
               2: 0100007F:1F90 0100007F:C351 08 00000000:00000000 00:00000000 00000000     0        0 8 1 0
               3: 0100007F:1F91 0100007F:C352 08 00000000:00000000 00:00000000 00000000     0        0 9 1 0
            """;
    private static final String TCP6 = """
              sl  local_address                         remote_address                        st tx_queue rx_queue
               0: 0000000000000000FFFF00000100007F:1F90 0000000000000000FFFF00000100007F:C353 08 00000000:00000000
               1: 00000000000000000000000001000000:1F90 00000000000000000000000001000000:C354 01 00000000:00000000
            """;

    private static Map<TcpTable.Peer, Integer> parse(String text) {
        byte[] bytes = text.getBytes(StandardCharsets.US_ASCII);
        Map<TcpTable.Peer, Integer> states = new HashMap<>();
        TcpTable.parse(bytes, bytes.length, Set.of(0x1F90), states);
        return states;
    }

    @Test
    void parse_readsStatesOfTheWatchedLocalPortOnly() {
        assertThat(parse(TCP)).containsOnly(
                Map.entry(new TcpTable.Peer(8080, 0, "00000000"), 0x0A),
                Map.entry(new TcpTable.Peer(8080, 50000, "0100007F"), TcpTable.ESTABLISHED),
                Map.entry(new TcpTable.Peer(8080, 50001, "0100007F"), 0x08));
    }

    @Test
    void parse_namesMappedIpv4PeersOfDualStackSocketsAsIpv4() {
        assertThat(parse(TCP6)).containsOnly(
                Map.entry(new TcpTable.Peer(8080, 50003, "0100007F"), 0x08),
                Map.entry(new TcpTable.Peer(8080, 50004, "00000000000000000000000001000000"), TcpTable.ESTABLISHED));
    }

    @Test
    void hex_writesEachWordInTheMachinesByteOrder() throws Exception {
        Assumptions.assumeTrue(ByteOrder.nativeOrder() == ByteOrder.LITTLE_ENDIAN);
        assertThat(TcpTable.hex(InetAddress.getByName("127.0.0.1"))).isEqualTo("0100007F");
        assertThat(TcpTable.hex(InetAddress.getByName("::1"))).isEqualTo("00000000000000000000000001000000");
        assertThat(TcpTable.hex(InetAddress.getByName("10.1.2.3"))).isEqualTo("0302010A");
    }
}
