// The host side of the native engines: a plan owning the device tables every rule shares (tiles,
// walk), the optimizer state, the diagnostics and the host staging, and stepping one rule (a
// NativeRule from rules/registry.cuh: its constants, tables, step values and launch sequence) on
// the CUDA runtime or on the SIMT emulator. This is the only header the JavaCPP binding
// (org.lars4j.engine.cuda.NativeLars) sees; the binding stays mechanical and every decision is
// made here, in the rule, or in Java. Nothing here depends on which rule runs.
//
// Plan once, step many: every allocation and table upload happens in the constructor. A device
// step (stepDevice) enqueues one small parameter copy and the rule's fixed launch sequence on the
// caller's stream and returns without synchronising. The host step (stepHost) stages host
// tensors through buffers made at plan time and synchronises, for callers whose tensors live on
// the host.
//
// Stream ordering. A step runs on the caller's stream, which is typically non-blocking (lars4j's
// own streams, PyTorch's side streams) and therefore not ordered with the legacy default stream.
// So no copy of the plan goes on the legacy stream: every step, device or host, ends by recording
// the plan's event stepDone_ on its stream (under capture as a graph node, so each replay
// records it too), and every host-side operation on the plan's memory (step values for a graph,
// the skip flag, state, diagnostics) runs on the plan's own non-blocking stream after waiting for
// that event. A step's values cannot be overwritten while a replay still reads them, and
// optimizer state is never read or written mid-update. The event stays valid when the caller
// destroys its stream, where a remembered stream handle would not.
#pragma once

#include <algorithm>
#include <chrono>
#include <climits>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "lars4j_backend.h"
#include "lars_emulator_backend.h"
#include "native_rule.h"

namespace lars4j {

constexpr int KIND_CUDA = 0;
constexpr int KIND_EMULATOR = 1;

/** The emulator backend, or the CUDA one (null with {@code *status} set when CUDA cannot run). */
inline Backend* makeBackend(int kind, int* status) {
    if (kind == KIND_EMULATOR) return new EmulatorBackend();
    return createCudaBackend(status);
}

/** The rule registry: rule {@code rule} (kernels::RULE_*) built for engine {@code kind}; null if unknown. */
inline NativeRule* makeRule(int kind, int rule) {
    return kind == KIND_EMULATOR ? createEmulatorRule(rule) : createCudaRule(rule);
}

class NativePlan : private PlanContext {
public:
    /**
     * @param rule      kernels::RULE_LARS or RULE_LAMB (rules/registry.cuh)
     * @param modes     the rule's mode of each segment (LARS: NORM_*; LAMB: 1 where adapted)
     * @param segLam    weight decay per segment, 0 where it does not apply
     * @param constants the rule's constants struct (LarsConsts, LambConsts), copied
     * @param hostStaging allocate device copies of w and g for stepHost
     * @param gcRows    gradient centralization: rows of each segment along its output axis, 0 where
     *                  it is not centred (null: no centralization)
     * @param gcInner   elements per index of each centred segment's output axis
     */
    NativePlan(int kind, int rule, int numSegments, const int* segLen, const int* modes, const double* segLam,
               const void* constants, bool hostStaging, const int* gcRows, const int* gcInner) {
        init(kind, rule, numSegments, segLen, modes, segLam, constants, hostStaging, gcRows, gcInner);
    }

