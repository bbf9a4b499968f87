package org.lars4j.rule.lars;

/** Where the learning rate enters the LARS momentum update (docs/MATH.md section 3). */
public enum LrPlacement {
    /** {@code v = mu * v + lr * tr * u; w = w - v} (paper Alg. 1, MLPerf, optax). */
    INSIDE,
    /** {@code v = mu * v + (1 - dampening) * tr * u; w = w - lr * v} (PyTorch SGD buffer semantics). */
    OUTSIDE
}
