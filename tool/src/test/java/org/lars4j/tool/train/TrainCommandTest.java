package org.lars4j.tool.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.awt.image.BufferedImage;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.lars4j.io.SafetensorsFile;
import org.lars4j.tool.Main;

/** The experiment of `./lars4j train`, made small: a few thousand images, a few epochs. */
class TrainCommandTest {
    @BeforeAll
    static void dataIsInstalled() {
        // scripts/install-data.sh (run by this module's build) installs it; without root it cannot.
        Assumptions.assumeTrue(Files.isRegularFile(FashionMnist.DEBIAN_DIR.resolve("train-images-idx3-ubyte.gz")),
                "Fashion-MNIST is not installed: sudo apt-get install dataset-fashion-mnist");
    }

    @Test
    void aSmallExperimentLearnsAndWritesResultsPlotsModelsAndCheckpoints(@TempDir Path tmp) throws Exception {
        Path out = tmp.resolve("out");
        int rc = Main.run("train", "--out", out.toString(), "--train-limit", "4096", "--test-limit", "1000", "--epochs", "3",
                "--batches", "512", "--micro-batch", "512", "--optimizers", "lars", "--lr-multipliers", "1", "--baseline-batch", "128");
        assertEquals(0, rc);
        JsonNode results = new ObjectMapper().readTree(out.resolve("results.json").toFile());
        assertEquals(2, results.get("runs").size());
        for (JsonNode run : results.get("runs")) {
            String id = run.get("id").asText();
            JsonNode loss = run.get("train_loss");
            assertEquals(3, loss.size(), id);
            assertTrue(loss.get(2).asDouble() < 0.8 * loss.get(0).asDouble(), id + ": the loss falls: " + loss);
            assertTrue(run.get("best_test_accuracy").asDouble() > 0.5, id + ": far above chance (0.1): " + run.get("test_accuracy"));
            for (String f : new String[] {"model.zip", "optimizer.safetensors", "trainer.json"}) {
                assertTrue(Files.size(out.resolve("runs").resolve(id).resolve(f)) > 0, id + "/" + f);
            }
        }
        String md = Files.readString(out.resolve("results.md"));
        assertTrue(md.contains("| lars | 512 |"), md);
        assertTrue(md.contains("| sgd (baseline) | 128 |"), md);
        BufferedImage acc = ImageIO.read(out.resolve("accuracy-b512.png").toFile());
        assertTrue(acc.getWidth() > 500 && acc.getHeight() > 300);
        try (var files = Files.list(out)) {
            assertTrue(files.anyMatch(p -> p.getFileName().toString().startsWith("trust-ratios-lars-b512")), "the trust-ratio plot");
        }
        try (var files = Files.walk(out)) {
            assertFalse(files.anyMatch(p -> p.getFileName().toString().startsWith(".")), "no temporary files left");
        }
    }

    /** RangerLars trains, its checkpoint holds the slow weights, and --no-baseline runs only the grid. */
    @Test
    void rangerLarsRunsAloneWithoutTheBaselineAndKeepsItsSlowWeights(@TempDir Path tmp) throws Exception {
        Path out = tmp.resolve("out");
        int rc = Main.run("train", "--out", out.toString(), "--train-limit", "4096", "--test-limit", "1000", "--epochs", "3",
                "--batches", "512", "--micro-batch", "512", "--optimizers", "ranger-lars", "--lr-multipliers", "4", "--no-baseline");
        assertEquals(0, rc);
        JsonNode results = new ObjectMapper().readTree(out.resolve("results.json").toFile());
        assertFalse(results.get("settings").get("baseline").asBoolean());
        assertEquals(1, results.get("runs").size(), "the grid's one run, no baseline");
        JsonNode run = results.get("runs").get(0);
        String id = run.get("id").asText();
        assertTrue(id.startsWith("ranger-lars-b512-lr"), id);
        assertEquals("ranger-lars", run.get("optimizer").asText());
        assertEquals(4 * 0.01 * Math.sqrt(512 / 4096.0), run.get("lr").asDouble(), 1e-15, "LAMB's reference rate, times 4");
        // 24 steps of a rule that starts with momentum only and halves its progress at each sync
        // of the slow weights: it learns, slowly (here 21-22% after 3 epochs, against chance 10%).
        JsonNode loss = run.get("train_loss");
        assertTrue(loss.get(2).asDouble() < 0.95 * loss.get(0).asDouble(), id + ": the loss falls: " + loss);
        assertTrue(run.get("best_test_accuracy").asDouble() > 0.15, id + ": above chance (0.1): " + run.get("test_accuracy"));
        try (SafetensorsFile f = SafetensorsFile.open(out.resolve("runs").resolve(id).resolve("optimizer.safetensors"))) {
            assertEquals("ranger-lars", f.metadata().get("preset"));
            assertTrue(f.tensors().stream().anyMatch(t -> t.name().endsWith(".lookahead_slow")), "the slow weights are checkpointed");
        }
        String md = Files.readString(out.resolve("results.md"));
        assertTrue(md.contains("| ranger-lars | 512 |"), md);
        assertFalse(md.contains("(baseline)"), md);
        try (var files = Files.list(out)) {
            assertTrue(files.anyMatch(p -> p.getFileName().toString().startsWith("trust-ratios-ranger-lars-b512")), "the trust-ratio plot");
        }
    }

