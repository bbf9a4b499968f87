// The host side of the native engines: a plan (LARS or LAMB) owning its device tables, partial
// buffers and optimizer state, stepping on the CUDA runtime or on the SIMT emulator. This is the
// only header the JavaCPP binding (org.lars4j.engine.cuda.NativeLars) sees; the binding stays
// mechanical and every decision is made here or in Java.
//
// Plan once, step many: every allocation and table upload happens in the constructor. A device
// step (stepDevice) enqueues one small parameter copy and the rule's fixed launch sequence (3 for
// LARS, 3 or 6 for LAMB) on the caller's stream and returns without synchronising. The host step
// (stepHost) stages host tensors through buffers made at plan time and synchronises, for callers
// whose tensors live on the host.
//
// Stream ordering. A step runs on the caller's stream, which is typically non-blocking (lars4j's
// own streams, PyTorch's side streams) and therefore not ordered with the legacy default stream.
// So no copy of the plan goes on the legacy stream: every step, device or host, ends by recording
// the plan's event stepDone_ on its stream (under capture as a graph node, so each replay
// records it too), and every host-side operation on the plan's memory (step values for a graph,
// the skip flag, state, diagnostics) runs on the plan's own non-blocking stream after waiting for
// that event. A step's values cannot be overwritten while a replay still reads them, and
// momentum is never read or written mid-update. The event stays valid when the caller destroys
// its stream, where a remembered stream handle would not.
#pragma once

#include <algorithm>
#include <chrono>
#include <climits>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "lars4j_backend.h"
#include "lars_emulator_backend.h"

namespace lars4j {

class NativePlan {
public:
    static constexpr int KIND_CUDA = 0;
    static constexpr int KIND_EMULATOR = 1;
    static constexpr int LARS = 0;
    static constexpr int LAMB = 1;

