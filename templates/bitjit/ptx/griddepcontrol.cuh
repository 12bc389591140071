#pragma once
// Programmatic dependent launch (griddepcontrol, sm_90).

namespace bitjit {

// Programmatic dependent launch (sm_90): the host launches the warp-specialized kernels so that the
// next kernel in the stream may start while this one finishes. allow_dependent_launch() lets it
// (from every block, the next kernel's blocks take SMs as this one's leave); wait_for_prior_grids()
// returns once the kernel before has completed and its writes are visible, so it must come before
// this kernel's first access to global memory (A may be the kernel before's output, and C, the
// workspace and the counters its next kernel's). Without a prior programmatic launch both do nothing.
__device__ __forceinline__ void allow_dependent_launch() { asm volatile("griddepcontrol.launch_dependents;" ::: "memory"); }

__device__ __forceinline__ void wait_for_prior_grids() { asm volatile("griddepcontrol.wait;" ::: "memory"); }

}  // namespace bitjit
