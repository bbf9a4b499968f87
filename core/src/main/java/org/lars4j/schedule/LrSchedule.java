package org.lars4j.schedule;

import org.lars4j.error.InvalidHyperparameterException;

/**
 * The learning rate of step {@code t} (t counts from 1), docs/MATH.md section 5. Evaluated on
 * the host in float64 with {@link StrictMath}, so every backend and JVM sees the same value.
 *
 * <pre>{@code
 * // MLPerf ResNet-50: 5 warm-up epochs, poly(2) decay to 1e-4 over the rest
 * LrSchedule lr = LrSchedule.mlperf(10.0, 5 * stepsPerEpoch, 41 * stepsPerEpoch);
 * // cosine after a linear warm-up
 * LrSchedule lr2 = LrSchedule.linearWarmup(0.1, 500).then(500, LrSchedule.cosine(0.1, 0.0, 9500));
 * }</pre>
 */
@FunctionalInterface
public interface LrSchedule {

    /** Learning rate for step {@code t >= 1}. */
    double at(long t);

    /** {@code lr} at every step. */
    static LrSchedule constant(double lr) {
        requireFinite("constant lr", lr);
        return named(t -> lr, "constant(" + lr + ")");
    }

    /** {@code base * t / warmupSteps} for {@code t <= warmupSteps}, then {@code base}. */
    static LrSchedule linearWarmup(double base, long warmupSteps) {
        requireFinite("linearWarmup base", base);
        if (warmupSteps < 1) throw new InvalidHyperparameterException("linearWarmup: warmupSteps must be >= 1, got " + warmupSteps);
        return named(t -> t <= warmupSteps ? base * t / warmupSteps : base,
                "linearWarmup(" + base + ", " + warmupSteps + ")");
    }

    /**
     * Polynomial decay in local time tau (tau = t here, or t - W after {@link #then}):
     * {@code end + (base - end) * (1 - min(tau, decaySteps) / decaySteps)^power}.
     */
    static LrSchedule polynomial(double base, double end, double power, long decaySteps) {
        requireFinite("polynomial base", base);
        requireFinite("polynomial end", end);
        requireFinite("polynomial power", power);
        if (decaySteps < 1) throw new InvalidHyperparameterException("polynomial: decaySteps must be >= 1, got " + decaySteps);
        return named(t -> {
            double frac = 1.0 - (double) Math.min(t, decaySteps) / decaySteps;
            return end + (base - end) * StrictMath.pow(frac, power);
        }, "polynomial(" + base + ", " + end + ", " + power + ", " + decaySteps + ")");
    }

    /** {@code end + (base - end) * 0.5 * (1 + cos(pi * min(tau, decaySteps) / decaySteps))}. */
    static LrSchedule cosine(double base, double end, long decaySteps) {
        requireFinite("cosine base", base);
        requireFinite("cosine end", end);
        if (decaySteps < 1) throw new InvalidHyperparameterException("cosine: decaySteps must be >= 1, got " + decaySteps);
        return named(t -> {
            double frac = (double) Math.min(t, decaySteps) / decaySteps;
            return end + (base - end) * 0.5 * (1.0 + StrictMath.cos(StrictMath.PI * frac));
        }, "cosine(" + base + ", " + end + ", " + decaySteps + ")");
    }

    /**
     * MLPerf ResNet-50 reference: linear warm-up over {@code warmupSteps}, then
     * {@code polynomial(base, 1e-4, 2, totalSteps - warmupSteps + 1)} in local time t - W.
     */
    static LrSchedule mlperf(double base, long warmupSteps, long totalSteps) {
        if (totalSteps < warmupSteps) {
            throw new InvalidHyperparameterException("mlperf: totalSteps " + totalSteps + " < warmupSteps " + warmupSteps);
        }
        LrSchedule decay = polynomial(base, 1e-4, 2.0, totalSteps - warmupSteps + 1);
        LrSchedule s = warmupSteps == 0 ? decay : linearWarmup(base, warmupSteps).then(warmupSteps, decay);
        return named(s::at, "mlperf(" + base + ", " + warmupSteps + ", " + totalSteps + ")");
    }

    /** This schedule for {@code t <= steps}, then {@code next} at local time {@code t - steps}. */
    default LrSchedule then(long steps, LrSchedule next) {
        if (steps < 0) throw new InvalidHyperparameterException("then: steps must be >= 0, got " + steps);
        if (next == null) throw new InvalidHyperparameterException("then: next schedule is null");
        LrSchedule first = this;
        return named(t -> t <= steps ? first.at(t) : next.at(t - steps), first + ".then(" + steps + ", " + next + ")");
    }

    private static void requireFinite(String what, double v) {
        if (!Double.isFinite(v)) throw new InvalidHyperparameterException(what + " must be finite, got " + v);
    }

    /** A schedule with a readable {@code toString} (recorded in checkpoint metadata). */
    private static LrSchedule named(LrSchedule s, String description) {
        return new LrSchedule() {
            @Override public double at(long t) { return s.at(t); }
            @Override public String toString() { return description; }
        };
    }
}