    /**
     * @param modes   LARS: the norm mode of each segment (NORM_*); LAMB: 1 where adapted
     * @param dconsts LARS {eta, eps, normClamp, dampening};
     *                LAMB {beta1, beta2, eps, gammaLower, gammaUpper, maxGradNorm, b3, 1 - beta2}
     * @param iconsts LARS {sumOfNorms, lrInside, clip, zeroNormSkipsDecay, nesterov, skipNonFinite, vectorLoads,
     *                carryWeightNorms, grouped (the grouped step as one cooperative launch requested),
     *                groupElements (elements per group: -1 from the device's L2, 0 one group)};
     *                LAMB {adamW, phiClamp, trustClip, skipNonFinite, clipOn, gradNormPass, vectorLoads}
     * @param hostStaging allocate device copies of w and g for stepHost
     */
    NativePlan(int kind, int algorithm, int numSegments, const int* segLen, const int* modes, const double* segLam,
               const double* dconsts, const int* iconsts, bool hostStaging) {
        algorithm_ = algorithm;
        int st = 0;
        backend_.reset(kind == KIND_EMULATOR ? static_cast<Backend*>(new EmulatorBackend()) : createCudaBackend(&st));
        if (!backend_) { status_ = st; message_ = cudaErrorName(st); return; }
        if (!check(backend_->streamCreate(&own_, false)) || !check(backend_->eventCreate(&stepDone_))) return;
        segments_ = numSegments;
        const long long allTiles = numTiles(segLen, numSegments);
        if (allTiles > INT_MAX) {
            fail(kOutOfHostMemory, "layout of " + std::to_string(allTiles) + " tiles: more than a grid can launch");
            return;
        }
        bool grouped = false;
        long long groupElements = 0;
        if (algorithm == LARS) {
            consts_.eta = dconsts[0];
            consts_.eps = dconsts[1];
            consts_.normClamp = dconsts[2];
            consts_.dampening = dconsts[3];
            consts_.sumOfNorms = iconsts[0];
            consts_.lrInside = iconsts[1];
            consts_.clip = iconsts[2];
            consts_.zeroNormSkipsDecay = iconsts[3];
            consts_.nesterov = iconsts[4];
            consts_.skipNonFinite = iconsts[5];
            consts_.vectorLoads = iconsts[6];
            consts_.carryW = iconsts[7];
            grouped = iconsts[8] != 0;
            groupElements = iconsts[9];
            if (groupElements < 0) {
                // w and g (8 bytes per element) of a group fill about half the L2: the rest holds
                // what the update streams through (v, the written w) without evicting them.
                const long long l2 = backend_->l2CacheBytes();
                groupElements = l2 > 0 ? std::max<long long>(kernels::TILE, l2 / 16) : 0;
            }
        } else {
            lamb_.b1 = static_cast<float>(dconsts[0]);
            lamb_.b2 = static_cast<float>(dconsts[1]);
            lamb_.eps = static_cast<float>(dconsts[2]);
            lamb_.gammaLower = dconsts[3];
            lamb_.gammaUpper = dconsts[4];
            lamb_.maxGradNorm = dconsts[5];
            lamb_.b3 = static_cast<float>(dconsts[6]);
            lamb_.omb2 = static_cast<float>(dconsts[7]);
            lamb_.adamW = iconsts[0];
            lamb_.phiClamp = iconsts[1];
            lamb_.trustClip = iconsts[2];
            lamb_.skipNonFinite = iconsts[3];
            lamb_.clipOn = iconsts[4];
            gradNormPass_ = iconsts[5] != 0;
            lamb_.vectorLoads = iconsts[6];
        }

        // LARS uses the norm modes as given; LAMB's gradient-norm pass is kernel 1 of LARS in
        // NORM_G mode for every segment (or is not launched at all).
        std::vector<int> normMode(modes, modes + numSegments);
        std::vector<float> lamF(numSegments);
        for (int s = 0; s < numSegments; s++) {
            lamF[s] = static_cast<float>(segLam[s]);
            if (algorithm == LAMB) normMode[s] = gradNormPass_ ? kernels::NORM_G : kernels::NORM_NONE;
        }

        // Host-side tables, then one upload each.
        std::vector<kernels::TileDesc> tile;
        std::vector<int> firstTile(numSegments), tilesOf(numSegments);
        std::vector<long long> offset(numSegments);
        tile.reserve(static_cast<size_t>(allTiles));
        long long at = 0;
        for (int s = 0; s < numSegments; s++) {
            offset[s] = at;
            firstTile[s] = static_cast<int>(tile.size());
            tilesOf[s] = static_cast<int>(tilesOfSegment(segLen[s]));   // at most 2^19 for an int length
            for (int k = 0; k < tilesOf[s]; k++) {
                const int start = k * kernels::TILE;   // below segLen[s], so an int
                const int len = std::min(kernels::TILE, segLen[s] - start);
                tile.push_back(kernels::TileDesc{at + start, s, len | normMode[s] << kernels::TILE_MODE_SHIFT});
            }
            at += segLen[s];
        }
        total_ = at;
        tiles_ = static_cast<int>(tile.size());
        offsets_ = offset;
        lengths_.assign(segLen, segLen + numSegments);
        Walk walk = planWalk(segLen, tilesOf, tile, groupElements);
        walk_.items = static_cast<int>(walk.itemFirstTile.size()) - 1;
        walk_.segItems = static_cast<int>(walk.segItemFirstSeg.size()) - 1;
        walk_.groups = static_cast<int>(walk.groupFirstItem.size()) - 1;
        groupElements_ = groupElements;
        if (grouped) {
            // One cooperative launch of as many blocks as fit now (never more than items); a
            // launch refused later falls back to three launches (see launch()).
            const int limit = backend_->cooperativeLimit();
            if (limit > 0) consts_.cooperative = std::max(1, std::min(limit, walk_.items));
            else variantNote_ = "cooperative launch not supported by this device; using three launches over the whole model";
        }
        const std::vector<double> nans(numSegments, LARS4J_QNAN());
        const int states = algorithm == LARS ? 1 : 2;
        kernels::LarsTables& t = tables_;
        if (!upload(&t.tile, tile.data(), tiles_) || !upload(&t.segOffset, offset.data(), numSegments)
            || !upload(&walk_.itemFirstTile, walk.itemFirstTile.data(), walk_.items + 1)
            || !upload(&walk_.segItemFirstSeg, walk.segItemFirstSeg.data(), walk_.segItems + 1)
            || !upload(&walk_.groupFirstItem, walk.groupFirstItem.data(), walk_.groups + 1)
            || !upload(&walk_.groupFirstSegItem, walk.groupFirstSegItem.data(), walk_.groups + 1)
            || !upload(&t.segFirstTile, firstTile.data(), numSegments) || !upload(&t.segTiles, tilesOf.data(), numSegments)
            || !upload(&t.normMode, normMode.data(), numSegments) || !upload(&t.segLam, segLam, numSegments)
            || !make(&t.partW, tiles_) || !make(&t.partG, tiles_) || !make(&t.partU, tiles_)
            || !uploadMutable(&t.normW, nans.data(), numSegments) || !uploadMutable(&t.normG, nans.data(), numSegments)
            || !uploadMutable(&t.trust, nans.data(), numSegments)
            || !make(&t.lamF, numSegments) || !make(&t.scaleF, numSegments) || !make(&t.state, states * total_)
            || !make(&params_, 1) || !make(&lambParams_, 1)) {
            return;
        }
        if (algorithm == LAMB) {
            kernels::LambTables& l = lambTables_;
            l.tile = t.tile;
            l.segOffset = t.segOffset;
            l.segFirstTile = t.segFirstTile;
            l.segTiles = t.segTiles;
            l.partG = t.partG;
            l.partR = t.partU;
            l.partW = t.partW;
            l.normW = t.normW;
            l.normG = t.normG;
            l.trust = t.trust;
            l.negScale = t.scaleF;
            l.m = t.state;
            l.v = t.state + total_;
            if (!upload(&l.adapt, modes, numSegments) || !upload(&l.lamF, lamF.data(), numSegments) || !make(&l.sumG, numSegments)) return;
        }
        if (hostStaging) {
            if (!check(backend_->allocHost(reinterpret_cast<void**>(&hostW_), bytes<float>(total_)))) return;
            if (!check(backend_->allocHost(reinterpret_cast<void**>(&hostG_), bytes<float>(total_)))) return;
            if (!make(&devW_, total_) || !make(&devG_, total_)) return;
        }
        resetState();
    }

