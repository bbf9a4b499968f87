package org.lars4j.rule.lamb;

import org.lars4j.rule.StepValues;

/**
 * A LAMB step's host values: the step, lr, the two bias corrections and, for rectified LAMB,
 * RAdam's rho_t, the rectification term and the phase (docs/MATH.md section 4.4).
 */
public final class LambStepValues extends StepValues {
    private double biasCorrection1 = 1.0;
    private double biasCorrection2 = 1.0;
    private double rho = Double.NaN;
    private double rectification = 1.0;
    private boolean momentumOnly;

    /** Fills every value of plain LAMB; {@code step} counts from 1; corrections 1 when bias correction is off. */
    public void set(long step, double learningRate, double biasCorrection1, double biasCorrection2) {
        set(step, learningRate, biasCorrection1, biasCorrection2, Double.NaN, 1.0, false);
    }

    /**
     * Fills every value; {@code rho} is RAdam's rho_t (NaN without rectification),
     * {@code rectification} its term (1 without rectification and in the momentum-only phase).
     */
    public void set(long step, double learningRate, double biasCorrection1, double biasCorrection2,
                    double rho, double rectification, boolean momentumOnly) {
        setStep(step, learningRate);
        this.biasCorrection1 = biasCorrection1;
        this.biasCorrection2 = biasCorrection2;
        this.rho = rho;
        this.rectification = rectification;
        this.momentumOnly = momentumOnly;
    }

    /** {@code 1 - beta1^t} (1 when bias correction is off). */
    public double biasCorrection1() { return biasCorrection1; }

    /** {@code 1 - beta2^t} (1 when bias correction is off). */
    public double biasCorrection2() { return biasCorrection2; }

    /** RAdam's {@code rho_t}; NaN when the rule does not rectify. */
    public double rho() { return rho; }

    /** RAdam's rectification term {@code rect} where {@code rho_t > 5}; otherwise 1 (plain LAMB, or the momentum-only phase). */
    public double rectification() { return rectification; }

    /** Rectified LAMB's first steps ({@code rho_t <= 5}): the direction is {@code mh} alone. */
    public boolean momentumOnly() { return momentumOnly; }

    /**
     * What the engines divide m' by: {@code (1 - beta1^t) / rect}, in float64, rounded to float32
     * once by the engine. The rectification is folded into the first moment's divisor, so a
     * rectified step costs no element operation more than LAMB's; with {@code rect = 1} (plain
     * LAMB, the momentum-only phase) the division is exact and the divisor is {@code 1 - beta1^t}
     * itself.
     */
    public double momentDivisor() { return biasCorrection1 / rectification; }
}
