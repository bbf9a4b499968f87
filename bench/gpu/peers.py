#!/usr/bin/env python3
"""The peers of lars4j on one GPU, on the same model shapes, in one table.

Runs, per model (bench/shapes/*.txt, plus tiny-10k = 10,000 tensors of 10x100):
  timm Lars (trust_clip off, MLPerf-like hyperparameters), timm Lamb,
  a torch._foreach LARS (norms with _foreach_norm, one fused pass of foreach ops),
  the same under torch.compile,
  torch.optim.SGD(momentum=0.9, fused=True)   -- the plain-momentum reference,
  optax.lars and optax.lamb under jax.jit.
Each runs warm-up steps, then samples of --batch back-to-back steps between two CUDA events, as
lars4j's harness times its steps: before each sample a device-side sleep (torch.cuda._sleep) long
enough to cover the host's enqueue of the sample holds the stream, so that the window holds the
device's work, not Python's enqueue (a peer whose host cannot keep up still shows it: the sleep
covers one sample's enqueue as measured just before). JAX: the host clock around --batch steps
dispatched back to back and one block_until_ready (JAX has no events). Steps rotate among
several copies of the parameters so that L2 does not hold a step's inputs. Effective GB/s counts
20 bytes/param for momentum SGD and LARS, 28 for LAMB. For the models of --core-only (default
tiny-10k: 10,000 tensors) only fused momentum SGD and the foreach LARS run: timm's Python loops,
JAX and torch.compile would spend the call's time on 10,000 tensors.
If --lars4j JSON (from org.lars4j.bench.GpuStepHarness) is given, its rows join the table and its
device-to-device copy is the floor of the ratio column; without it (or if the harness failed)
the floor is a torch copy of 1 GiB timed the same way. Each row is printed and the --json file
rewritten as soon as it is measured, so a run cut off by a time limit keeps what finished.

Usage (on the GPU machine): python3 bench/gpu/peers.py --models resnet50,bert-large,tiny-10k \
          [--lars4j lars4j.json] [--json peers.json]
Before timing anything it checks one step of the foreach LARS against a float64 reference of the
same rule (so the table compares like with like) and stops if they differ.
Dry run without a GPU: --device cpu (host clock instead of CUDA events, foreach SGD instead of the
CUDA-only fused one; what is missing, e.g. JAX or torch.compile on an old torch, is reported and
skipped). That checks the script, not the GPU: its numbers are not GPU numbers.
"""
import argparse
import json
import math
import os
import signal
import statistics
import sys
import time

# torch and JAX share the GPU in this process: JAX must not grab 75% of its memory up front.
os.environ.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")

HERE = os.path.dirname(os.path.abspath(__file__))
SHAPES = os.path.join(HERE, "..", "shapes")


def load_shapes(model):
    if model == "tiny-10k":
        return [("t%d.weight" % i, (10, 100)) for i in range(10000)]
    if model.startswith("tiny-") and model[5:].isdigit():  # small models for dry runs
        return [("t%d.weight" % i, (10, 100)) for i in range(int(model[5:]))]
    out = []
    with open(os.path.join(SHAPES, model + ".txt")) as f:
        for line in f:
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            name, shape = line.split()
            out.append((name, tuple(int(d) for d in shape.split("x")) if shape != "scalar" else ()))
    return out