    ~NativePlan() {
        if (!backend_) return;
        if (own_) backend_->sync(own_);
        for (void* p : owned_) backend_->release(p);   // cudaFree waits for the device
        if (hostW_) backend_->releaseHost(hostW_);
        if (hostG_) backend_->releaseHost(hostG_);
        if (stepDone_) backend_->eventDestroy(stepDone_);
        if (own_) backend_->streamDestroy(own_);
    }

    NativePlan(const NativePlan&) = delete;
    NativePlan& operator=(const NativePlan&) = delete;

    /** 0 when the plan is usable; otherwise why not (see statusMessage). */
    int status() const { return status_; }
    std::string statusMessage() const { return message_; }
    long long totalElements() const { return total_; }
    int tiles() const { return tiles_; }
    /** The cooperative grid of the grouped step, 0 for three launches. */
    int cooperativeBlocks() const { return algorithm_ == LARS ? consts_.cooperative : 0; }
    /** Groups of the grouped step (1 when it runs the whole model as one group). */
    int groups() const { return walk_.groups; }
    /** Elements per group as planned (0: one group). */
    long long groupElements() const { return groupElements_; }
    /** Work items (blocks of a three-launch pass). */
    int items() const { return walk_.items; }
    /** Why a requested variant is not in use (empty when all are). */
    std::string variantNote() const { return variantNote_; }

    /** Host staging buffers (total elements each), filled by the caller before stepHost. */
    float* hostParams() { return hostW_; }
    float* hostGrads() { return hostG_; }

    /**
     * Upload the staged w, g; the launches; download w and the skip flag; synchronise. On the
     * plan's own stream, after the previous step. 0 on success.
     */
    int stepHost(double lr, double mu, double phi, double bc1, double bc2, int first, int weightsAsLeft) {
        if (status_ != kOk) return status_;
        if (!hostW_) return fail(kOutOfHostMemory, "plan was made without host staging");
        const size_t n = bytes<float>(total_);
        if (!afterLastStep()) return status_;
        if (!check(backend_->copy(devW_, hostW_, n, kHostToDevice, own_))) return status_;
        if (!check(backend_->copy(devG_, hostG_, n, kHostToDevice, own_))) return status_;
        int e = enqueue(devW_, devG_, nullptr, nullptr, own_, lr, mu, phi, bc1, bc2, first, weightsAsLeft);
        if (e != kOk) return e;
        // The skip flag comes back with the weights, under the one synchronisation below.
        int skip = 0;
        if (!check(backend_->copy(&skip, skipFlag(), sizeof skip, kDeviceToHost, own_))) return status_;
        if (!check(backend_->copy(hostW_, devW_, n, kDeviceToHost, own_))) return status_;
        if (!check(backend_->sync(own_))) return status_;
        hostSkip_ = skip;
        skipKnown_ = true;
        return kOk;
    }

    /**
     * One step on device tensors, enqueued on {@code stream} without synchronising. Flat form:
     * wBase/gBase (tables 0); list form: wTable/gTable, device arrays of per-segment pointers.
     */
    int stepDevice(long long wBase, long long gBase, long long wTable, long long gTable, long long stream,
                   double lr, double mu, double phi, double bc1, double bc2, int first, int weightsAsLeft) {
        if (status_ != kOk) return status_;
        return enqueue(reinterpret_cast<float*>(wBase), reinterpret_cast<const float*>(gBase),
                       reinterpret_cast<float* const*>(wTable), reinterpret_cast<const float* const*>(gTable),
                       reinterpret_cast<void*>(stream), lr, mu, phi, bc1, bc2, first, weightsAsLeft);
    }

    /** The most steps one timed sample enqueues behind a held stream (well inside a stream's queue). */
    static constexpr int kMaxBatch = 32;

