package org.lars4j;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.EnabledIfSystemProperty;
import org.lars4j.GoldenSteps.Case;
import org.lars4j.GoldenSteps.Form;
import org.lars4j.GoldenSteps.GoldenLine;
import org.lars4j.GoldenSteps.StepRecord;
import org.lars4j.rule.lamb.LambPreset;
import org.lars4j.rule.lars.LarsPreset;

/**
 * The refactoring guard rail: every configuration of {@link GoldenSteps#cases()} gives, bit for bit,
 * the weights, state, norms and counters recorded in {@code golden/steps.txt} from the code of
 * commit de79524, before the engine changes. A mismatch names the configuration and storage
 * form, the engine, the first differing step and its first differing tensor. Never regenerate
 * the file to make this pass (see {@link GoldenStepsGenerator}).
 *
 * <p>The Java engine runs every case (about 6 s on a busy 2-core machine). The cuda-emulator
 * engine costs about 0.1 s per case plus 2 microseconds per element and step there, 0.4 s per
 * case of this model, so by default it runs {@link #EMULATOR_SAMPLE} (both rules, every LARS
 * preset, the options with their own branches, skip and propagate, flat and list forms; about
 * 6 s); {@code -Dlars4j.golden.full=true} runs every case on it too (about 45 s). Run the full
 * set before merging an engine change.
 */
class GoldenStepsTest {

    /** The byte-buffer steps, which {@link GoldenSteps} does not name (the API it was recorded with, de79524's, had none). */
    static final GoldenSteps.ByteSteps BYTE_STEPS = new GoldenSteps.ByteSteps() {
        @Override public boolean step(LayerwiseOptimizer opt, ByteBuffer params, ByteBuffer grads) {
            return opt.step(params, grads);
        }

        @Override public boolean step(LayerwiseOptimizer opt, List<ByteBuffer> params, List<ByteBuffer> grads) {
            return opt.stepByteBuffers(params, grads);
        }
    };

    /** The cases the cuda-emulator runs by default. */
    static final List<String> EMULATOR_SAMPLE = List.of(
            "lars.paper.wd/FLAT_ARRAY",
            "lars.paper.wd/LIST_ARRAYS",
            "lars.mlperf.wd.momentumCorrection.skip/FLAT_ARRAY",
            "lars.optax.wd.normClamp/FLAT_ARRAY",
            "lars.timm.wd.dampening/FLAT_ARRAY",
            "lars.larc_clip.wd.carryWeightNorms/FLAT_ARRAY",
            "lars.larc_scale.wd.rules/FLAT_ARRAY",
            "lars.tvlars.wd.rules/FLAT_ARRAY",
            "lars.paper.wd.nesterov/FLAT_ARRAY",
            "lars.paper.wd.propagate/FLAT_ARRAY",
            "lamb.paper.wd.everyOption/FLAT_ARRAY",
            "lamb.optax.wd.rules/FLAT_ARRAY",
            "lamb.apex.skip/FLAT_ARRAY",
            "lamb.apex.propagate/FLAT_ARRAY");

    private static final Map<String, List<GoldenLine>> GOLDEN = GoldenSteps.parse(GoldenSteps.readResource());

    @Test
    void everyConfigurationOnTheJavaEngineGivesTheRecordedBits() {
        assertAllMatch(Backend.CPU, GoldenSteps.cases());
    }

    @Test
    void aSampleOfTheConfigurationsOnTheCudaEmulatorGivesTheRecordedBits() {
        List<Case> sample = new ArrayList<>();
        for (Case c : GoldenSteps.cases()) if (EMULATOR_SAMPLE.contains(c.name())) sample.add(c);
        assertEquals(EMULATOR_SAMPLE.size(), sample.size(), "every sampled name is a case");
        assertAllMatch(Backend.CUDA_EMULATOR, sample);
    }