    @Test
    void aRunThatDivergesIsRecordedAsSuchAndTheExperimentGoesOn(@TempDir Path tmp) throws Exception {
        Path out = tmp.resolve("out");
        // SGD at 1000x the linearly scaled rate: the weights overflow within the first epoch.
        int rc = Main.run("train", "--out", out.toString(), "--train-limit", "2048", "--test-limit", "500", "--epochs", "3",
                "--batches", "512", "--micro-batch", "512", "--optimizers", "sgd,lars", "--lr-multipliers", "1000",
                "--baseline-batch", "256");
        assertEquals(0, rc);
        JsonNode runs = new ObjectMapper().readTree(out.resolve("results.json").toFile()).get("runs");
        assertEquals(3, runs.size(), "every planned run ran");
        JsonNode sgd = runs.get(1);
        assertEquals("sgd", sgd.get("optimizer").asText());
        assertTrue(sgd.get("diverged").asBoolean(), sgd.toString());
        assertTrue(sgd.get("final_test_accuracy").isNull(), sgd.toString());
        assertTrue(Files.readString(out.resolve("results.md")).contains("| diverged |"));
    }

    @Test
    void badSettingsAreUsageErrorsAndWriteNothing(@TempDir Path tmp) {
        Path out = tmp.resolve("out");
        for (String[] args : new String[][] {
                {"--epochs", "0"}, {"--batches", "100000"}, {"--optimizers", "adam"}, {"--lr-multipliers", "-1"},
                {"--batches", "3000", "--micro-batch", "1024"}, {"--shrink", "4"}, {"--baseline-batch", "3000", "--micro-batch", "2048"},
                {"--batches", "4096,4096"}, {"--lr-multipliers", "1,1"}}) {
            String[] all = new String[args.length + 3];
            all[0] = "train";
            all[1] = "--out";
            all[2] = out.toString();
            System.arraycopy(args, 0, all, 3, args.length);
            String err = stderrOf(2, all);
            assertTrue(err.startsWith("lars4j") && err.strip().lines().count() == 1, String.join(" ", args) + ": " + err);
            assertFalse(Files.exists(out), String.join(" ", args) + " wrote " + out);
        }
        String err = stderrOf(1, "train", "--out", out.toString(), "--data", tmp.resolve("nothing").toString());
        assertTrue(err.contains("nothing") && err.contains("dataset-fashion-mnist"), err);
        assertFalse(Files.exists(out));
    }

    @Test
    void aDirectoryThatHoldsSomethingElseIsNotOverwritten(@TempDir Path tmp) throws Exception {
        Path mine = tmp.resolve("notes.txt");
        Files.writeString(mine, "keep me");
        String err = stderrOf(2, "train", "--out", tmp.toString(), "--epochs", "1", "--train-limit", "600");
        assertTrue(err.contains("not empty"), err);
        assertEquals("keep me", Files.readString(mine));
    }

    private static String stderrOf(int expectedExitCode, String... args) {
        PrintStream old = System.err;
        ByteArrayOutputStream buf = new ByteArrayOutputStream();
        System.setErr(new PrintStream(buf, true, StandardCharsets.UTF_8));
        try {
            int rc = Main.run(args);
            assertEquals(expectedExitCode, rc, String.join(" ", args));
        } finally {
            System.setErr(old);
        }
        return buf.toString(StandardCharsets.UTF_8);
    }
}