    ~NativePlan() {
        rule_.reset();
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
    long long totalElements() const { return total; }
    int tiles() const { return PlanContext::tiles; }
    /** The cooperative grid of a one-launch step, 0 for plain launches. */
    int cooperativeBlocks() const { return rule_ ? rule_->cooperativeBlocks() : 0; }
    /** Groups of the walk (1 when it runs the whole model as one group). */
    int groups() const { return walk.groups; }
    /** Elements per group as planned (0: one group). */
    long long groupElements() const { return groupElements_; }
    /** Work items (blocks of a plain pass). */
    int items() const { return walk.items; }
    /** Why a requested variant is not in use (empty when all are). */
    std::string variantNote() const { return note; }
    /** Optimizer state buffers of the rule. */
    int stateBuffers() const { return rule_ ? rule_->stateBuffers() : 0; }

    /** Host staging buffers (total elements each), filled by the caller before stepHost. */
    float* hostParams() { return hostW_; }
    float* hostGrads() { return hostG_; }

    /**
     * Upload the staged w, g; the launches; download w and the skip flag; synchronise. On the
     * plan's own stream, after the previous step. {@code values}: the rule's step-values struct.
     * 0 on success.
     */
    int stepHost(const void* values) {
        if (status_ != kOk) return status_;
        if (!hostW_) return fail(kOutOfHostMemory, "plan was made without host staging");
        const size_t n = bytes<float>(total);
        if (!afterLastStep()) return status_;
        if (!check(backend_->copy(devW_, hostW_, n, kHostToDevice, own_))) return status_;
        if (!check(backend_->copy(devG_, hostG_, n, kHostToDevice, own_))) return status_;
        int e = enqueue(devW_, devG_, nullptr, nullptr, own_, values);
        if (e != kOk) return e;
        // The skip flag comes back with the weights, under the one synchronisation below.
        int skip = 0;
        if (!check(backend_->copy(&skip, rule_->skipFlag(), sizeof skip, kDeviceToHost, own_))) return status_;
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
    int stepDevice(long long wBase, long long gBase, long long wTable, long long gTable, long long stream, const void* values) {
        if (status_ != kOk) return status_;
        return enqueue(reinterpret_cast<float*>(wBase), reinterpret_cast<const float*>(gBase),
                       reinterpret_cast<float* const*>(wTable), reinterpret_cast<const float* const*>(gTable),
                       reinterpret_cast<void*>(stream), values);
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
                        int graphs, const void* values, float* outMs) {
        if (status_ != kOk) return status_;
        if (rotations < 1 || reps < 1 || warmup < 0 || batch < 1 || batch > kMaxBatch) {
            report(emu_cuda::cudaErrorInvalidValue);   // the plan stays usable (Java validates first)
            return lastCode_;
        }
        int e = writeStepParams(values);
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
    int writeStepParams(const void* values) {
        if (status_ != kOk) return status_;
        skipKnown_ = false;   // the next replay's flag is on the device, not the last host step's
        if (!afterLastStep()) return status_;
        int e = writeParams(values, own_);
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
        if (!check(backend_->copy(&skip, rule_->skipFlag(), sizeof skip, kDeviceToHost, own_))) return -1;
        if (!check(backend_->sync(own_))) return -1;
        return skip;
    }

    /** Copies state buffer {@code buffer} (e.g. LARS: 0 momentum; LAMB: 0 exp_avg, 1 exp_avg_sq) of a segment, after the last step. */
    int readState(int buffer, int seg, float* dst) {
        if (status_ != kOk) return status_;
        float* src = state + buffer * total + offsets_[seg];
        if (!afterLastStep()) return status_;
        if (!check(backend_->copy(dst, src, bytes<float>(lengths_[seg]), kDeviceToHost, own_))) return status_;
        return check(backend_->sync(own_)) ? kOk : status_;
    }

    /** Overwrites a state buffer of a segment, after the last step and before the next. */
    int writeState(int buffer, int seg, const float* src) {
        if (status_ != kOk) return status_;
        float* dst = state + buffer * total + offsets_[seg];
        if (!afterLastStep()) return status_;
        if (!check(backend_->copy(dst, src, bytes<float>(lengths_[seg]), kHostToDevice, own_))) return status_;
        return check(backend_->sync(own_)) ? kOk : status_;
    }

    /** Zeroes every state buffer (one memset), after the last step and before the next. */
    int resetState() {
        if (status_ != kOk) return status_;
        if (!afterLastStep()) return status_;
        if (!check(backend_->zero(state, bytes<float>(rule_->stateBuffers() * total), own_))) return status_;
        return check(backend_->sync(own_)) ? kOk : status_;
    }

    /** Copies the last step's ||w||, ||g|| and trust ratio per segment (NaN where not computed). */
    int readDiagnostics(double* normWOut, double* normGOut, double* trustOut) {
        if (status_ != kOk) return status_;
        const size_t n = bytes<double>(segments);
        if (!afterLastStep()) return status_;
        if (!check(backend_->copy(normWOut, normW, n, kDeviceToHost, own_))
            || !check(backend_->copy(normGOut, normG, n, kDeviceToHost, own_))
            || !check(backend_->copy(trustOut, trust, n, kDeviceToHost, own_))
            || !check(backend_->sync(own_))) {
            return status_;
        }
        return kOk;
    }

    /**
     * The tile table the kernels read, copied back from the device: tile k starts at element
     * {@code at[k]} of the flat form, belongs to segment {@code seg[k]} and holds {@code len[k]}
     * elements. The Java engine's TileTable is its mirror; a test compares the two.
     */
    int readTileTable(long long* at, int* seg, int* len) {
        if (status_ != kOk) return status_;
        std::vector<kernels::TileDesc> tile(static_cast<size_t>(PlanContext::tiles));
        if (!check(backend_->copy(tile.data(), tileTable.desc, bytes<kernels::TileDesc>(PlanContext::tiles), kDeviceToHost, own_))
            || !check(backend_->sync(own_))) {
            return status_;
        }
        for (size_t k = 0; k < tile.size(); k++) {
            at[k] = tile[k].at;
            seg[k] = tile[k].seg;
            len[k] = tile[k].info & kernels::TILE_LEN_MASK;
        }
        return kOk;
    }

    /** What the last failure was: the error's name and, on the emulator, its detail. */
    std::string lastError() const { return message_; }

private:
    template <typename T> static size_t bytes(long long n) { return static_cast<size_t>(n) * sizeof(T); }

    void init(int kind, int rule, int numSegments, const int* segLen, const int* modes, const double* segLam,
              const void* constants, bool hostStaging, const int* gcRows, const int* gcInner) {
        int st = 0;
        backend_.reset(makeBackend(kind, &st));
        if (!backend_) { status_ = st; message_ = cudaErrorName(st); return; }
        backend = backend_.get();
        rule_.reset(makeRule(kind, rule));
        if (!rule_) { fail(kOutOfHostMemory, "no native rule of id " + std::to_string(rule)); return; }
        rule_->setConstants(constants);
        if (!check(backend_->streamCreate(&own_, false)) || !check(backend_->eventCreate(&stepDone_))) return;
        own = own_;
        segments = numSegments;
        const long long allTiles = numTiles(segLen, numSegments);
        if (allTiles > INT_MAX) {
            fail(kOutOfHostMemory, "layout of " + std::to_string(allTiles) + " tiles: more than a grid can launch");
            return;
        }
        const long long groupElems = rule_->groupElements(*backend_);

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
                tile.push_back(kernels::TileDesc{at + start, s, len | modes[s] << kernels::TILE_MODE_SHIFT});
            }
            at += segLen[s];
        }
        total = at;
        PlanContext::tiles = static_cast<int>(tile.size());
        offsets_ = offset;
        lengths_.assign(segLen, segLen + numSegments);
        Walk wk = planWalk(segLen, tilesOf, tile, groupElems);
        walk.items = static_cast<int>(wk.itemFirstTile.size()) - 1;
        walk.segItems = static_cast<int>(wk.segItemFirstSeg.size()) - 1;
        walk.groups = static_cast<int>(wk.groupFirstItem.size()) - 1;
        groupElements_ = groupElems;
        const std::vector<double> nans(numSegments, std::numeric_limits<double>::quiet_NaN());
        if (!upload(&tileTable.desc, tile.data(), PlanContext::tiles) || !upload(&tileTable.segOffset, offset.data(), numSegments)
            || !upload(&tileTable.segFirstTile, firstTile.data(), numSegments) || !upload(&tileTable.segTiles, tilesOf.data(), numSegments)
            || !upload(&walk.itemFirstTile, wk.itemFirstTile.data(), walk.items + 1)
            || !upload(&walk.segItemFirstSeg, wk.segItemFirstSeg.data(), walk.segItems + 1)
            || !upload(&walk.groupFirstItem, wk.groupFirstItem.data(), walk.groups + 1)
            || !upload(&walk.groupFirstSegItem, wk.groupFirstSegItem.data(), walk.groups + 1)
            || !upload(&normW, nans.data(), numSegments) || !upload(&normG, nans.data(), numSegments)
            || !upload(&trust, nans.data(), numSegments) || !make(&state, rule_->stateBuffers() * total)) {
            return;
        }
        if (!planCentring(numSegments, segLen, gcRows, gcInner)) return;
        this->segLen = lengths_.data();
        this->modes = modes;
        this->segLam = segLam;
        const bool planned = rule_->plan(*this);
        this->modes = nullptr;      // the caller's arrays: only for the rule's plan
        this->segLam = nullptr;
        if (!planned) return;
        if (hostStaging) {
            if (!check(backend_->allocHost(reinterpret_cast<void**>(&hostW_), bytes<float>(total)))) return;
            if (!check(backend_->allocHost(reinterpret_cast<void**>(&hostG_), bytes<float>(total)))) return;
            if (!make(&devW_, total) || !make(&devG_, total)) return;
        }
        resetState();
    }

    /** Gradient centralization's device tables (none when no segment is centred). */
    bool planCentring(int numSegments, const int* segLen, const int* gcRows, const int* gcInner) {
        std::vector<int> rows(numSegments, 0), inner(numSegments, 1), count(numSegments, 0), base(numSegments, 0), rowSeg, prePass;
        long long all = 0;
        for (int s = 0; s < numSegments; s++) {
            base[s] = static_cast<int>(all);
            const int r = gcRows ? gcRows[s] : 0;
            if (r <= 0) continue;
            rows[s] = r;
            inner[s] = gcInner[s];
            count[s] = segLen[s] / r;
            for (int k = 0; k < r; k++) {
                // The rule's first pass over a tile sums the rows inside it; gc_row_means the rest
                // (rows over a tile boundary, interleaved rows): primitives/gradient_centralization.cuh.
                const long long first = static_cast<long long>(k) * inner[s];
                const bool inOneTile = count[s] == inner[s] && first / kernels::TILE == (first + inner[s] - 1) / kernels::TILE;
                if (!inOneTile) prePass.push_back(static_cast<int>(all) + k);
                rowSeg.push_back(s);
            }
            all += r;
        }
        if (all == 0) return true;
        if (all > INT_MAX) {
            fail(kOutOfHostMemory, "gradient centralization: more than 2^31 rows");
            return false;
        }
        centring.rows = static_cast<int>(all);
        centring.prePassRows = static_cast<int>(prePass.size());
        return upload(&centring.segRows, rows.data(), numSegments) && upload(&centring.segInner, inner.data(), numSegments)
               && upload(&centring.segCount, count.data(), numSegments) && upload(&centring.segRowBase, base.data(), numSegments)
               && upload(&centring.rowSeg, rowSeg.data(), centring.rows) && make(&centring.rowMean, centring.rows)
               && (prePass.empty() || upload(&centring.prePassRow, prePass.data(), centring.prePassRows));
    }

    bool allocBytes(void** p, size_t n) override {
        void* raw = nullptr;
        if (!check(backend_->alloc(&raw, n > 0 ? n : 1))) return false;
        owned_.push_back(raw);
        *p = raw;
        return true;
    }

    bool uploadBytes(void** p, const void* src, size_t n) override {
        void* d = nullptr;
        if (!allocBytes(&d, n)) return false;
        if (!check(backend_->copy(d, src, n, kHostToDevice, own_))) return false;
        if (!check(backend_->sync(own_))) return false;
        *p = d;
        return true;
    }

    /** Orders later work on the plan's own stream after the last step, wherever it ran. */
    bool afterLastStep() { return check(backend_->streamWaitEvent(own_, stepDone_)); }

    int enqueue(float* w, const float* g, float* const* wTable, const float* const* gTable, void* stream, const void* values) {
        // A step on another stream than the last one waits for it: both use the plan's step
        // values and state. On the same stream (or the plan's own, already ordered) it is free.
        if (stream != own_ && !check(backend_->streamWaitEvent(stream, stepDone_))) return status_;
        int e = writeParams(values, stream);
        return e != kOk ? e : launch(w, g, wTable, gTable, stream);
    }

    /**
     * The step's values into device memory, on {@code stream}. Pageable source: the runtime
     * stages it before returning, so the rule's local may go out of scope and no sync is needed.
     */
    int writeParams(const void* values, void* stream) {
        return report(rule_->writeParams(*this, values, stream)) ? kOk : lastCode_;
    }

    /** The rule's launch sequence on {@code stream}, reading the step's values from device memory, then the record of stepDone_. */
    int launch(float* w, const float* g, float* const* wTable, const float* const* gTable, void* stream) {
        const kernels::TensorRefs<float, float> refs{wTable, gTable, w, g};
        skipKnown_ = false;
        int e = rule_->launch(*this, refs, stream);
        if (e == kOk) e = backend_->eventRecord(stepDone_, stream);
        if (!report(e)) {
            rule_->stepFailed();
            return e;
        }
        return kOk;
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
    std::unique_ptr<NativeRule> rule_;
    int status_ = kOk;
    int lastCode_ = kOk;
    std::string message_;
    std::vector<long long> offsets_;
    std::vector<int> lengths_;
    long long groupElements_ = 0;
    int hostSkip_ = 0;          // the skip flag of the last host step, read under its sync
    bool skipKnown_ = false;    // hostSkip_ answers lastSkipped(): true only until the next step starts
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
