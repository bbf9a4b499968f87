package org.lars4j.engine;

import java.util.Arrays;

/**
 * Whether a step's weights are exactly the ones the previous step of this plan wrote: the same
 * arrays or buffers at the same offsets (host steps), the same device address or pointer table
 * (device steps), and nothing declared changed in between ({@link #changed()}). A rule that
 * carries a value from one step's update into the next (LARS's carried weight norms) asks this
 * before using it. Allocation-free after construction.
 */
public final class WeightsTracker {
    private static final int HOST = 0;
    /** Device steps: a flat base address, or a table of per-segment pointers. */
    public static final int DEVICE_FLAT = 1;
    public static final int DEVICE_TABLE = 2;

    private final Object[] lastStorage;
    private final long[] lastOffset;
    private long lastAddress;
    private int lastKind = HOST;
    private boolean asLeft;

    public WeightsTracker(int segments) {
        lastStorage = new Object[segments];
        lastOffset = new long[segments];
    }

    /**
     * A host step starts on {@code params}: records where they live and returns whether they are
     * as the last step left them. Until {@link #stepDone()} the weights count as changed, so that
     * a step that fails half-way is never trusted.
     */
    public boolean hostStep(HostTensors params) {
        boolean same = asLeft && lastKind == HOST;
        lastKind = HOST;
        for (int i = 0; i < lastStorage.length; i++) {
            Object ref = params.storage(i);
            if (ref != lastStorage[i] || params.offset(i) != lastOffset[i]) {
                same = false;
                lastStorage[i] = ref;
                lastOffset[i] = params.offset(i);
            }
        }
        asLeft = false;
        return same;
    }

    /** The same for a device step on {@code address} of {@code kind} ({@link #DEVICE_FLAT}, {@link #DEVICE_TABLE}). */
    public boolean deviceStep(long address, int kind) {
        boolean same = asLeft && lastKind == kind && lastAddress == address;
        Arrays.fill(lastStorage, null);
        lastKind = kind;
        lastAddress = address;
        asLeft = false;
        return same;
    }

    /** A replayed graph step: on the weights the last step wrote unless declared changed. */
    public boolean graphStep() {
        boolean same = asLeft;
        asLeft = false;
        return same;
    }

    /** The step finished (applied or skipped): its weights are now "as left". */
    public void stepDone() { asLeft = true; }

    /** The weights were written outside the optimizer, or are about to be (benchmark rotation). */
    public void changed() { asLeft = false; }
}