    @Test
    @EnabledIfSystemProperty(named = "lars4j.golden.full", matches = "true")
    void everyConfigurationOnTheCudaEmulatorGivesTheRecordedBits() {
        assertAllMatch(Backend.CUDA_EMULATOR, GoldenSteps.cases());
    }

    @Test
    void theGoldenFileHoldsEveryCaseAndNothingElse() {
        Set<String> expected = new TreeSet<>();
        for (Case c : GoldenSteps.cases()) expected.add(c.name());
        assertEquals(expected, new TreeSet<>(GOLDEN.keySet()));
    }

    @Test
    void theCasesCoverEveryPresetEveryStorageFormAndBothPolicies() {
        Set<LarsPreset> lars = EnumSet.noneOf(LarsPreset.class);
        Set<LambPreset> lamb = EnumSet.noneOf(LambPreset.class);
        Set<Form> forms = EnumSet.noneOf(Form.class);
        boolean skipped = false;
        boolean propagated = false;
        for (Case c : GoldenSteps.cases()) {
            for (LarsPreset p : LarsPreset.values()) if (c.config.startsWith("lars." + p.name().toLowerCase() + ".")) lars.add(p);
            for (LambPreset p : LambPreset.values()) if (c.config.startsWith("lamb." + p.name().toLowerCase() + ".")) lamb.add(p);
            forms.add(c.form);
            for (GoldenLine l : GOLDEN.get(c.name())) skipped |= !l.applied;
            propagated |= c.config.endsWith("propagate");
        }
        assertEquals(EnumSet.allOf(LarsPreset.class), lars);
        assertEquals(EnumSet.copyOf(GoldenSteps.LAMB_PRESETS), lamb);
        assertEquals(EnumSet.allOf(Form.class), forms);
        assertTrue(skipped, "a skipped step is recorded");
        assertTrue(propagated, "a propagated non-finite gradient is recorded");
    }

    @Test
    void everyStorageFormOfAConfigurationIsRecordedWithTheBitsOfItsFlatArrayForm() {
        for (Case c : GoldenSteps.cases()) {
            List<GoldenLine> flat = GOLDEN.get(c.config + "/" + Form.FLAT_ARRAY);
            assertNotNull(flat, c.config + " has a flat float[] form");
            assertTrue(GOLDEN.get(c.name()) == flat, c.name() + " is recorded as " + c.config + "/FLAT_ARRAY");
        }
    }

    @Test
    void aOneUlpChangeInOneWeightIsReportedWithItsConfigurationEngineStepAndTensor() {
        Case c = GoldenSteps.cases().get(0);
        List<StepRecord> run = GoldenSteps.run(c, Backend.CPU, BYTE_STEPS);
        assertNull(GoldenSteps.compare(c, "cpu", GOLDEN.get(c.name()), run));
        StepRecord third = run.get(2);
        int t = third.tensorNames.indexOf("w:len4097");
        byte[] w = third.tensors.get(t);
        w[4 * 4096] ^= 1;                   // one ulp of element 4096, the first of the segment's second tile
        String message = GoldenSteps.compare(c, "cpu", GOLDEN.get(c.name()), run);
        assertNotNull(message);
        assertTrue(message.startsWith(c.name() + " on cpu, step 3: first differing tensor w:len4097"), message);
    }

    private static void assertAllMatch(Backend backend, List<Case> cases) {
        assertNull(Engines.unavailableReason(backend), backend.cliName() + " must run here");
        List<String> mismatches = new ArrayList<>();
        for (Case c : cases) {
            String m = GoldenSteps.compare(c, backend.cliName(), GOLDEN.get(c.name()), GoldenSteps.run(c, backend, BYTE_STEPS));
            if (m != null) mismatches.add(m);
        }
        assertTrue(mismatches.isEmpty(), mismatches.size() + " of " + cases.size() + " cases differ from the golden file:\n"
                + String.join("\n", mismatches));
    }
}
