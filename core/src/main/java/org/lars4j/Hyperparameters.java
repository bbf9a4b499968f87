package org.lars4j;

import org.lars4j.schedule.LrSchedule;

/** Checks shared by the optimizer configurations; each names the offending hyperparameter. */
final class Hyperparameters {
    private Hyperparameters() {}

    static void finite(String name, double v) {
        if (!Double.isFinite(v)) throw new InvalidHyperparameterException(name + " must be finite, got " + v);
    }

    static void nonNegative(String name, double v) {
        if (!(v >= 0) || Double.isInfinite(v)) throw new InvalidHyperparameterException(name + " must be finite and >= 0, got " + v);
    }

    /** The scheduled learning rate of step {@code t}, which must be finite and >= 0. */
    static double learningRate(LrSchedule schedule, long t) {
        double lr = schedule.at(t);
        if (!(lr >= 0) || Double.isInfinite(lr)) {
            throw new InvalidHyperparameterException("learning rate at step " + t + " is " + lr + " (must be finite and >= 0)");
        }
        return lr;
    }
}
