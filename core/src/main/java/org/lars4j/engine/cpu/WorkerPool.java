package org.lars4j.engine.cpu;

import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.LockSupport;

/**
 * A fixed set of worker threads that run one phase at a time, allocation-free: the caller is
 * worker 0, publishes the phase through a volatile generation counter, and waits (spin, yield, then
 * park) until every worker has finished. No futures, no locks, no garbage per step.
 */
final class WorkerPool implements AutoCloseable {
    /** A phase body; {@code worker} is 0..size-1 and selects per-worker scratch. */
    interface Phase {
        void run(int worker);
    }

    /**
     * How long a waiting thread stays awake (spinning for the first tenth, then yielding) before
     * it parks. A LARS step runs a few hundred short phases
     * (two per block); waking a parked thread costs tens to hundreds of microseconds on a VM,
     * more than a block's phase itself, so waits inside a step must not park. After a step the
     * workers park once this has passed.
     */
    private static final long SPIN_NANOS = 200_000;

    private final Thread[] threads;
    private final AtomicInteger remaining = new AtomicInteger();
    private volatile int generation;
    private volatile boolean closed;
    private volatile Phase phase;
    private volatile Thread caller;
    private volatile Throwable failure;

    WorkerPool(int size, String name) {
        threads = new Thread[size - 1];
        for (int i = 0; i < threads.length; i++) {
            final int worker = i + 1;
            Thread t = new Thread(() -> loop(worker), name + "-" + worker);
            t.setDaemon(true);
            threads[i] = t;
            t.start();
        }
    }

    int size() { return threads.length + 1; }

    /** Runs {@code p} on every worker and returns when all are done; rethrows a worker's failure. */
    void run(Phase p) {
        if (threads.length == 0) {
            p.run(0);
            return;
        }
        failure = null;
        phase = p;
        caller = Thread.currentThread();
        remaining.set(threads.length);
        generation++; // publishes phase (volatile write after the plain state above)
        for (Thread t : threads) LockSupport.unpark(t);
        Throwable mine = null;
        try {
            p.run(0);
        } catch (Throwable t) {
            mine = t;
        }
        long start = System.nanoTime();
        while (remaining.get() != 0) pause(start);
        phase = null;
        Throwable f = mine != null ? mine : failure;
        if (f instanceof RuntimeException) throw (RuntimeException) f;
        if (f instanceof Error) throw (Error) f;
        if (f != null) throw new IllegalStateException(f);
    }

    /** One wait step of a thread that has waited since {@code start}: spin, then yield, then park. */
    private void pause(long start) {
        long waited = System.nanoTime() - start;
        if (waited < SPIN_NANOS / 10) Thread.onSpinWait();
        else if (waited < SPIN_NANOS) Thread.yield(); // lets a thread that shares this CPU finish its part
        else LockSupport.park(this);
    }

    private void loop(int worker) {
        int seen = 0;
        while (true) {
            long start = System.nanoTime();
            while (generation == seen && !closed) pause(start);
            if (closed) return;
            seen = generation;
            try {
                phase.run(worker);
            } catch (Throwable t) {
                failure = t;
            }
            if (remaining.decrementAndGet() == 0) LockSupport.unpark(caller);
        }
    }

    @Override
    public void close() {
        closed = true;
        for (Thread t : threads) LockSupport.unpark(t);
    }
}
