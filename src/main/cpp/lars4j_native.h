// The host side of the native engines: a LARS plan owning its device tables, partial buffers and
// optimizer state, stepping on the CUDA runtime or on the SIMT emulator. This is the only header
// the JavaCPP binding (org.lars4j.engine.cuda.NativeLars) sees; the binding stays mechanical and
// every decision is made here or in Java.
//
// Plan once, step many: every allocation and table upload happens in the constructor. A device
// step (stepDevice) enqueues one small parameter copy and three launches on the caller's stream
// and returns without synchronising. The host step (stepHost) stages host tensors through
// buffers made at plan time and synchronises, for callers whose tensors live on the host.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "lars4j_backend.h"
#include "lars_emulator_backend.h"

namespace lars4j {

class NativeLarsPlan {
public:
    static constexpr int KIND_CUDA = 0;
    static constexpr int KIND_EMULATOR = 1;

    /**
     * @param dconsts {eta, eps, normClamp, dampening}
     * @param iconsts {sumOfNorms, lrInside, clip, zeroNormSkipsDecay, nesterov, skipNonFinite}
     * @param hostStaging allocate device copies of w and g for stepHost
     */
    NativeLarsPlan(int kind, int numSegments, const int* segLen, const int* normMode, const double* segLam,
                   const double* dconsts, const int* iconsts, bool hostStaging) {
        if (kind == KIND_EMULATOR) {
            backend_.reset(new EmulatorBackend());
        } else {
            int st = 0;
            backend_.reset(createCudaBackend(&st));
            if (!backend_) { status_ = st; message_ = cudaErrorName(st); return; }
        }
        segments_ = numSegments;
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

        // Host-side tables, then one upload each.
        std::vector<int> tileSeg, tileStart, firstTile(numSegments), tilesOf(numSegments);
        std::vector<long long> offset(numSegments);
        long long at = 0;
        for (int s = 0; s < numSegments; s++) {
            offset[s] = at;
            at += segLen[s];
            firstTile[s] = static_cast<int>(tileSeg.size());
            tilesOf[s] = (segLen[s] + kernels::TILE - 1) / kernels::TILE;
            for (int k = 0; k < tilesOf[s]; k++) {
                tileSeg.push_back(s);
                tileStart.push_back(k * kernels::TILE);
            }
        }
        total_ = at;
        tiles_ = static_cast<int>(tileSeg.size());
        offsets_ = offset;
        lengths_.assign(segLen, segLen + numSegments);

        kernels::LarsTables& t = tables_;
        if (!upload(&t.tileSeg, tileSeg.data(), tiles_) || !upload(&t.tileStart, tileStart.data(), tiles_)
            || !upload(&t.segLen, segLen, numSegments) || !upload(&t.segOffset, offset.data(), numSegments)
            || !upload(&t.segFirstTile, firstTile.data(), numSegments) || !upload(&t.segTiles, tilesOf.data(), numSegments)
            || !upload(&t.normMode, normMode, numSegments) || !upload(&t.segLam, segLam, numSegments)
            || !make(&t.partW, tiles_) || !make(&t.partG, tiles_) || !make(&t.partU, tiles_)
            || !make(&t.normW, numSegments) || !make(&t.normG, numSegments) || !make(&t.trust, numSegments)
            || !make(&t.lamF, numSegments) || !make(&t.scaleF, numSegments) || !make(&t.state, total_)
            || !make(&params_, 1)) {
            return;
        }
        if (hostStaging) {
            if (!check(backend_->allocHost(reinterpret_cast<void**>(&hostW_), bytes<float>(total_)))) return;
            if (!check(backend_->allocHost(reinterpret_cast<void**>(&hostG_), bytes<float>(total_)))) return;
            if (backend_->hostIsDevice()) {
                devW_ = hostW_;
                devG_ = hostG_;
            } else if (!make(&devW_, total_) || !make(&devG_, total_)) {
                return;
            }
        }
        resetState();
    }