    /**
     * Benchmark: {@code warmup} untimed steps, then {@code reps} samples of {@code batch}
     * back-to-back steps (flat form) between two events; outMs[s] is sample s's time over
     * {@code batch}. Step i runs on buffers {@code i mod rotations}, so that consecutive steps do
     * not find their inputs in L2. The step's values are written once, as for a graph, and the
     * stream is held while a sample is enqueued: the window holds the device's work, not the
     * host's enqueue of it. With {@code graphs}, each rotation's step is captured once and the
     * samples replay the graphs (what a caller with CUDA graphs runs).
     */
    int timeDeviceSteps(const long long* wBases, const long long* gBases, int rotations, int warmup, int reps, int batch,
                        int graphs, double lr, double mu, double phi, double bc1, double bc2, float* outMs) {
        if (status_ != kOk) return status_;
        if (rotations < 1 || reps < 1 || warmup < 0 || batch < 1 || batch > kMaxBatch) {
            report(1);   // cudaErrorInvalidValue; the plan stays usable (Java validates first)
            return 1;
        }
        int e = writeStepParams(lr, mu, phi, bc1, bc2, 0, 0);
        if (e != kOk) return e;
        std::vector<void*> execs;
        auto stepOn = [&](int i) {
            const int r = i % rotations;
            if (graphs) return backend_->graphLaunch(execs[r], own_);
            return launch(reinterpret_cast<float*>(wBases[r]), reinterpret_cast<const float*>(gBases[r]), nullptr, nullptr, own_);
        };
        for (int r = 0; graphs && e == kOk && r < rotations; r++) {
            void* exec = nullptr;
            e = backend_->beginCapture(own_);
            if (e == kOk) {
                const int le = launch(reinterpret_cast<float*>(wBases[r]), reinterpret_cast<const float*>(gBases[r]), nullptr, nullptr, own_);
                e = backend_->endCapture(own_, &exec);
                if (le != kOk) e = le;
            }
            if (exec) execs.push_back(exec);
        }
        for (int i = 0; e == kOk && i < warmup; i++) e = stepOn(i);
        if (e == kOk) e = backend_->sync(own_);
        for (int s = 0; e == kOk && s < reps; s++) {
            float ms = 0;
            e = backend_->timeMs([&] {
                int le = kOk;
                for (int j = 0; le == kOk && j < batch; j++) le = stepOn(warmup + s * batch + j);
                return le;
            }, own_, &ms, true);
            outMs[s] = ms / static_cast<float>(batch);
        }
        for (void* x : execs) backend_->graphDestroy(x);
        if (e != kOk) return check(e) ? kOk : status_;
        return kOk;
    }

    /**
     * For CUDA graphs: writes the values of the next step into device memory, outside any
     * capture, once the previous step (a replay included) is done with them, and returns when
     * they are there. A captured {@link #launchStep} then reads them at each replay.
     */
    int writeStepParams(double lr, double mu, double phi, double bc1, double bc2, int first, int weightsAsLeft) {
        if (status_ != kOk) return status_;
        skipKnown_ = false;   // the next replay's flag is on the device, not the last host step's
        if (!afterLastStep()) return status_;
        int e = writeParams(lr, mu, phi, bc1, bc2, first, weightsAsLeft, own_);
        if (e != kOk) return e;
        return check(backend_->sync(own_)) ? kOk : status_;
    }

    /**
     * For CUDA graphs: only the launches of a step (no copy, no sync), so that the call can be
     * captured into a graph; the step's values come from the last {@link #writeStepParams}.
     */
    int launchStep(long long wBase, long long gBase, long long wTable, long long gTable, long long stream) {
        if (status_ != kOk) return status_;
        return launch(reinterpret_cast<float*>(wBase), reinterpret_cast<const float*>(gBase),
                      reinterpret_cast<float* const*>(wTable), reinterpret_cast<const float* const*>(gTable),
                      reinterpret_cast<void*>(stream));
    }

    /** Whether the last step was skipped (non-finite gradient). Waits for that step. -1 on error. */
    int lastSkipped() {
        if (status_ != kOk) return -1;
        if (skipKnown_) return hostSkip_;
        int skip = 0;
        if (!afterLastStep()) return -1;
        if (!check(backend_->copy(&skip, skipFlag(), sizeof skip, kDeviceToHost, own_))) return -1;
        if (!check(backend_->sync(own_))) return -1;
        return skip;
    }

    /**
     * Device address of the step's parameter block (LARS: StepParams, LAMB: LambStepParams), for
     * callers that capture steps in a CUDA graph.
     */
    long long stepParamsAddress() const {
        return algorithm_ == LARS ? reinterpret_cast<long long>(params_) : reinterpret_cast<long long>(lambParams_);
    }

