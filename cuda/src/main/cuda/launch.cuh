// How a rule's host code launches its kernels through the generic Backend::launch, written once
// for both builds: kernel_ref() turns a typed kernel of this build into the KernelRef the
// backend takes (on a GPU its host stub; on the emulator the emulated runtime's handle, which
// knows how to unpack the argument array), and launch() converts the arguments to the kernel's
// parameter types before taking their addresses, so a launch type-checks as a direct call would.
#pragma once

#include <cstddef>
#include <tuple>
#include <type_traits>
#include <utility>

#include "lars4j_backend.h"
#include "simt.cuh"

#if !defined(__CUDACC__)
#include "simt/cuda_runtime_emu.h"
#endif

namespace lars4j {
namespace kernels {
inline namespace LARS4J_KERNEL_BUILD {

#if defined(__CUDACC__)
template <typename... P>
inline KernelRef kernel_ref(void (*kernel)(P...)) {
    KernelRef r;
    r.fn = reinterpret_cast<const void*>(kernel);
    return r;
}
#else
// The rules' host code names the runtime's error codes as it would on a GPU.
using namespace ::lars4j::emu_cuda;

template <typename... P>
inline KernelRef kernel_ref(void (*kernel)(P...)) {
    KernelRef r;
    r.fn = emu_cuda::emuKernelHandle(kernel);
    return r;
}
#endif

template <typename... P, typename Args, size_t... I>
inline int launch_args(Backend& b, void (*kernel)(P...), unsigned grid, void* stream, bool cooperative, Args& args,
                       std::index_sequence<I...>) {
    void* ptrs[sizeof...(P) > 0 ? sizeof...(P) : 1] = {static_cast<void*>(&std::get<I>(args))...};
    return b.launch(kernel_ref(kernel), grid, ptrs, stream, cooperative);
}

/** One launch of {@code kernel} on {@code grid} blocks in stream order; its own result. */
template <typename... P, typename... A>
inline int launch(Backend& b, unsigned grid, void* stream, void (*kernel)(P...), A&&... args) {
    static_assert(sizeof...(P) == sizeof...(A), "a kernel launch takes one argument per parameter");
    std::tuple<std::decay_t<P>...> a(std::forward<A>(args)...);
    return launch_args(b, kernel, grid, stream, false, a, std::index_sequence_for<P...>{});
}

/** The same as one cooperative launch (all blocks co-resident, grid barriers allowed). */
template <typename... P, typename... A>
inline int launch_cooperative(Backend& b, unsigned grid, void* stream, void (*kernel)(P...), A&&... args) {
    static_assert(sizeof...(P) == sizeof...(A), "a kernel launch takes one argument per parameter");
    std::tuple<std::decay_t<P>...> a(std::forward<A>(args)...);
    return launch_args(b, kernel, grid, stream, true, a, std::index_sequence_for<P...>{});
}

}  // inline namespace LARS4J_KERNEL_BUILD
}  // namespace kernels
}  // namespace lars4j