    ~NativeLarsPlan() {
        if (!backend_) return;
        for (void* p : owned_) backend_->release(p);
        if (hostW_) backend_->releaseHost(hostW_);
        if (hostG_) backend_->releaseHost(hostG_);
    }

    NativeLarsPlan(const NativeLarsPlan&) = delete;
    NativeLarsPlan& operator=(const NativeLarsPlan&) = delete;

    /** 0 when the plan is usable; otherwise why not (see statusMessage). */
    int status() const { return status_; }
    std::string statusMessage() const { return message_; }
    long long totalElements() const { return total_; }
    int tiles() const { return tiles_; }

    /** Host staging buffers (total elements each), filled by the caller before stepHost. */
    float* hostParams() { return hostW_; }
    float* hostGrads() { return hostG_; }

    /** Upload the staged w, g; three launches; download w; synchronise. 0 on success. */
    int stepHost(double lr, double mu, double phi, int first) {
        if (status_ != kOk) return status_;
        if (!hostW_) return fail(kOutOfHostMemory, "plan was made without host staging");
        const size_t n = bytes<float>(total_);
        if (!backend_->hostIsDevice()) {
            if (!check(backend_->copy(devW_, hostW_, n, kHostToDevice, nullptr))) return status_;
            if (!check(backend_->copy(devG_, hostG_, n, kHostToDevice, nullptr))) return status_;
        }
        int e = enqueue(devW_, devG_, nullptr, nullptr, nullptr, lr, mu, phi, first);
        if (e != kOk) return e;
        if (!backend_->hostIsDevice()) {
            if (!check(backend_->copy(hostW_, devW_, n, kDeviceToHost, nullptr))) return status_;
        }
        if (!check(backend_->sync(nullptr))) return status_;
        lastStream_ = nullptr;
        return kOk;
    }

    /**
     * One step on device tensors, enqueued on {@code stream} without synchronising. Flat form:
     * wBase/gBase (tables 0); list form: wTable/gTable, device arrays of per-segment pointers.
     */
    int stepDevice(long long wBase, long long gBase, long long wTable, long long gTable, long long stream,
                   double lr, double mu, double phi, int first) {
        if (status_ != kOk) return status_;
        return enqueue(reinterpret_cast<float*>(wBase), reinterpret_cast<const float*>(gBase),
                       reinterpret_cast<float* const*>(wTable), reinterpret_cast<const float* const*>(gTable),
                       reinterpret_cast<void*>(stream), lr, mu, phi, first);
    }

    /** Whether the last step was skipped (non-finite gradient). Synchronises its stream. -1 on error. */
    int lastSkipped() {
        if (status_ != kOk) return -1;
        kernels::StepParams p;
        if (!check(backend_->copy(&p, params_, sizeof p, kDeviceToHost, lastStream_))) return -1;
        if (!check(backend_->sync(lastStream_))) return -1;
        return p.skip;
    }

    /** Device address of the StepParams struct (for callers that capture steps in a CUDA graph). */
    long long stepParamsAddress() const { return reinterpret_cast<long long>(params_); }

    int readState(int seg, float* dst) {
        if (status_ != kOk) return status_;
        if (!check(backend_->copy(dst, tables_.state + offsets_[seg], bytes<float>(lengths_[seg]), kDeviceToHost, nullptr))) return status_;
        return check(backend_->sync(nullptr)) ? kOk : status_;
    }

    int writeState(int seg, const float* src) {
        if (status_ != kOk) return status_;
        if (!check(backend_->copy(tables_.state + offsets_[seg], src, bytes<float>(lengths_[seg]), kHostToDevice, nullptr))) return status_;
        return check(backend_->sync(nullptr)) ? kOk : status_;
    }

    int resetState() {
        if (status_ != kOk) return status_;
        std::vector<float> zeros(total_ < (1 << 20) ? total_ : (1 << 20), 0.0f);
        for (long long at = 0; at < total_; at += static_cast<long long>(zeros.size())) {
            long long n = total_ - at < static_cast<long long>(zeros.size()) ? total_ - at : static_cast<long long>(zeros.size());
            if (!check(backend_->copy(tables_.state + at, zeros.data(), bytes<float>(n), kHostToDevice, nullptr))) return status_;
            if (!check(backend_->sync(nullptr))) return status_;
        }
        return kOk;
    }

