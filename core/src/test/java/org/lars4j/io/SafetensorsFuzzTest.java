package org.lars4j.io;

import com.code_intelligence.jazzer.junit.DictionaryEntries;
import com.code_intelligence.jazzer.junit.FuzzTest;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterAll;

/**
 * Fuzzes the safetensors reader with Jazzer (coverage-guided, libFuzzer mutations, seeded with
 * valid files from {@code SafetensorsFuzzTestInputs/}): every input is either read completely or
 * rejected with an IOException whose message names the file and carries no parser internals.
 * Anything else — a RuntimeException, an Error, a hang — is a crash, and Jazzer saves the input
 * next to the seeds as a regression case.
 *
 * <p>Runs for 60 s in its own surefire execution ({@code fuzz} in core/pom.xml, JAZZER_FUZZ=1);
 * the normal execution leaves it out. Longer runs: README, "Standing checks".
 */
class SafetensorsFuzzTest {
    private static final AtomicLong INPUTS = new AtomicLong();
    private static Path file;

    @FuzzTest(maxDuration = "60s")
    @DictionaryEntries({"\"dtype\"", "\"shape\"", "\"data_offsets\"", "\"__metadata__\"", "\"F32\"", "\"F16\"", "\"BF16\"",
        "\"F64\"", "\"I64\"", "\"U8\"", "\"BOOL\"", "18446744073709551615", "9223372036854775807", "-1", "1e400"})
    void everyInputIsReadOrRejectedWithATypedErrorNamingTheFile(byte[] data) throws IOException {
        if (file == null) file = Files.createTempDirectory("lars4j-fuzz").resolve("input.safetensors");
        INPUTS.incrementAndGet();
        Files.write(file, data);
        try (SafetensorsFile f = SafetensorsFile.open(file)) {
            for (TensorInfo t : f.tensors()) {
                if (t.begin() < 0 || t.end() < t.begin()) throw new AssertionError("accepted bad offsets " + t);
                if (t.dtype().isFloat()) {
                    float[] x = f.readFloats(t.name());
                    if (x.length != t.elements()) throw new AssertionError(t + ": read " + x.length + " elements");
                }
            }
        } catch (IOException e) {
            String m = e.getMessage();
            if (m == null || !m.startsWith(file.toString())) throw new AssertionError("the message does not name the file: " + m, e);
            String input = new String(data, StandardCharsets.ISO_8859_1);
            for (String internal : new String[] {"StreamReadFeature", "[Source:", "com.fasterxml"}) {
                // Jackson quotes a bad token of the input; only text the input does not hold is a leak.
                if (m.contains(internal) && !input.contains(internal)) throw new AssertionError("parser internals in the message: " + m, e);
            }
        }
    }

    @AfterAll
    static void report() {
        System.out.println("safetensors reader fuzz: " + INPUTS.get() + " inputs tried, 0 crashes");
    }
}
