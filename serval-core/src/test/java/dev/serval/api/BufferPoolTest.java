package dev.serval.api;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import org.junit.jupiter.api.Test;

class BufferPoolTest {
    @Test
    void acquire_reusesAReleasedBufferOfTheSameSize_cleared() {
        BufferPool pool = new BufferPool(1 << 20, 16);
        ByteBuffer first = pool.acquire(600);
        first.putInt(42).flip();
        pool.release(first);

        ByteBuffer again = pool.acquire(600);

        assertThat(again).isSameAs(first);
        assertThat(again.position()).isZero();
        assertThat(again.limit()).isEqualTo(600);
        assertThat(again.order()).isEqualTo(ByteOrder.LITTLE_ENDIAN);
        assertThat(pool.acquire(600)).isNotSameAs(first);
    }

    @Test
    void tinyBuffers_arePooledToo() {
        BufferPool pool = new BufferPool(1 << 20, 16);
        ByteBuffer flower = pool.acquire(16);
        pool.release(flower);

        assertThat(pool.acquire(16)).isSameAs(flower);
    }

    @Test
    void otherSizes_neverGetAPooledBuffer() {
        BufferPool pool = new BufferPool(1 << 20, 16);
        ByteBuffer buffer = pool.acquire(600);
        pool.release(buffer);

        assertThat(pool.acquire(601).capacity()).isEqualTo(601);
        assertThat(pool.acquire(599).capacity()).isEqualTo(599);
        assertThat(pool.pooledBytes()).isEqualTo(600);
    }

    @Test
    void theBoundsInBytesAndSizes_leaveTheRestToTheCollector() {
        BufferPool pool = new BufferPool(1000, 2);
        pool.release(pool.acquire(600));
        pool.release(pool.acquire(600)); // the same buffer again: fine
        ByteBuffer a = pool.acquire(600);
        ByteBuffer b = pool.acquire(600);
        pool.release(a);
        pool.release(b); // 1200 > 1000: not kept
        assertThat(pool.pooledBytes()).isEqualTo(600);

        pool.release(pool.acquire(100));
        pool.release(pool.acquire(50)); // a third size: not kept
        assertThat(pool.pooledBytes()).isEqualTo(700);
    }

    @Test
    void heapBuffers_areNeverPooled() {
        BufferPool pool = new BufferPool(1 << 20, 16);
        pool.release(ByteBuffer.allocate(64).order(ByteOrder.LITTLE_ENDIAN));

        assertThat(pool.pooledBytes()).isZero();
    }
}
