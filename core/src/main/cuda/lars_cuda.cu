// The CUDA backend: cudaMalloc'd memory, asynchronous copies, and the three kernel launches of a
// step on the caller's stream. Compiled by nvcc (SASS for sm_80 and sm_90, plus PTX); linked with
// cudart_static so the JNI library loads on machines without a driver and reports it instead.
#include <cuda_runtime.h>

#include <string>

#include "lars4j_backend.h"
#include "lamb_kernels.cuh"

namespace lars4j {
namespace {

class CudaBackend final : public Backend {
public:
    int alloc(void** p, size_t bytes) override { return cudaMalloc(p, bytes ? bytes : 1); }
    int release(void* p) override { return cudaFree(p); }
    int allocHost(void** p, size_t bytes) override { return cudaMallocHost(p, bytes ? bytes : 1); }
    int releaseHost(void* p) override { return cudaFreeHost(p); }
    int copy(void* dst, const void* src, size_t bytes, CopyKind kind, void* stream) override {
        cudaMemcpyKind k = kind == kHostToDevice ? cudaMemcpyHostToDevice
                         : kind == kDeviceToHost ? cudaMemcpyDeviceToHost : cudaMemcpyDeviceToDevice;
        return cudaMemcpyAsync(dst, src, bytes, k, static_cast<cudaStream_t>(stream));
    }
    int sync(void* stream) override { return cudaStreamSynchronize(static_cast<cudaStream_t>(stream)); }

    int cooperativeLimit() override {
        int dev = 0, coop = 0, sms = 0, perSm = 0;
        if (cudaGetDevice(&dev) != cudaSuccess) return 0;
        if (cudaDeviceGetAttribute(&coop, cudaDevAttrCooperativeLaunch, dev) != cudaSuccess || !coop) return 0;
        if (cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, dev) != cudaSuccess) return 0;
        if (cudaOccupancyMaxActiveBlocksPerMultiprocessor(&perSm, kernels::lars_step_cooperative<float, float>,
                                                          kernels::THREADS, 0) != cudaSuccess) {
            return 0;
        }
        return perSm * sms;
    }

    int launchLarsF32(const kernels::LarsTables& t, const kernels::LarsConsts& c,
                      const kernels::TensorRefs<float, float>& refs, kernels::StepParams* params,
                      int tiles, int segments, void* stream) override {
        using namespace kernels;
        cudaStream_t s = static_cast<cudaStream_t>(stream);
        if (c.cooperative > 0) {
            // Kernel arguments by address, as cudaLaunchCooperativeKernel takes them.
            LarsTables ta = t;
            LarsConsts ca = c;
            TensorRefs<float, float> ra = refs;
            void* args[] = {&ta, &ca, &ra, &params, &tiles, &segments};
            const cudaError_t e = cudaLaunchCooperativeKernel(reinterpret_cast<void*>(lars_step_cooperative<float, float>),
                                                              dim3(c.cooperative), dim3(THREADS), args, 0, s);
            if (e != cudaSuccess) cudaGetLastError();   // clear it: the error is returned, not left sticky
            return e;
        }
        lars_tile_norms<float, float><<<tiles, THREADS, 0, s>>>(t, refs, c.vectorLoads, params);
        int e = cudaGetLastError();
        if (e != cudaSuccess) return e;
        lars_segment_scalars<<<segments, THREADS, 0, s>>>(t, c, params);
        e = cudaGetLastError();
        if (e != cudaSuccess) return e;
        lars_update<float, float><<<tiles, THREADS, 0, s>>>(t, c, refs, params);
        return cudaGetLastError();
    }

