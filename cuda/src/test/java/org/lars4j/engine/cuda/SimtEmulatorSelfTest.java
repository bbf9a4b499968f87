package org.lars4j.engine.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * Runs the SIMT emulator's own test program (src/test/cpp/simt_selftest.cpp, built by the native
 * build): barriers, shuffles, concurrent blocks, and planted races / missing barriers that must
 * change the result across schedules, divergent barriers reported as faults; and its emulated CUDA
 * runtime: the legacy default stream waits for blocking streams and not for non-blocking ones,
 * events order streams, a zero-size grid is refused by its launch, a misaligned 16-byte load
 * faults and is reported by the next synchronisation.
 */
class SimtEmulatorSelfTest {
    @Test
    void emulatorSelfTestPasses() throws Exception {
        Path exe = Path.of("target", "native", "simt_selftest");
        assertTrue(Files.isExecutable(exe), exe + " must be built by the native build (src/main/cpp/build-native.sh)");
        Process p = new ProcessBuilder(exe.toString()).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(60, TimeUnit.SECONDS), "self-test timed out");
        System.out.print(out);
        assertEquals(0, p.exitValue(), out);
        assertTrue(out.contains("22 passed, 0 failed"), out);
    }
}