    /** Copies state buffer {@code buffer} (LARS: 0 momentum; LAMB: 0 exp_avg, 1 exp_avg_sq) of a segment, after the last step. */
    int readState(int buffer, int seg, float* dst) {
        if (status_ != kOk) return status_;
        float* src = tables_.state + buffer * total_ + offsets_[seg];
        if (!afterLastStep()) return status_;
        if (!check(backend_->copy(dst, src, bytes<float>(lengths_[seg]), kDeviceToHost, own_))) return status_;
        return check(backend_->sync(own_)) ? kOk : status_;
    }

    /** Overwrites a state buffer of a segment, after the last step and before the next. */
    int writeState(int buffer, int seg, const float* src) {
        if (status_ != kOk) return status_;
        float* dst = tables_.state + buffer * total_ + offsets_[seg];
        if (!afterLastStep()) return status_;
        if (!check(backend_->copy(dst, src, bytes<float>(lengths_[seg]), kHostToDevice, own_))) return status_;
        return check(backend_->sync(own_)) ? kOk : status_;
    }

    /** Zeroes every state buffer (one memset), after the last step and before the next. */
    int resetState() {
        if (status_ != kOk) return status_;
        const long long all = (algorithm_ == LARS ? 1 : 2) * total_;
        if (!afterLastStep()) return status_;
        if (!check(backend_->zero(tables_.state, bytes<float>(all), own_))) return status_;
        return check(backend_->sync(own_)) ? kOk : status_;
    }

    /** Copies the last step's ||w||, ||g|| and trust ratio per segment (NaN where not computed). */
    int readDiagnostics(double* normW, double* normG, double* trust) {
        if (status_ != kOk) return status_;
        const size_t n = bytes<double>(segments_);
        if (!afterLastStep()) return status_;
        if (!check(backend_->copy(normW, tables_.normW, n, kDeviceToHost, own_))
            || !check(backend_->copy(normG, tables_.normG, n, kDeviceToHost, own_))
            || !check(backend_->copy(trust, tables_.trust, n, kDeviceToHost, own_))
            || !check(backend_->sync(own_))) {
            return status_;
        }
        return kOk;
    }

    /** What the last failure was: the error's name and, on the emulator, its detail. */
    std::string lastError() const { return message_; }

private:
    template <typename T> static size_t bytes(long long n) { return static_cast<size_t>(n) * sizeof(T); }

    /** Orders later work on the plan's own stream after the last step, wherever it ran. */
    bool afterLastStep() { return check(backend_->streamWaitEvent(own_, stepDone_)); }

    const void* skipFlag() const {
        return algorithm_ == LARS ? reinterpret_cast<const char*>(params_) + offsetof(kernels::StepParams, skip)
                                  : reinterpret_cast<const char*>(lambParams_) + offsetof(kernels::LambStepParams, skip);
    }

    int enqueue(float* w, const float* g, float* const* wTable, const float* const* gTable, void* stream,
                double lr, double mu, double phi, double bc1, double bc2, int first, int weightsAsLeft) {
        // A step on another stream than the last one waits for it: both use the plan's step
        // values and state. On the same stream (or the plan's own, already ordered) it is free.
        if (stream != own_ && !check(backend_->streamWaitEvent(stream, stepDone_))) return status_;
        int e = writeParams(lr, mu, phi, bc1, bc2, first, weightsAsLeft, stream);
        return e != kOk ? e : launch(w, g, wTable, gTable, stream);
    }

    /**
     * The step's values into device memory, on {@code stream}. Pageable source: the runtime
     * stages it before returning, so the local may go out of scope and no sync is needed.
     */
    int writeParams(double lr, double mu, double phi, double bc1, double bc2, int first, int weightsAsLeft, void* stream) {
        if (algorithm_ == LARS) {
            // partW holds the weights' partials after any step (computed by the norm pass or
            // carried by the update), valid while the caller says the weights are as left.
            const int useCarried = consts_.carryW && carryReady_ && weightsAsLeft;
            kernels::StepParams p{lr, mu, phi, first, 0, useCarried};
            if (!report(backend_->copy(params_, &p, sizeof p, kHostToDevice, stream))) return lastCode_;
            carryReady_ = consts_.carryW != 0;
        } else {
            kernels::LambStepParams p{lr, bc1, bc2, 1.0f, 0};
            if (!report(backend_->copy(lambParams_, &p, sizeof p, kHostToDevice, stream))) return lastCode_;
        }
        return kOk;
    }

