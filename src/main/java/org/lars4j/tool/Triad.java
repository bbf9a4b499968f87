package org.lars4j.tool;

import java.util.Arrays;
import java.util.concurrent.BrokenBarrierException;
import java.util.concurrent.CyclicBarrier;

/**
 * A STREAM-style triad {@code a[i] = b[i] + s * c[i]} over arrays far larger than the caches,
 * split over {@code threads} threads: the CPU bandwidth floor that `./lars4j bench` compares a
 * step with. STREAM counts 12 bytes per element (its write-allocate traffic is not counted).
 */
final class Triad {
    private Triad() {}

    /** Median triad bandwidth in GB/s (STREAM's 12 bytes per element) over {@code reps} runs. */
    static double measure(int threads, int elements, int reps) throws InterruptedException {
        float[] a = new float[elements];
        float[] b = new float[elements];
        float[] c = new float[elements];
        Arrays.fill(b, 1.5f);
        Arrays.fill(c, 0.25f);
        double[] times = new double[reps + 2];
        CyclicBarrier start = new CyclicBarrier(threads + 1);
        CyclicBarrier end = new CyclicBarrier(threads + 1);
        Thread[] workers = new Thread[threads];
        int per = (elements + threads - 1) / threads;
        for (int t = 0; t < threads; t++) {
            int lo = t * per;
            int hi = Math.min(elements, lo + per);
            workers[t] = new Thread(() -> {
                try {
                    for (int r = 0; r < times.length; r++) {
                        start.await();
                        for (int i = lo; i < hi; i++) a[i] = b[i] + 3.0f * c[i];
                        end.await();
                    }
                } catch (InterruptedException | BrokenBarrierException e) {
                    Thread.currentThread().interrupt();
                }
            }, "lars4j-triad-" + t);
            workers[t].setDaemon(true);
            workers[t].start();
        }
        try {
            for (int r = 0; r < times.length; r++) {
                start.await();
                long t0 = System.nanoTime();
                end.await();
                times[r] = (System.nanoTime() - t0) / 1e9;
            }
        } catch (BrokenBarrierException e) {
            throw new IllegalStateException(e);
        }
        double[] measured = Arrays.copyOfRange(times, 2, times.length); // two warm-up runs
        Arrays.sort(measured);
        return 12.0 * elements / measured[measured.length / 2] / 1e9;
    }
}
