package org.lars4j.rule;

import org.lars4j.error.InvalidHyperparameterException;
import org.lars4j.schedule.LrSchedule;

/**
 * Checks shared by the optimizer configurations; each names the offending hyperparameter. The
 * engines compute in float32, so a value is checked at that precision: 1e300 is finite as a
 * double but infinite once rounded to float, and would turn every weight into +-Inf.
 */
public final class Hyperparameters {
    private Hyperparameters() {}

    /** Finite as a float32 (|v| rounds to at most Float.MAX_VALUE). */
    public static boolean finiteAsFloat(double v) {
        return Float.isFinite((float) v);
    }

    public static void finite(String name, double v) {
        if (!Double.isFinite(v)) throw new InvalidHyperparameterException(name + " must be finite, got " + v);
        if (!finiteAsFloat(v)) throw new InvalidHyperparameterException(name + " " + v + " overflows float32 (the precision the step uses)");
    }

    public static void nonNegative(String name, double v) {
        if (!(v >= 0) || Double.isInfinite(v)) throw new InvalidHyperparameterException(name + " must be finite and >= 0, got " + v);
        if (!finiteAsFloat(v)) throw new InvalidHyperparameterException(name + " " + v + " overflows float32 (the precision the step uses)");
    }

    /** The scheduled learning rate of step {@code t}, which must be finite and >= 0 as a float32. */
    public static double learningRate(LrSchedule schedule, long t) {
        double lr = schedule.at(t);
        if (!(lr >= 0) || Double.isInfinite(lr)) {
            throw new InvalidHyperparameterException("learning rate at step " + t + " is " + lr + " (must be finite and >= 0)");
        }
        if (!finiteAsFloat(lr)) {
            throw new InvalidHyperparameterException("learning rate at step " + t + " is " + lr + ", which overflows float32 (the precision the step uses)");
        }
        return lr;
    }
}
