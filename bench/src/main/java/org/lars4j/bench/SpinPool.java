package org.lars4j.bench;

import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.LockSupport;

/**
 * A persistent set of worker threads for {@link TriadBenchmark}, built like the library's
 * CPU engine pool: the calling thread is worker 0, a volatile generation counter publishes the
 * task, workers spin briefly and then park. Nothing is created or allocated per {@link #run}.
 */
final class SpinPool implements AutoCloseable {
    /** A task body; {@code worker} is 0..size-1. */
    interface Task {
        void run(int worker);
    }

    private static final int SPINS = 2_000;

    private final Thread[] threads;
    private final AtomicInteger remaining = new AtomicInteger();
    private volatile int generation;
    private volatile boolean closed;
    private volatile Task task;
    private volatile Thread caller;
    private volatile Throwable failure;

    SpinPool(int size) {
        if (size < 1) throw new IllegalArgumentException("size must be >= 1, got " + size);
        threads = new Thread[size - 1];
        for (int i = 0; i < threads.length; i++) {
            final int worker = i + 1;
            Thread t = new Thread(() -> loop(worker), "triad-" + worker);
            t.setDaemon(true);
            threads[i] = t;
            t.start();
        }
    }

    int size() { return threads.length + 1; }

    /** Runs {@code t} on every worker; returns when all are done. */
    void run(Task t) {
        if (threads.length == 0) {
            t.run(0);
            return;
        }
        failure = null;
        task = t;
        caller = Thread.currentThread();
        remaining.set(threads.length);
        generation++;
        for (Thread th : threads) LockSupport.unpark(th);
        Throwable mine = null;
        try {
            t.run(0);
        } catch (Throwable e) {
            mine = e;
        }
        int spins = 0;
        while (remaining.get() != 0) {
            if (++spins < SPINS) Thread.onSpinWait();
            else LockSupport.park(this);
        }
        task = null;
        Throwable f = mine != null ? mine : failure;
        if (f instanceof RuntimeException) throw (RuntimeException) f;
        if (f instanceof Error) throw (Error) f;
        if (f != null) throw new IllegalStateException(f);
    }

    private void loop(int worker) {
        int seen = 0;
        while (true) {
            int spins = 0;
            while (generation == seen && !closed) {
                if (++spins < SPINS) Thread.onSpinWait();
                else LockSupport.park(this);
            }
            if (closed) return;
            seen = generation;
            try {
                task.run(worker);
            } catch (Throwable e) {
                failure = e;
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
