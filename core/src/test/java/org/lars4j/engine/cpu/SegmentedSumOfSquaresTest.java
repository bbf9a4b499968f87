package org.lars4j.engine.cpu;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * The segmented sum of squares on its own: its class doc's worked example number for number, and
 * its totals against an independent float64 sum of squares (accurate to float32 rounding, since
 * the lanes and partials are float32), on segment lengths around the tile boundary, one-element
 * and empty segments, and non-finite inputs; with both kernel forms.
 */
class SegmentedSumOfSquaresTest {
    private static SquaresKernels[] kernels() {
        return KernelProvider.vectorUnusableReason() == null
                ? new SquaresKernels[] {ScalarSquaresKernels.INSTANCE, VectorSquaresKernels.INSTANCE}
                : new SquaresKernels[] {ScalarSquaresKernels.INSTANCE};
    }

    /** The float64 sum of squares of each segment, plain order: the reference, shared with nothing. */
    private static double[] float64Sums(float[] x, int[] offsets) {
        double[] s = new double[offsets.length - 1];
        for (int i = 0; i < s.length; i++) {
            for (int e = offsets[i]; e < offsets[i + 1]; e++) s[i] += (double) x[e] * x[e];
        }
        return s;
    }

    private static int[] offsetsOf(int... lengths) {
        int[] o = new int[lengths.length + 1];
        for (int i = 0; i < lengths.length; i++) o[i + 1] = o[i] + lengths[i];
        return o;
    }

    @Test
    void theWorkedExampleOfTheClassDocHoldsNumberForNumber() {
        int[] offsets = {0, 5000, 5003, 9099};
        float[] x = new float[9099];
        Arrays.fill(x, 0.1f);
        TileTable table = TileTable.ofOffsets(offsets);
        assertArrayEquals(new int[] {0, 2, 3}, table.firstTile);
        assertArrayEquals(new int[] {2, 1, 1}, table.tileCount);
        assertArrayEquals(new int[] {4096, 904, 3, 4096}, new int[] {table.length(0), table.length(1), table.length(2), table.length(3)});
        for (SquaresKernels k : kernels()) {
            float[] lanes = new float[1024];
            float[] want = {40.960003f, 9.040001f, 0.030000001f, 40.960003f};
            for (int t = 0; t < 4; t++) {
                int s = table.tileSegment[t];
                float p = new SegmentedSumOfSquares(table, k).partial(lanes, x, null, offsets[s] + table.tileStart[t], table.length(t));
                assertEquals(want[t], p, k.name() + " partial of tile " + t);
            }
            double[] out = new double[3];
            SegmentedSumOfSquares.sum(k, x, offsets, out);
            assertArrayEquals(new double[] {50.000003814697266, 0.030000001192092896, 40.96000289916992}, out, k.name());
        }
        // The doc's exact sums: n * (0.1f)^2 in exact decimal arithmetic, rounded once to double.
        java.math.BigDecimal square = new java.math.BigDecimal((double) 0.1f).pow(2);
        double[] exact = new double[3];
        for (int s = 0; s < 3; s++) exact[s] = square.multiply(java.math.BigDecimal.valueOf(offsets[s + 1] - offsets[s])).doubleValue();
        assertArrayEquals(new double[] {50.000001490116134, 0.03000000089406968, 40.960001220703134}, exact, "the doc's exact sums");
    }

    @Test
    void totalsMatchAFloat64SumToFloat32AccuracyAtEveryLengthAroundTheTileBoundary() {
        int[] lengths = {1, 2, 3, 1023, 1024, 1025, 4095, 4096, 4097, 8191, 8192, 8193, 5000, 3, 1, 4096 * 257 + 5};
        int[] offsets = offsetsOf(lengths);
        float[] x = new float[offsets[lengths.length]];
        SplittableRandom r = new SplittableRandom(7);
        for (int i = 0; i < x.length; i++) x[i] = (float) (r.nextGaussian() * Math.exp(r.nextGaussian()));
        double[] want = float64Sums(x, offsets);
        for (SquaresKernels k : kernels()) {
            double[] got = new double[lengths.length];
            SegmentedSumOfSquares.sum(k, x, offsets, got);
            for (int s = 0; s < lengths.length; s++) {
                // Float32 lanes and partials: about 2^-24 relative per rounding, a few hundred of them in a row at most.
                assertEquals(want[s], got[s], want[s] * 1e-5, k.name() + " segment " + s + " of " + lengths[s] + " elements");
            }
        }
    }