    /**
     * The rule's fixed launch sequence on {@code stream}, reading the step's values from device
     * memory, then the record of stepDone_. A cooperative grid the device refuses now (MPS, or a
     * device smaller than the one planned for) falls back to three launches for good, noted once.
     */
    int launch(float* w, const float* g, float* const* wTable, const float* const* gTable, void* stream) {
        kernels::TensorRefs<float, float> refs{wTable, gTable, w, g};
        skipKnown_ = false;
        int e;
        if (algorithm_ == LARS) {
            e = backend_->launchLarsF32(tables_, walk_, consts_, refs, params_, stream);
            if (e == kCooperativeLaunchTooLarge && consts_.cooperative > 0) {
                variantNote_ = "the device refused a cooperative launch of " + std::to_string(consts_.cooperative)
                               + " blocks (cudaErrorCooperativeLaunchTooLarge: MPS, or another device); using three launches"
                                 " over the whole model from now on";
                consts_.cooperative = 0;
                e = backend_->launchLarsF32(tables_, walk_, consts_, refs, params_, stream);
            }
        } else {
            e = backend_->launchLambF32(tables_, lambTables_, walk_, lamb_, refs, lambParams_, gradNormPass_, segments_, stream);
        }
        if (e == kOk) e = backend_->eventRecord(stepDone_, stream);
        if (!report(e)) {
            carryReady_ = false;
            return e;
        }
        return kOk;
    }

    template <typename T> bool make(T** p, long long n) {
        void* raw = nullptr;
        if (!check(backend_->alloc(&raw, bytes<T>(n > 0 ? n : 1)))) return false;
        owned_.push_back(raw);
        *p = static_cast<T*>(raw);
        return true;
    }

    template <typename T> bool uploadMutable(T** p, const T* src, long long n) {
        const T* c = nullptr;
        if (!upload(&c, src, n)) return false;
        *p = const_cast<T*>(c);
        return true;
    }

    template <typename T> bool upload(const T** p, const T* src, long long n) {
        T* d = nullptr;
        if (!make(&d, n)) return false;
        if (!check(backend_->copy(d, src, bytes<T>(n), kHostToDevice, own_))) return false;
        if (!check(backend_->sync(own_))) return false;
        *p = d;
        return true;
    }

    /** The error's name and the emulator's detail. */
    std::string describe(int e) const {
        const std::string d = backend_ ? backend_->faultDetail(e) : std::string();
        return (backend_ ? backend_->errorName(e) : cudaErrorName(e)) + (d.empty() ? "" : ": " + d);
    }

    /** A failure that leaves the plan usable (a refused step): remembered for lastError(). */
    bool report(int e) {
        if (e == kOk) return true;
        lastCode_ = e;
        message_ = describe(e);
        return false;
    }

    /** A failure of the plan's own memory or stream: the plan is unusable from now on. */
    bool check(int e) {
        if (e == kOk) return true;
        fail(e, describe(e));
        return false;
    }

    int fail(int e, const std::string& m) {
        status_ = e;
        message_ = m;
        return e;
    }

    /** How blocks walk the model (kernels::WalkTables), on the host. */
    struct Walk {
        std::vector<int> itemFirstTile, segItemFirstSeg, groupFirstItem, groupFirstSegItem;
    };

    /**
     * Groups: greedy runs of whole segments of at most {@code groupElements} elements (0: one
     * group; a longer segment is a group by itself), as the Java engine cuts its cache blocks.
     * Work items: runs of consecutive tiles of a group, a full tile alone, small tiles together up
     * to TILE elements. Segment items: runs of consecutive segments of a group, up to THREADS
     * tiles and SEG_ITEM_MAX segments together. Every list ends with its total.
     */
    static Walk planWalk(const int* segLen, const std::vector<int>& tilesOf, const std::vector<kernels::TileDesc>& tile,
                         long long groupElements) {
        Walk w;
        const int nSeg = static_cast<int>(tilesOf.size());
        long long inGroup = 0;
        int itemLen = 0, segItemTiles = 0, segItemSegs = 0;
        bool openItem = false, openSegItem = false;   // false: the next tile (segment) starts an item
        int k = 0;
        for (int s = 0; s < nSeg; s++) {
            if (s == 0 || (groupElements > 0 && inGroup + segLen[s] > groupElements)) {
                w.groupFirstItem.push_back(static_cast<int>(w.itemFirstTile.size()));
                w.groupFirstSegItem.push_back(static_cast<int>(w.segItemFirstSeg.size()));
                inGroup = 0;
                openItem = openSegItem = false;   // items never straddle a group
            }
            inGroup += segLen[s];
            if (!openSegItem || segItemSegs == kernels::SEG_ITEM_MAX || segItemTiles + tilesOf[s] > kernels::THREADS) {
                w.segItemFirstSeg.push_back(s);
                segItemTiles = 0;
                segItemSegs = 0;
                openSegItem = true;
            }
            segItemTiles += tilesOf[s];
            segItemSegs++;
            for (int j = 0; j < tilesOf[s]; j++, k++) {
                const int len = tile[k].info & kernels::TILE_LEN_MASK;
                if (!openItem || itemLen + len > kernels::TILE) {
                    w.itemFirstTile.push_back(k);
                    itemLen = 0;
                    openItem = true;
                }
                itemLen += len;
            }
        }
        w.itemFirstTile.push_back(k);
        w.segItemFirstSeg.push_back(nSeg);
        w.groupFirstItem.push_back(static_cast<int>(w.itemFirstTile.size()) - 1);
        w.groupFirstSegItem.push_back(static_cast<int>(w.segItemFirstSeg.size()) - 1);
        return w;
    }

