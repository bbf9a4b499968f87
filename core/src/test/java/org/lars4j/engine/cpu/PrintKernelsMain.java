package org.lars4j.engine.cpu;

/** Run by ScalarFallbackTest in a JVM of its own: prints which tile kernels a plan gets. */
public final class PrintKernelsMain {
    private PrintKernelsMain() {}

    public static void main(String[] args) {
        System.out.println("kernels: " + SquaresKernels.select().name());
    }
}
