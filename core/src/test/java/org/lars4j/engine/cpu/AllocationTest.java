package org.lars4j.engine.cpu;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.management.ManagementFactory;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.lars4j.Backend;
import org.lars4j.Lamb;
import org.lars4j.Lars;
import org.lars4j.LayerwiseOptimizer;
import org.lars4j.layout.ParamLayout;
import org.lars4j.rule.lamb.LambPreset;
import org.lars4j.rule.lars.LarsPreset;
import org.lars4j.testing.TestModels;

/**
 * Plan once, step many: after warm-up, a step on the Java engine allocates nothing, on the
 * calling thread or on the engine's workers (HotSpot's per-thread allocation counters).
 */
class AllocationTest {
    static long allocated(com.sun.management.ThreadMXBean mx, long[] ids) {
        long sum = 0;
        for (long a : mx.getThreadAllocatedBytes(ids)) sum += Math.max(0, a);
        return sum;
    }

    static long[] engineThreadIds() {
        List<Long> ids = new ArrayList<>();
        ids.add(Thread.currentThread().getId());
        for (Thread t : Thread.getAllStackTraces().keySet()) {
            if (t.getName().startsWith("lars4j-cpu")) ids.add(t.getId());
        }
        return ids.stream().mapToLong(Long::longValue).toArray();
    }

    @Test
    void stepsAllocateNothing() {
        com.sun.management.ThreadMXBean mx = (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
        ParamLayout layout = TestModels.randomLayout(3, 30);
        float[][] w = TestModels.gaussian(layout, 1, 0.5);
        float[][] g = TestModels.gaussian(layout, 2, 0.01);
        TestModels.Tensors flatW = new TestModels.Tensors(TestModels.Form.FLAT_ARRAY, layout, w);
        TestModels.Tensors flatG = new TestModels.Tensors(TestModels.Form.FLAT_ARRAY, layout, g);
        TestModels.Tensors bufW = new TestModels.Tensors(TestModels.Form.LIST_DIRECT, layout, w);
        TestModels.Tensors bufG = new TestModels.Tensors(TestModels.Form.LIST_DIRECT, layout, g);
        TestModels.Tensors flatBytesW = new TestModels.Tensors(TestModels.Form.FLAT_BYTES, layout, w);
        TestModels.Tensors flatBytesG = new TestModels.Tensors(TestModels.Form.FLAT_BYTES, layout, g);
        TestModels.Tensors bytesW = new TestModels.Tensors(TestModels.Form.LIST_BYTES, layout, w);
        TestModels.Tensors bytesG = new TestModels.Tensors(TestModels.Form.LIST_BYTES, layout, g);
        List<float[]> lw = Arrays.asList(TestModels.copy(w));
        List<float[]> lg = Arrays.asList(g);
        // Each rule alone, then with Lookahead around it (k = 3: copies, syncs and plain steps all run),
        // then with gradient centralization (its row means and centred tiles use plan-time buffers),
        // then with an active global gradient clip (LARS's gradient pre-pass and divided views of g).
        for (int variant = 0; variant < 8; variant++) {
            boolean lamb = variant % 2 == 1;
            boolean lookahead = variant / 2 == 1;
            boolean centred = variant / 2 == 2;
            boolean clipped = variant / 2 == 3;
            Lamb.Builder lb = Lamb.builder(LambPreset.APEX).learningRate(1e-3).backend(Backend.CPU).threads(2);
            Lars.Builder rb = Lars.builder(LarsPreset.TIMM).learningRate(0.1).weightDecay(1e-4).backend(Backend.CPU).threads(2);
            if (lookahead) {
                lb.lookahead(3, 0.6);
                rb.lookahead(3, 0.6);
            }
            if (centred) {
                lb.gradientCentralization(false);
                rb.gradientCentralization(false);
            }
            if (clipped) {
                lb.gradientClip(0.05);
                rb.gradientClip(0.05);
            }
            try (LayerwiseOptimizer opt = lamb ? lb.build(layout) : rb.build(layout)) {
                for (int i = 0; i < 2000; i++) {               // warm-up: JIT compilation allocates
                    opt.step(flatW.flatArray, flatG.flatArray);
                    opt.step(lw, lg);
                    opt.stepBuffers(bufW.buffers, bufG.buffers);
                    opt.step(flatBytesW.flatBytes, flatBytesG.flatBytes);
                    opt.stepByteBuffers(bytesW.byteBuffers, bytesG.byteBuffers);
                }
                long[] ids = engineThreadIds();
                long before = allocated(mx, ids);
                for (int i = 0; i < 200; i++) {
                    opt.step(flatW.flatArray, flatG.flatArray);
                    opt.step(lw, lg);
                    opt.stepBuffers(bufW.buffers, bufG.buffers);
                    opt.step(flatBytesW.flatBytes, flatBytesG.flatBytes);
                    opt.stepByteBuffers(bytesW.byteBuffers, bytesG.byteBuffers);
                }
                long bytes = allocated(mx, ids) - before;
                // A few hundred bytes of slack for the counters' own reads; a per-step allocation
                // would show as 1000 steps x (at least 16 bytes).
                assertTrue(bytes < 4096, (lamb ? "lamb" : "lars") + (lookahead ? " with lookahead" : "") + (centred ? " with centralization" : "") + (clipped ? " with the clip" : "")
                        + ": 1000 steps allocated " + bytes + " bytes");
            }
        }
    }
}