    /** Copies the last step's ||w||, ||g|| and trust ratio per segment (NaN where not computed). */
    int readDiagnostics(double* normW, double* normG, double* trust) {
        if (status_ != kOk) return status_;
        const size_t n = bytes<double>(segments_);
        if (!check(backend_->copy(normW, tables_.normW, n, kDeviceToHost, lastStream_))
            || !check(backend_->copy(normG, tables_.normG, n, kDeviceToHost, lastStream_))
            || !check(backend_->copy(trust, tables_.trust, n, kDeviceToHost, lastStream_))
            || !check(backend_->sync(lastStream_))) {
            return status_;
        }
        return kOk;
    }

    /** The last emulator fault's text, or the status message. */
    std::string lastError() const {
        std::string f = backend_ ? backend_->lastFault() : std::string();
        return f.empty() ? message_ : f;
    }

private:
    template <typename T> static size_t bytes(long long n) { return static_cast<size_t>(n) * sizeof(T); }

    int enqueue(float* w, const float* g, float* const* wTable, const float* const* gTable, void* stream,
                double lr, double mu, double phi, int first) {
        kernels::StepParams p{lr, mu, phi, first, 0};
        // Pageable source: the runtime copies it to a staging buffer before returning, so the
        // local may go out of scope and no device synchronisation is needed.
        if (!check(backend_->copy(params_, &p, sizeof p, kHostToDevice, stream))) return status_;
        kernels::TensorRefs<float, float> refs{wTable, gTable, w, g};
        int e = backend_->launchLarsF32(tables_, consts_, refs, params_, tiles_, segments_, stream);
        lastStream_ = stream;
        if (e != kOk) {
            // A kernel fault leaves the plan usable (state may be partially written by the
            // update kernel only if the fault happened there; the emulator reports it).
            message_ = backend_->errorName(e) + (backend_->lastFault().empty() ? "" : ": " + backend_->lastFault());
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

    template <typename T> bool upload(const T** p, const T* src, long long n) {
        T* d = nullptr;
        if (!make(&d, n)) return false;
        if (!check(backend_->copy(d, src, bytes<T>(n), kHostToDevice, nullptr))) return false;
        if (!check(backend_->sync(nullptr))) return false;
        *p = d;
        return true;
    }

    bool check(int e) {
        if (e == kOk) return true;
        fail(e, backend_ ? backend_->errorName(e) : cudaErrorName(e));
        return false;
    }

    int fail(int e, const std::string& m) {
        status_ = e;
        message_ = m;
        return e;
    }

    std::unique_ptr<Backend> backend_;
    int status_ = kOk;
    std::string message_;
    int segments_ = 0;
    int tiles_ = 0;
    long long total_ = 0;
    std::vector<long long> offsets_;
    std::vector<int> lengths_;
    kernels::LarsTables tables_{};
    kernels::LarsConsts consts_{};
    kernels::StepParams* params_ = nullptr;
    float* hostW_ = nullptr;
    float* hostG_ = nullptr;
    float* devW_ = nullptr;
    float* devG_ = nullptr;
    void* lastStream_ = nullptr;
    std::vector<void*> owned_;
};

/** 0 if a CUDA device is usable here, else the error code (see cudaErrorNameOf). */
inline int cudaAvailability() { return cudaProbe(); }

/** e.g. "cudaErrorInsufficientDriver". */
inline std::string cudaErrorNameOf(int code) { return cudaErrorName(code); }

/** Emulator fiber schedule for later launches: 0 forward, 1 reverse, 2 shuffled(seed). */
inline void setEmulatorSchedule(int schedule, int seed) {
    simt::set_schedule(static_cast<simt::Schedule>(schedule), static_cast<unsigned>(seed));
}

}  // namespace lars4j
