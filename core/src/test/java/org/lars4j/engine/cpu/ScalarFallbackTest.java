package org.lars4j.engine.cpu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * A JVM started without {@code --add-modules jdk.incubator.vector} (what a library user gets by
 * default) runs the scalar kernels and says why, once, through the {@code org.lars4j.engine}
 * logger — the provider's fallback path, which the test JVM itself (module enabled) never takes.
 */
class ScalarFallbackTest {
    @Test
    void withoutTheModuleTheScalarKernelsRunAndTheReasonIsLogged() throws IOException, InterruptedException {
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        Process p = new ProcessBuilder(List.of(java, "-cp", System.getProperty("java.class.path"),
                PrintKernelsMain.class.getName())).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(60, TimeUnit.SECONDS), "child JVM did not finish");
        assertEquals(0, p.exitValue(), out);
        assertTrue(out.contains("kernels: scalar kernels"), out);
        assertTrue(out.contains("--add-modules jdk.incubator.vector"), "the log names the fix: " + out);
        assertEquals(1, out.split("scalar tile kernels", -1).length - 1, "logged once: " + out);
    }
}