    int launchLambF32(const kernels::LarsTables& nt, const kernels::LambTables& t, const kernels::LambConsts& c,
                      const kernels::TensorRefs<float, float>& refs, kernels::LambStepParams* params, bool gradNormPass,
                      int tiles, int segments, void* stream) override {
        using namespace kernels;
        cudaStream_t s = static_cast<cudaStream_t>(stream);
        int e;
        if (gradNormPass) {
            lars_tile_norms<float, float><<<tiles, THREADS, 0, s>>>(nt, refs, c.vectorLoads, nullptr);
            if ((e = cudaGetLastError()) != cudaSuccess) return e;
            lamb_segment_gsum<<<segments, THREADS, 0, s>>>(t);
            if ((e = cudaGetLastError()) != cudaSuccess) return e;
            lamb_global<<<1, THREADS, 0, s>>>(t, c, params, segments);
            if ((e = cudaGetLastError()) != cudaSuccess) return e;
        }
        lamb_moments<float, float><<<tiles, THREADS, 0, s>>>(t, c, refs, params);
        if ((e = cudaGetLastError()) != cudaSuccess) return e;
        lamb_segment_scalars<<<segments, THREADS, 0, s>>>(t, c, params);
        if ((e = cudaGetLastError()) != cudaSuccess) return e;
        lamb_apply<float, float><<<tiles, THREADS, 0, s>>>(t, c, refs, params);
        return cudaGetLastError();
    }

    int timeMs(const std::function<int()>& work, void* stream, float* ms) override {
        cudaStream_t s = static_cast<cudaStream_t>(stream);
        cudaEvent_t a, b;
        int e = cudaEventCreate(&a);
        if (e != cudaSuccess) return e;
        if ((e = cudaEventCreate(&b)) != cudaSuccess) { cudaEventDestroy(a); return e; }
        e = cudaEventRecord(a, s);
        if (e == cudaSuccess) e = work();
        if (e == cudaSuccess) e = cudaEventRecord(b, s);
        if (e == cudaSuccess) e = cudaEventSynchronize(b);
        if (e == cudaSuccess) e = cudaEventElapsedTime(ms, a, b);
        cudaEventDestroy(a);
        cudaEventDestroy(b);
        return e;
    }

    int streamCreate(void** stream) override {
        return cudaStreamCreateWithFlags(reinterpret_cast<cudaStream_t*>(stream), cudaStreamNonBlocking);
    }
    int streamDestroy(void* stream) override { return cudaStreamDestroy(static_cast<cudaStream_t>(stream)); }
    int beginCapture(void* stream) override {
        return cudaStreamBeginCapture(static_cast<cudaStream_t>(stream), cudaStreamCaptureModeThreadLocal);
    }
    int endCapture(void* stream, void** graphExec) override {
        cudaGraph_t graph = nullptr;
        int e = cudaStreamEndCapture(static_cast<cudaStream_t>(stream), &graph);
        if (e != cudaSuccess) return e;
        e = cudaGraphInstantiate(reinterpret_cast<cudaGraphExec_t*>(graphExec), graph, 0);
        cudaGraphDestroy(graph);
        return e;
    }
    int graphLaunch(void* graphExec, void* stream) override {
        return cudaGraphLaunch(static_cast<cudaGraphExec_t>(graphExec), static_cast<cudaStream_t>(stream));
    }
    int graphDestroy(void* graphExec) override { return cudaGraphExecDestroy(static_cast<cudaGraphExec_t>(graphExec)); }

    bool hostIsDevice() const override { return false; }
    std::string errorName(int code) const override { return cudaErrorName(code); }
};

}  // namespace

Backend* createCudaBackend(int* status) {
    int e = cudaProbe();
    *status = e;
    return e == cudaSuccess ? new CudaBackend() : nullptr;
}

int cudaProbe() {
    int count = 0;
    cudaError_t e = cudaGetDeviceCount(&count);
    if (e != cudaSuccess) return e;
    return count > 0 ? cudaSuccess : cudaErrorNoDevice;
}

std::string cudaErrorName(int code) {
    if (code == kNotBuiltWithCuda) return "notBuiltWithCuda";
    if (code == kEmulatorFault) return "emulatorFault";
    if (code == kOutOfHostMemory) return "outOfHostMemory";
    return cudaGetErrorName(static_cast<cudaError_t>(code));
}

}  // namespace lars4j
