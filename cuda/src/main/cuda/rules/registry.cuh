// The rules the native engines know, by id: the one place that maps a rule id (chosen in Java by
// the rule's binding class, org.lars4j.engine.cuda.NativeRules) to its C++ side. Compiled once per
// build, so that a rule object launches that build's kernels.
#pragma once

#include "rules/lamb.cuh"
#include "rules/lars.cuh"

namespace lars4j {
namespace kernels {

constexpr int RULE_LARS = 0;
constexpr int RULE_LAMB = 1;

inline namespace LARS4J_KERNEL_BUILD {

/** A new rule object of id {@code rule}, null for an unknown id. */
inline NativeRule* newRule(int rule) {
    switch (rule) {
        case RULE_LARS: return new LarsRule();
        case RULE_LAMB: return new LambRule();
        default: return nullptr;
    }
}

}  // inline namespace LARS4J_KERNEL_BUILD
}  // namespace kernels
}  // namespace lars4j
