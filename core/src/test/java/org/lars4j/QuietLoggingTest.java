package org.lars4j;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.ArrayList;
import java.util.List;
import java.util.logging.Handler;
import java.util.logging.Level;
import java.util.logging.LogRecord;
import java.util.logging.Logger;
import org.junit.jupiter.api.Test;
import org.lars4j.layout.ParamLayout;
import org.lars4j.rule.lars.LarsPreset;

/** A library is quiet unless asked: building optimizers logs the engine choice once, at FINE. */
class QuietLoggingTest {
    @Test
    void buildingOptimizersLogsTheEngineChoiceOnceAtFine() {
        Logger log = Logger.getLogger("org.lars4j.engine");
        List<LogRecord> records = new ArrayList<>();
        Handler h = new Handler() {
            @Override public void publish(LogRecord r) { records.add(r); }
            @Override public void flush() {}
            @Override public void close() {}
        };
        Level before = log.getLevel();
        log.setLevel(Level.ALL);
        log.addHandler(h);
        try {
            Engines.resetFallbackLogForTests();
            ParamLayout layout = ParamLayout.builder().add("w", 8).build();
            for (int i = 0; i < 3; i++) {
                try (LayerwiseOptimizer opt = Lars.builder(LarsPreset.PAPER).learningRate(0.1).backend(Backend.AUTO).build(layout)) {
                    opt.step(new float[8], new float[8]);
                }
            }
        } finally {
            log.removeHandler(h);
            log.setLevel(before);
        }
        long loud = records.stream().filter(r -> r.getLevel().intValue() >= Level.INFO.intValue()).count();
        assertEquals(0, loud, "nothing at INFO or above");
        // Where CUDA can run, AUTO takes it and there is no fall-back to explain.
        int expected = Engines.unavailableReason(Backend.CUDA) == null ? 0 : 1;
        assertEquals(expected, records.stream().filter(r -> r.getMessage().contains("falling back")).count(), "logged once for three builds");
        records.stream().filter(r -> r.getMessage().contains("falling back")).forEach(r -> assertEquals(Level.FINE, r.getLevel()));
    }
}