def rotations_for(params):
    # at least 512 MB of w + g across the copies, 2..8 copies
    return max(2, min(8, (512 << 20) // (8 * params) + 1))


# ---------------------------------------------------------------------------------------- torch

def torch_sets(torch, shapes, copies, device):
    gen = torch.Generator(device=device).manual_seed(0)
    sets = []
    for _ in range(copies):
        ps = [torch.nn.Parameter(torch.randn(s if s else (), device=device, generator=gen) * 0.5) for _, s in shapes]
        for p in ps:
            p.grad = torch.randn(p.shape, device=device, generator=gen) * 1e-3
        sets.append(ps)
    return sets


_SLEEP_CYCLES_PER_US = None


def sleep_cycles_per_us(torch):
    """Cycles of torch.cuda._sleep per microsecond on this GPU (measured once with events)."""
    global _SLEEP_CYCLES_PER_US
    if _SLEEP_CYCLES_PER_US is None:
        a = torch.cuda.Event(enable_timing=True)
        b = torch.cuda.Event(enable_timing=True)
        cycles = 20_000_000
        a.record()
        torch.cuda._sleep(cycles)
        b.record()
        b.synchronize()
        _SLEEP_CYCLES_PER_US = cycles / max(1.0, a.elapsed_time(b) * 1e3)
    return _SLEEP_CYCLES_PER_US


def time_batch_us(torch, device, fn, batch, hold_us=0.0):
    """Microseconds per call of fn over `batch` back-to-back calls between two CUDA events (host
    clock on the CPU). With hold_us, a device-side sleep of that long goes first, so that the
    host's enqueue of the batch happens while the stream is held. Returns (us, host_enqueue_us)."""
    if device == "cpu":
        t0 = time.perf_counter()
        for _ in range(batch):
            fn()
        us = (time.perf_counter() - t0) * 1e6
        return us / batch, us
    a = torch.cuda.Event(enable_timing=True)
    b = torch.cuda.Event(enable_timing=True)
    if hold_us > 0:
        torch.cuda._sleep(int(hold_us * sleep_cycles_per_us(torch)))
    t0 = time.perf_counter()
    a.record()
    for _ in range(batch):
        fn()
    b.record()
    host = (time.perf_counter() - t0) * 1e6
    b.synchronize()
    return a.elapsed_time(b) * 1e3 / batch, host


def time_steps(torch, device, steps, warmup, reps, batch):
    """Median microseconds per step: `reps` samples of `batch` back-to-back steps, step i calling
    steps[i % len(steps)] (rotated copies), each sample behind a sleep 1.5x the host's enqueue
    time of the sample before it (the first sample calibrates and is dropped)."""
    for i in range(warmup):
        steps[i % len(steps)]()
    if device != "cpu":
        torch.cuda.synchronize()
    k = [0]

    def one():
        steps[k[0] % len(steps)]()
        k[0] += 1
    _, host = time_batch_us(torch, device, one, batch)
    samples = []
    for _ in range(reps):
        us, host = time_batch_us(torch, device, one, batch, 1.5 * host + 50)
        samples.append(us)
    return statistics.median(samples)


def time_torch(torch, make_opt, sets, args):
    opts = [make_opt(ps) for ps in sets]
    return time_steps(torch, args.device, [o.step for o in opts], args.warmup, args.reps, args.batch)


class ForeachLars:
    """LARS (paper / MLPerf form: SUM_OF_NORMS, lr inside, eta 0.001) with torch._foreach ops."""

    def __init__(self, torch, params, lr=0.1, momentum=0.9, weight_decay=5e-5, eta=1e-3):
        self.t, self.params = torch, list(params)
        self.lr, self.mu, self.wd, self.eta = lr, momentum, weight_decay, eta
        self.bufs = [torch.zeros_like(p) for p in self.params]

    def step(self):
        t = self.t
        with t.no_grad():
            ws = self.params
            gs = [p.grad for p in ws]
            wn = t._foreach_norm(ws)
            gn = t._foreach_norm(gs)
            wn_t = t.stack(wn)
            gn_t = t.stack(gn)
            tr = t.where((wn_t > 0) & (gn_t > 0), self.eta * wn_t / (gn_t + self.wd * wn_t), t.ones_like(wn_t))
            scale = (self.lr * tr).unbind()
            u = t._foreach_add(gs, ws, alpha=self.wd)          # g + wd w
            u = t._foreach_mul(u, scale)                        # lr tr u
            t._foreach_mul_(self.bufs, self.mu)
            t._foreach_add_(self.bufs, u)                       # v = mu v + s
            t._foreach_sub_(ws, self.bufs)                      # w -= v


def check_foreach_lars(torch, device):
    """One ForeachLars step against a float64 reference of the same rule, on tensors that cover
    both trust-ratio branches (a zero weight tensor keeps ratio 1). Raises if they differ."""
    gen = torch.Generator(device="cpu").manual_seed(1)
    shapes = [(64, 33), (257,), (7, 5, 3)]
    w0 = [torch.randn(s, generator=gen, dtype=torch.float64) for s in shapes] + [torch.zeros(9, dtype=torch.float64)]
    g0 = [torch.randn(x.shape, generator=gen, dtype=torch.float64) * 1e-2 for x in w0]
    v0 = [torch.randn(x.shape, generator=gen, dtype=torch.float64) * 1e-3 for x in w0]
    ps = [torch.nn.Parameter(x.float().to(device)) for x in w0]
    for p, g in zip(ps, g0):
        p.grad = g.float().to(device)
    opt = ForeachLars(torch, ps)
    opt.bufs = [v.float().to(device) for v in v0]
    # The reference starts from the float32 inputs the optimizer got, in float64.
    lr, mu, wd, eta = opt.lr, opt.mu, opt.wd, opt.eta
    ref_w = []
    for w, g, v in zip(w0, g0, v0):
        w, g, v = (x.float().double() for x in (w, g, v))
        wn, gn = float(w.norm()), float(g.norm())
        tr = eta * wn / (gn + wd * wn) if wn > 0 and gn > 0 else 1.0
        v = mu * v + lr * tr * (g + wd * w)
        ref_w.append(w - v)
    opt.step()
    worst = max(float((p.detach().cpu().double() - r).abs().max()) for p, r in zip(ps, ref_w))
    if not worst < 1e-6:
        raise SystemExit("torch foreach LARS differs from its float64 reference by %g: fix it before timing it" % worst)
    print("check: torch foreach LARS matches its float64 reference (max |dw| %.1e)" % worst, flush=True)


def run_torch(args, shapes, params, rows, model, compiled_only, core_only=False):
    """The eager torch peers (fused SGD first: the reference), or only the torch.compile one,
    which main runs last because its compile time grows with the number of tensors. core_only:
    fused SGD and the foreach LARS alone."""
    import torch
    copies = rotations_for(params)
    sets = torch_sets(torch, shapes, copies, args.device)
    if args.device == "cpu":  # fused SGD is CUDA-only (and absent before torch 2.0)
        cases = [("torch SGD momentum foreach", 20, lambda ps: torch.optim.SGD(ps, lr=0.1, momentum=0.9, foreach=True))]
    else:
        cases = [("torch SGD momentum fused", 20, lambda ps: torch.optim.SGD(ps, lr=0.1, momentum=0.9, fused=True))]
    try:
        if core_only:
            raise ModuleNotFoundError("not run on this model (--core-only)")
        from timm.optim import Lars as TimmLars, Lamb as TimmLamb
        cases.append(("timm Lars", 20, lambda ps: TimmLars(ps, lr=0.1, momentum=0.9, weight_decay=5e-5)))
        cases.append(("timm Lamb", 28, lambda ps: TimmLamb(ps, lr=1e-3, weight_decay=0.01, max_grad_norm=1.0)))
    except ImportError as e:
        print("timm:", e, file=sys.stderr)
    cases.append(("torch foreach LARS", 20, lambda ps: ForeachLars(torch, ps)))

    def compiled(ps):
        o = ForeachLars(torch, ps)
        o.step = torch.compile(o.step)
        return o
    if compiled_only:
        cases = [("foreach LARS + torch.compile", 20, compiled)]
    for name, nbytes, make in cases:
        try:
            us = time_torch(torch, make, sets, args)
            rows.append(row(model, name, params, us, nbytes))
        except Exception as e:  # one failing peer must not hide the others
            print("%s on %s failed: %s" % (name, model, e), file=sys.stderr)
    del sets
    if args.device != "cpu":
        torch.cuda.empty_cache()


# ------------------------------------------------------------------------------------------ jax

def run_jax(args, shapes, params, rows, model):
    import jax
    import jax.numpy as jnp
    import optax
    copies = rotations_for(params)
    key = jax.random.PRNGKey(0)
    sets = []
    for c in range(copies):
        ps, gs = [], []
        for i, (_, s) in enumerate(shapes):
            key, k1, k2 = jax.random.split(key, 3)
            ps.append(jax.random.normal(k1, s, jnp.float32) * 0.5)
            gs.append(jax.random.normal(k2, s, jnp.float32) * 1e-3)
        sets.append((ps, gs))
    for name, nbytes, tx in (("optax.lars (jit)", 20, optax.lars(0.1, weight_decay=5e-5, momentum=0.9)),
                             ("optax.lamb (jit)", 28, optax.lamb(1e-3, weight_decay=0.01))):
        states = [tx.init(ps) for ps, _ in sets]

        @jax.jit
        def step(p, g, s):
            u, s2 = tx.update(g, s, p)
            return optax.apply_updates(p, u), s2

        for i in range(args.warmup):
            c = i % copies
            p, s = step(sets[c][0], sets[c][1], states[c])
            jax.block_until_ready(p)
        times = []
        for i in range(args.reps):
            # --batch steps dispatched back to back (JAX dispatches asynchronously), one wait.
            t0 = time.perf_counter()
            out = None
            for j in range(args.batch):
                c = (i * args.batch + j) % copies
                out = step(sets[c][0], sets[c][1], states[c])
            jax.block_until_ready(out)
            times.append((time.perf_counter() - t0) * 1e6 / args.batch)
        rows.append(row(model, name, params, statistics.median(times), nbytes))


def row(model, impl, params, us, nbytes):
    gbps = nbytes * params / (us * 1e-6) / 1e9
    return {"model": model, "implementation": impl, "params": params, "us_per_step_median": us,
            "bytes_per_param": nbytes, "gbps": gbps}


def torch_copy_floor(device, nbytes=1 << 30, reps=50):
    """Device-to-device copy GB/s (read + write counted), median of timed copies."""
    import torch
    src = torch.empty(nbytes // 4, dtype=torch.float32, device=device).uniform_()
    dst = torch.empty_like(src)
    for _ in range(5):
        dst.copy_(src)
    us = statistics.median(time_batch_us(torch, device, lambda: dst.copy_(src), 4)[0] for _ in range(reps))
    del src, dst
    if device != "cpu":
        torch.cuda.empty_cache()
    return 2 * nbytes / (us * 1e-6) / 1e9


class Table(list):
    """The rows so far; each append prints the row and rewrites the JSON file."""

    def __init__(self, json_path):
        super().__init__()
        self.json_path, self.floor = json_path, None

    def append(self, r):
        super().append(r)
        print("measured: %-12s %-36s %12.1f us %10.1f GB/s" % (r["model"], r["implementation"],
                                                              r["us_per_step_median"], r["gbps"]), flush=True)
        self.save()

    def save(self):
        if self.json_path:
            with open(self.json_path, "w") as f:
                json.dump({"floor_gbps": self.floor, "rows": list(self)}, f, indent=2)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--models", default="resnet50,bert-large,tiny-10k")
    ap.add_argument("--warmup", type=int, default=10)
    ap.add_argument("--reps", type=int, default=30, help="timed samples")
    ap.add_argument("--batch", type=int, default=10, help="back-to-back steps per timed sample")
    ap.add_argument("--core-only", default="tiny-10k",
                    help="models for which only fused SGD and the foreach LARS run (no timm, JAX, torch.compile)")
    ap.add_argument("--lars4j", help="JSON written by org.lars4j.bench.GpuStepHarness --json")
    ap.add_argument("--json")
    ap.add_argument("--skip-jax", action="store_true")
    ap.add_argument("--device", default="cuda", choices=["cuda", "cpu"], help="cpu: a dry run of the script, not GPU numbers")
    args = ap.parse_args()
    import torch
    check_foreach_lars(torch, args.device)
    rows = Table(args.json)
    if args.lars4j:
        try:
            with open(args.lars4j) as f:
                l4 = json.load(f)
            rows.floor = l4["floor_gbps"]
            for r in l4["rows"]:
                # A harness run on the emulator (a dry run) says so in the name.
                where = "" if r.get("backend", "cuda") == "cuda" else " (%s)" % r["backend"]
                rows.append(row(r["model"], "lars4j " + r["optimizer"] + where, r["params"], r["us_per_step_median"], r["bytes_per_param"]))
        except (OSError, ValueError, KeyError) as e:  # the harness failed: the peers still run
            print("no lars4j rows (%s): %s" % (args.lars4j, e), file=sys.stderr)
    if rows.floor is None:
        rows.floor = torch_copy_floor(args.device)
        print("floor: torch %s copy %.1f GB/s (1 GiB, median of 50)" % (args.device, rows.floor), flush=True)
    # A time limit's SIGTERM (run-gpu-session.sh runs this under `timeout`) still prints the table.
    def on_term(signum, frame):
        raise KeyboardInterrupt()
    signal.signal(signal.SIGTERM, on_term)
    try:
        for model in args.models.split(","):
            shapes = load_shapes(model)
            params = sum(math.prod(s) if s else 1 for _, s in shapes)
            core = model in args.core_only.split(",")
            parts = [("torch", lambda: run_torch(args, shapes, params, rows, model, False, core))]
            if not args.skip_jax and not core:
                parts.append(("jax", lambda: run_jax(args, shapes, params, rows, model)))
            if not core:
                parts.append(("torch.compile", lambda: run_torch(args, shapes, params, rows, model, True)))
            for name, part in parts:
                try:
                    part()
                except Exception as e:  # e.g. out of memory: the other parts still run
                    print("%s on %s failed: %s" % (name, model, e), file=sys.stderr)
    except KeyboardInterrupt:
        print("stopped (time limit or ^C): the table holds what was measured so far", file=sys.stderr)
    print_table(rows)


def print_table(rows):
    floor = rows.floor
    # "ratio": GB/s over the copy floor; "x SGD": time over the same model's plain momentum-SGD
    # step (the GPU targets: LARS within 1.10x / 1.25x of it).
    sgd = {r["model"]: r["us_per_step_median"] for r in rows if r["implementation"].startswith("torch SGD momentum")}
    print("%-12s %-44s %14s %12s %8s %10s %7s %7s" % ("model", "implementation", "params", "us/step", "B/param", "GB/s", "ratio", "x SGD"))
    for r in sorted(rows, key=lambda r: (r["model"], r["us_per_step_median"])):
        ratio = r["gbps"] / floor if floor else float("nan")
        x_sgd = r["us_per_step_median"] / sgd[r["model"]] if r["model"] in sgd else float("nan")
        print("%-12s %-44s %14d %12.1f %8d %10.1f %7.3f %7.2f" % (r["model"], r["implementation"], r["params"],
                                                                    r["us_per_step_median"], r["bytes_per_param"], r["gbps"], ratio, x_sgd))
    rows.save()


if __name__ == "__main__":
    main()
