// The C++ side of an optimizer rule, as the host plan (lars4j_native.h) sees it. The plan owns what
// every rule shares: the tile table and the walk, the optimizer state buffers, the per-segment
// diagnostics, the host staging, the streams and the event that orders steps. A rule owns the
// rest: its constants, its device tables and scratch, its step values in device memory, and its
// launch sequence. Rules are in src/main/cuda/rules/, one file each, compiled once per build (GPU
// and emulator) so that they launch that build's kernels; rules/registry.cuh maps a rule id to one.
#pragma once

#include <cstddef>
#include <string>
#include <type_traits>

#include "lars4j_backend.h"

namespace lars4j {

/** What a plan lends its rule: the device, the layout, and the shared device tables. */
class PlanContext {
public:
    Backend* backend = nullptr;
    void* own = nullptr;            // the plan's own stream: uploads at plan time
    int segments = 0;
    int tiles = 0;
    long long total = 0;            // elements
    const int* segLen = nullptr;    // [segments] host
    const int* modes = nullptr;     // [segments] host: the rule's per-segment mode
    const double* segLam = nullptr; // [segments] host: weight decay, 0 where it does not apply
    kernels::Tiles tileTable{};     // device
    kernels::WalkTables walk{};     // device
    float* state = nullptr;         // device: the rule's state buffers, each `total` floats
    double* normW = nullptr;        // device diagnostics [segments], NaN where not computed
    double* normG = nullptr;
    double* trust = nullptr;
    kernels::CentringTables centring{};   // device: gradient centralization's tables (rows 0: off)
    std::string note;               // why a requested variant is not in use (empty when all are)

    virtual ~PlanContext() = default;
    /** Device memory owned by the plan (freed with it); false when it failed (the plan is then unusable). */
    virtual bool allocBytes(void** p, size_t bytes) = 0;
    /** Device memory holding a copy of {@code bytes} from the host. */
    virtual bool uploadBytes(void** p, const void* src, size_t bytes) = 0;

    template <typename T> bool make(T** p, long long n) {
        void* raw = nullptr;
        if (!allocBytes(&raw, static_cast<size_t>(n > 0 ? n : 1) * sizeof(T))) return false;
        *p = static_cast<T*>(raw);
        return true;
    }

    template <typename T> bool upload(T** p, const std::remove_const_t<T>* src, long long n) {
        void* raw = nullptr;
        if (!uploadBytes(&raw, src, static_cast<size_t>(n) * sizeof(T))) return false;
        *p = static_cast<T*>(raw);
        return true;
    }
};

/**
 * One optimizer rule on the native engines. The plan calls, in order: setConstants (the rule's
 * constants struct from Java), groupElements (before the walk is planned), plan (after the
 * shared tables exist), then per step writeParams and launch.
 */
class NativeRule {
public:
    virtual ~NativeRule() = default;
    /** Copies the rule's constants struct (e.g. LarsConsts), filled by Java at plan time. */
    virtual void setConstants(const void* constants) = 0;
    /** Optimizer state buffers, each of the model's size (LARS: momentum; LAMB: exp_avg, exp_avg_sq). */
    virtual int stateBuffers() const = 0;
    /** Elements per group of the walk (0: one group), from the constants and the device. */
    virtual long long groupElements(Backend& backend) { return 0; }
    /** Its device tables and scratch, from the context's layout. false: failed (the context recorded why). */
    virtual bool plan(PlanContext& ctx) = 0;
    /**
     * The step's values (the rule's step-values struct, e.g. LarsStepValues) into device memory on
     * {@code stream}, in stream order. Returns an error code (0: done).
     */
    virtual int writeParams(PlanContext& ctx, const void* values, void* stream) = 0;
    /** The rule's fixed launch sequence on {@code stream}, reading the step's values from device memory. */
    virtual int launch(PlanContext& ctx, const kernels::TensorRefs<float, float>& refs, void* stream) = 0;
    /** A step's launches or its event record failed: nothing the step would have left may be relied on. */
    virtual void stepFailed() {}
    /** Device address of the int that says the last step was skipped (a non-finite gradient). */
    virtual const int* skipFlag() const = 0;
    /** The cooperative grid of a one-launch step, 0 when the rule runs plain launches. */
    virtual int cooperativeBlocks() const { return 0; }
};

}  // namespace lars4j