    static long long numTiles(const int* segLen, int n) {
        long long tiles = 0;
        for (int s = 0; s < n; s++) tiles += tilesOfSegment(segLen[s]);
        return tiles;
    }

    std::unique_ptr<Backend> backend_;
    int status_ = kOk;
    int lastCode_ = kOk;
    std::string message_;
    std::string variantNote_;
    int segments_ = 0;
    int tiles_ = 0;
    long long total_ = 0;
    std::vector<long long> offsets_;
    std::vector<int> lengths_;
    kernels::LarsTables tables_{};
    kernels::WalkTables walk_{};
    long long groupElements_ = 0;
    kernels::LarsConsts consts_{};
    kernels::StepParams* params_ = nullptr;
    int algorithm_ = LARS;
    bool gradNormPass_ = false;
    bool carryReady_ = false;
    int hostSkip_ = 0;          // the skip flag of the last host step, read under its sync
    bool skipKnown_ = false;    // hostSkip_ answers lastSkipped(): true only until the next step starts
    kernels::LambTables lambTables_{};
    kernels::LambConsts lamb_{};
    kernels::LambStepParams* lambParams_ = nullptr;
    float* hostW_ = nullptr;
    float* hostG_ = nullptr;
    float* devW_ = nullptr;
    float* devG_ = nullptr;
    void* own_ = nullptr;        // the plan's non-blocking stream
    void* stepDone_ = nullptr;   // recorded after every step's launches, on the step's stream
    std::vector<void*> owned_;
};

/** 0 if a CUDA device is usable here, else the error code (see cudaErrorNameOf). */
inline int cudaAvailability() { return cudaProbe(); }

/** e.g. "cudaErrorInsufficientDriver". */
inline std::string cudaErrorNameOf(int code) { return cudaErrorName(code); }

/** The emulator backend, or the CUDA one (null with {@code *status} set when CUDA cannot run). */
inline Backend* makeBackend(int kind, int* status) {
    if (kind == NativePlan::KIND_EMULATOR) return new EmulatorBackend();
    return createCudaBackend(status);
}

/**
 * Device memory for benchmarks and tests (kind 0 CUDA, 1 emulator = host memory). Returns the
 * address, or 0 on failure.
 */
inline long long deviceAlloc(int kind, long long bytes) {
    int st = 0;
    std::unique_ptr<Backend> b(makeBackend(kind, &st));
    void* p = nullptr;
    if (!b || b->alloc(&p, static_cast<size_t>(bytes)) != kOk) return 0;
    return reinterpret_cast<long long>(p);
}

/**
 * The device utilities below: {@code op(backend)} on a backend of {@code kind}, or the reason no
 * backend could be made (e.g. no CUDA driver).
 */
template <typename Op> int withBackend(int kind, Op op) {
    int st = 0;
    std::unique_ptr<Backend> b(makeBackend(kind, &st));
    return b ? op(*b) : st;
}

inline int deviceFree(int kind, long long address) {
    return withBackend(kind, [&](Backend& b) { return b.release(reinterpret_cast<void*>(address)); });
}

/** Copies {@code n} floats from the host to device address {@code dst}; synchronous. */
inline int deviceUpload(int kind, long long dst, const float* src, long long n) {
    return withBackend(kind, [&](Backend& b) {
        int e = b.copy(reinterpret_cast<void*>(dst), src, static_cast<size_t>(n) * sizeof(float), kHostToDevice, nullptr);
        return e != kOk ? e : b.sync(nullptr);
    });
}

/** Copies {@code n} floats from device address {@code src} to the host; synchronous. */
inline int deviceDownload(int kind, float* dst, long long src, long long n) {
    return withBackend(kind, [&](Backend& b) {
        int e = b.copy(dst, reinterpret_cast<const void*>(src), static_cast<size_t>(n) * sizeof(float), kDeviceToHost, nullptr);
        return e != kOk ? e : b.sync(nullptr);
    });
}

/** Synchronises the device (the default stream). */
inline int deviceSynchronize(int kind) {
    return withBackend(kind, [](Backend& b) { return b.sync(nullptr); });
}

/**
 * Device-to-device copy bandwidth in GB/s (bytes read + bytes written), the median of {@code reps}
 * copies of {@code bytes} after one warm-up copy, each timed with CUDA events (host clock on the
 * emulator). Negative on failure (the CUDA error code, negated).
 */
inline double deviceCopyGBps(int kind, long long bytes, int reps) {
    int st = 0;
    std::unique_ptr<Backend> b(makeBackend(kind, &st));
    if (!b) return -st;
    void* src = nullptr;
    void* dst = nullptr;
    int e = b->alloc(&src, static_cast<size_t>(bytes));
    if (e == kOk) e = b->alloc(&dst, static_cast<size_t>(bytes));
    std::vector<double> times;
    for (int r = 0; e == kOk && r <= reps; r++) {
        float ms = 0;
        e = b->timeMs([&] { return b->copy(dst, src, static_cast<size_t>(bytes), kDeviceToDevice, nullptr); }, nullptr, &ms);
        if (r > 0) times.push_back(ms / 1e3);
    }
    if (src) b->release(src);
    if (dst) b->release(dst);
    if (e != kOk) return -e;
    std::sort(times.begin(), times.end());
    return 2.0 * static_cast<double>(bytes) / times[times.size() / 2] / 1e9;
}

/**
 * Streams and CUDA graphs for tests and benchmarks (kind 0 CUDA, 1 emulator): what a caller that
 * captures lars4j's steps into a graph does. Each returns 0 or an error code; handles come back
 * through {@code out[0]}.
 */
inline int streamCreate(int kind, long long* out) {
    return withBackend(kind, [&](Backend& b) {
        void* s = nullptr;
        int e = b.streamCreate(&s, false);
        out[0] = reinterpret_cast<long long>(s);
        return e;
    });
}

inline int streamDestroy(int kind, long long stream) {
    return withBackend(kind, [&](Backend& b) { return b.streamDestroy(reinterpret_cast<void*>(stream)); });
}

inline int streamSynchronize(int kind, long long stream) {
    return withBackend(kind, [&](Backend& b) { return b.sync(reinterpret_cast<void*>(stream)); });
}

inline int streamBeginCapture(int kind, long long stream) {
    return withBackend(kind, [&](Backend& b) { return b.beginCapture(reinterpret_cast<void*>(stream)); });
}

/** Ends the capture and instantiates the graph; its executable handle in {@code out[0]}. */
inline int streamEndCapture(int kind, long long stream, long long* out) {
    return withBackend(kind, [&](Backend& b) {
        void* exec = nullptr;
        int e = b.endCapture(reinterpret_cast<void*>(stream), &exec);
        out[0] = reinterpret_cast<long long>(exec);
        return e;
    });
}

inline int graphLaunch(int kind, long long graphExec, long long stream) {
    return withBackend(kind, [&](Backend& b) {
        return b.graphLaunch(reinterpret_cast<void*>(graphExec), reinterpret_cast<void*>(stream));
    });
}

inline int graphDestroy(int kind, long long graphExec) {
    return withBackend(kind, [&](Backend& b) { return b.graphDestroy(reinterpret_cast<void*>(graphExec)); });
}

/**
 * For tests: holds {@code stream} until streamRelease (what a long kernel does, made
 * deterministic); the gate's handle in {@code out[0]}.
 */
inline int streamHold(int kind, long long stream, long long* out) {
    return withBackend(kind, [&](Backend& b) {
        void* gate = nullptr;
        int e = b.holdStream(reinterpret_cast<void*>(stream), &gate);
        out[0] = reinterpret_cast<long long>(gate);
        return e;
    });
}

inline int streamRelease(int kind, long long gate) {
    return withBackend(kind, [&](Backend& b) {
        b.releaseHold(reinterpret_cast<void*>(gate));
        return kOk;
    });
}

/** Tiles of a segment of {@code length} elements, as plans count them (64-bit). */
inline long long segmentTiles(long long length) { return tilesOfSegment(length); }

/**
 * The emulator's stand-in for the largest cooperative grid, from now on (0: back to the
 * default), as MPS or a smaller device would lower it under a running plan.
 */
inline void setEmulatorCooperativeLimit(int blocks) { emu_cuda::emuSetCooperativeLimit(blocks); }

/** Emulator fiber schedule for later launches: 0 forward, 1 reverse, 2 shuffled(seed). */
inline void setEmulatorSchedule(int schedule, int seed) {
    simt::set_schedule(static_cast<simt::Schedule>(schedule), static_cast<unsigned>(seed));
}

}  // namespace lars4j
