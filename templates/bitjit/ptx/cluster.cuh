#pragma once
// Thread-block clusters (sm_90 and newer): the blocks of a cluster run at once on SMs of one GPC and
// can reach each other's shared memory. tensor_wgmma_ws's W8A8 kernel pairs two blocks along N that
// share their activation rows: each block's TMA copies half of the activation box into both blocks'
// shared memory (multicast), and a stage is free again only once the consumers of both blocks are
// done with it.
#include "bitjit/core/matmul_params.cuh"
#include "bitjit/ptx/shared_address.cuh"

namespace bitjit {

// This block's rank in its cluster (0 for a launch without clusters).
__device__ __forceinline__ uint32_t cluster_block_rank() {
  uint32_t rank;
  asm volatile("mov.u32 %0, %%cluster_ctarank;" : "=r"(rank));
  return rank;
}

// Every thread of every block of the cluster arrives, then waits for all the others: what each block
// wrote to its shared memory before (its barriers' initialization) is visible to the others after.
// Every thread of the cluster must call it (.aligned: converged warps).
__device__ __forceinline__ void cluster_sync() {
  asm volatile("barrier.cluster.arrive.release.aligned;\n\tbarrier.cluster.wait.acquire.aligned;" ::: "memory");
}

// One arrival on the barrier at `barrier`'s shared-memory offset in block `rank` of the cluster
// (this block's own for its own rank). Release semantics at the CTA's scope, as for a local
// arrival: the stage's reads were the warpgroup's wgmmas, waited for before this.
__device__ __forceinline__ void mbarrier_arrive_in_block(uint64_t* barrier, uint32_t rank) {
  asm volatile(
      "{ .reg .b32 remote; mapa.shared::cluster.u32 remote, %0, %1; "
      "mbarrier.arrive.shared::cluster.b64 _, [remote]; }" ::"r"(shared_address(barrier)),
      "r"(rank)
      : "memory");
}

// tma_load_2d into the shared memory of every block of the cluster named in `blocks` (a bit per
// rank), at `shared`'s offset in each, completing the box's bytes on the barrier at `barrier`'s
// offset in each.
__device__ __forceinline__ void tma_load_2d_multicast(void* shared, const TensorMap& map, int x, int y, uint64_t* barrier,
                                                      uint16_t blocks) {
  asm volatile(
      "cp.async.bulk.tensor.2d.shared::cluster.global.mbarrier::complete_tx::bytes.multicast::cluster [%0], [%1, {%2, "
      "%3}], [%4], %5;" ::"r"(shared_address(shared)),
      "l"(reinterpret_cast<uint64_t>(&map)), "r"(x), "r"(y), "r"(shared_address(barrier)), "h"(blocks)
      : "memory");
}

}  // namespace bitjit
