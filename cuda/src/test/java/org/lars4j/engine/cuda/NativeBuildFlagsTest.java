package org.lars4j.engine.cuda;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;

/**
 * The CUDA kernels are compiled with -fmad=false: a plain {@code a*b+c} written in a kernel some
 * day must stay a rounded multiply and a rounded add, not become an fma with other bits. The
 * native build compiles a probe kernel with the kernels' nvcc flags to PTX (target/native/
 * fmad-probe.ptx); skipped where nvcc was not found.
 */
class NativeBuildFlagsTest {
    @Test
    void aPlainMultiplyAddIsNotContracted() throws IOException {
        Path ptx = Path.of("target/native/fmad-probe.ptx");
        assumeTrue(Files.exists(ptx), "nvcc was not found by the native build");
        String text = Files.readString(ptx);
        assertTrue(text.contains("mul.rn.f32") && text.contains("add.rn.f32"), text);
        assertFalse(text.contains("fma."), "the multiply-add was contracted:\n" + text);
    }
}