    @Test
    void aOneElementSegmentIsItsSquareAndAnEmptyOneIsZero() {
        float[] x = {3f, -0f, 1e-30f, 2f};
        int[] offsets = {0, 1, 1, 2, 3, 4};   // segments: {3}, {}, {-0}, {1e-30 (square underflows)}, {2}
        for (SquaresKernels k : kernels()) {
            double[] got = new double[5];
            SegmentedSumOfSquares.sum(k, x, offsets, got);
            assertArrayEquals(new double[] {9.0, 0.0, 0.0, 0.0, 4.0}, got, k.name());
            assertEquals(0L, Double.doubleToRawLongBits(got[1]), "+0.0, not -0.0, for the empty segment");
            assertEquals(0L, Double.doubleToRawLongBits(got[2]), "(-0)^2 accumulates to +0");
        }
    }

    @Test
    void aNonFiniteValueMakesOnlyItsOwnSegmentNonFiniteAndTotalsSaysSo() {
        int[] lengths = {4097, 4096, 10, 4095};
        int[] offsets = offsetsOf(lengths);
        float[] x = new float[offsets[4]];
        Arrays.fill(x, 0.5f);
        x[offsets[0] + 4096] = Float.NaN;                 // the second tile of segment 0
        x[offsets[1] + 17] = Float.NEGATIVE_INFINITY;      // squares to +inf
        x[offsets[3] + 100] = 3e30f;                       // finite, but its square overflows float32
        TileTable table = new TileTable(lengths);
        for (SquaresKernels k : kernels()) {
            SegmentedSumOfSquares sums = new SegmentedSumOfSquares(table, k);
            float[] partials = new float[table.tiles()];
            float[] lanes = new float[1024];
            for (int t = 0; t < table.tiles(); t++) {
                int s = table.tileSegment[t];
                partials[t] = sums.partial(lanes, x, null, offsets[s] + table.tileStart[t], table.length(t));
            }
            double[] out = new double[4];
            assertFalse(sums.totals(partials, 0, 4, out), k.name());
            assertTrue(Double.isNaN(out[0]), k.name());
            assertEquals(Double.POSITIVE_INFINITY, out[1], k.name());
            assertEquals(2.5, out[2], k.name());
            assertEquals(Double.POSITIVE_INFINITY, out[3], k.name());
            assertTrue(sums.totals(partials, 2, 3, out), k.name() + ": segment 2 alone is finite");
        }
    }

    @Test
    void stageTwoDependsOnlyOnThePartialsNotOnWhoComputedThemOrWhen() {
        // Partials written in reverse tile order give the same totals as in order: stage 2 reads only the array.
        int[] lengths = {4096 * 300 + 1, 7, 4096};
        TileTable table = new TileTable(lengths);
        int[] offsets = offsetsOf(lengths);
        float[] x = new float[offsets[3]];
        SplittableRandom r = new SplittableRandom(3);
        for (int i = 0; i < x.length; i++) x[i] = (float) r.nextGaussian();
        SegmentedSumOfSquares sums = new SegmentedSumOfSquares(table, ScalarSquaresKernels.INSTANCE);
        float[] partials = new float[table.tiles()];
        float[] lanes = new float[1024];
        for (int t = table.tiles() - 1; t >= 0; t--) {
            int s = table.tileSegment[t];
            partials[t] = sums.partial(lanes, x, null, offsets[s] + table.tileStart[t], table.length(t));
        }
        double[] reversed = new double[3];
        sums.totals(partials, 0, 3, reversed);
        double[] inOrder = new double[3];
        SegmentedSumOfSquares.sum(ScalarSquaresKernels.INSTANCE, x, offsets, inOrder);
        assertArrayEquals(inOrder, reversed);
    }
}
