// How fast the GPU streams a weight matrix in the order tensor_gemv reads it, against the same bytes
// read in other orders: a question about DRAM, not about the kernel's arithmetic, so the kernels here
// only load and fold what they load (nothing decoded, no mma).
//
//   nvcc -O3 -std=c++17 -arch=sm_90a -o weight_stream_patterns bench/weight_stream_patterns.cu
//   ./weight_stream_patterns > results.md
//
// Orders (each lane loads 16 bytes a load, a k-block being 64 bytes of each of 16 channels, blocks of
// four warps that take the k-blocks in turn, as tensor_gemv's default at one row):
//   rows   : tensor_gemv's layout today (compiler/weight_layout.cpp, mma_runs): each channel's row
//            whole, so one warp load asks for 8 channels' 64 bytes, rows K/2 bytes apart;
//   tiles  : the same loads from a layout where a 16-channel tile's k-block (1 KiB) is contiguous
//            and the tile's k-blocks follow each other, so a warp load asks for 512 contiguous bytes;
//   linear : every warp reads consecutive 512-byte pieces of the whole buffer (the ceiling).
// Method as bench/matmul_bench.cpp's: weights rotated through copies past twice the L2, CUDA events,
// warm-up, the median of 30 launches.
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#define CHECK(call)                                                                                  \
  do {                                                                                               \
    const cudaError_t status_ = (call);                                                              \
    if (status_ != cudaSuccess) {                                                                    \
      std::fprintf(stderr, "%s failed: %s (%s:%d)\n", #call, cudaGetErrorString(status_), __FILE__, \
                   __LINE__);                                                                        \
      std::exit(1);                                                                                  \
    }                                                                                                \
  } while (0)

enum class Order { rows, tiles, linear };

constexpr int kWarps = 4;
constexpr int kKBlockBytes = 64;  // 4 lanes x 16 bytes of one channel

// One block: kTiles tiles of 16 channels, all of K; warp w takes k-blocks w, w + 4, ...; kUnroll
// k-blocks' loads issued before any is folded (the rounds in flight).
template <Order kOrder, int kTiles, int kUnroll>
__global__ void __launch_bounds__(kWarps * 32) stream_weights(const uint8_t* weights, long long row_bytes,
                                                              long long k_blocks, unsigned* sink) {
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
  const int g = lane / 4, t = lane % 4;
  uint4 folded = make_uint4(0, 0, 0, 0);
  for (long long first = warp; first < k_blocks; first += kWarps * kUnroll) {
    uint4 words[kUnroll][kTiles][2];
#pragma unroll
    for (int u = 0; u < kUnroll; ++u) {
      const long long block = first + u * kWarps;
#pragma unroll
      for (int tile = 0; tile < kTiles; ++tile)
#pragma unroll
        for (int half = 0; half < 2; ++half) {
          const long long tile_index = (long long)blockIdx.x * kTiles + tile;
          const int channel = g + 8 * half;
          long long at;
          if constexpr (kOrder == Order::rows) {
            at = (tile_index * 16 + channel) * row_bytes + block * kKBlockBytes + t * 16;
          } else if constexpr (kOrder == Order::tiles) {
            at = tile_index * 16 * row_bytes + block * 16 * kKBlockBytes + channel * kKBlockBytes + t * 16;
          } else {
            // The block's bytes as one run, each warp load 512 consecutive bytes.
            const long long block_bytes = (long long)kTiles * 16 * row_bytes;
            const long long piece = (block * kTiles + tile) * 2 + half;
            at = blockIdx.x * block_bytes + piece * 512 + lane * 16;
          }
          words[u][tile][half] = block < k_blocks ? __ldg(reinterpret_cast<const uint4*>(weights + at))
                                                  : make_uint4(0, 0, 0, 0);
        }
    }
#pragma unroll
    for (int u = 0; u < kUnroll; ++u)
#pragma unroll
      for (int tile = 0; tile < kTiles; ++tile)
#pragma unroll
        for (int half = 0; half < 2; ++half) {
          folded.x ^= words[u][tile][half].x;
          folded.y += words[u][tile][half].y;
          folded.z ^= words[u][tile][half].z;
          folded.w += words[u][tile][half].w;
        }
  }
  const unsigned all = folded.x ^ folded.y ^ folded.z ^ folded.w;
  if (all == 0x9e3779b9u) atomicAdd(sink, 1u);  // keeps the loads; almost never taken
}

struct Shape {
  const char* name;
  long long n, k;  // 4-bit weights: K / 2 bytes a row
};

template <Order kOrder, int kTiles, int kUnroll>
float median_us(const std::vector<uint8_t*>& copies, const Shape& shape, unsigned* sink) {
  const long long row_bytes = shape.k / 2;
  const long long k_blocks = row_bytes / kKBlockBytes;
  const dim3 grid(unsigned(shape.n / (16 * kTiles)));
  cudaEvent_t start, stop;
  CHECK(cudaEventCreate(&start));
  CHECK(cudaEventCreate(&stop));
  std::vector<float> times;
  for (int launch = 0; launch < 40; ++launch) {
    const uint8_t* weights = copies[launch % copies.size()];
    CHECK(cudaEventRecord(start));
    stream_weights<kOrder, kTiles, kUnroll><<<grid, kWarps * 32>>>(weights, row_bytes, k_blocks, sink);
    CHECK(cudaGetLastError());
    CHECK(cudaEventRecord(stop));
    CHECK(cudaEventSynchronize(stop));
    float ms = 0.0f;
    CHECK(cudaEventElapsedTime(&ms, start, stop));
    if (launch >= 10) times.push_back(ms * 1000.0f);  // the first ten are warm-up
  }
  CHECK(cudaEventDestroy(start));
  CHECK(cudaEventDestroy(stop));
  std::sort(times.begin(), times.end());
  return times[times.size() / 2];
}

template <int kTiles, int kUnroll>
void time_orders(const std::vector<uint8_t*>& copies, const Shape& shape, unsigned* sink) {
  const double bytes = double(shape.n) * double(shape.k) / 2.0;
  const float rows = median_us<Order::rows, kTiles, kUnroll>(copies, shape, sink);
  const float tiles = median_us<Order::tiles, kTiles, kUnroll>(copies, shape, sink);
  const float linear = median_us<Order::linear, kTiles, kUnroll>(copies, shape, sink);
  const auto gbs = [&](float us) { return bytes / (us * 1e-6) / 1e9; };
  std::printf("| %s | %d | %d | %lld | %.1f (%.0f) | %.1f (%.0f) | %.1f (%.0f) | %.2f |\n", shape.name, 16 * kTiles,
              kUnroll, shape.n / (16 * kTiles), rows, gbs(rows), tiles, gbs(tiles), linear, gbs(linear),
              tiles / rows);
}

int main() {
  const Shape shapes[] = {{"70B qkv", 10240, 8192},
                          {"70B o", 8192, 8192},
                          {"70B gate_up", 57344, 8192},
                          {"70B down", 8192, 28672},
                          {"8B down", 4096, 14336}};
  int device = 0;
  CHECK(cudaGetDevice(&device));
  cudaDeviceProp props{};
  CHECK(cudaGetDeviceProperties(&props, device));
  long long largest = 0;
  for (const Shape& shape : shapes) largest = std::max(largest, shape.n * shape.k / 2);
  const long long rotation = 2LL * props.l2CacheSize;
  const int copies_count = int(std::max(2LL, (rotation + largest - 1) / largest + 1));
  std::vector<uint8_t*> copies(copies_count);
  for (uint8_t*& copy : copies) {
    CHECK(cudaMalloc(&copy, largest));
    CHECK(cudaMemset(copy, 0x5a, largest));
  }
  unsigned* sink = nullptr;
  CHECK(cudaMalloc(&sink, sizeof(unsigned)));
  CHECK(cudaMemset(sink, 0, sizeof(unsigned)));

  std::printf("# Weight stream orders on %s (%d SMs, L2 %d MB, %d copies of %lld MB rotated)\n\n", props.name,
              props.multiProcessorCount, props.l2CacheSize >> 20, copies_count, largest >> 20);
  std::printf("Median µs (GB/s) of reading each shape's 4-bit weights; blocks of 4 warps along K.\n\n");
  std::printf("| shape | channels a block | k-blocks in flight a warp | blocks | rows | tiles | linear | tiles / rows |\n");
  std::printf("|---|---|---|---|---|---|---|---|\n");
  for (const Shape& shape : shapes) {
    time_orders<1, 1>(copies, shape, sink);
    time_orders<1, 2>(copies, shape, sink);
    time_orders<1, 4>(copies, shape, sink);
    time_orders<2, 1>(copies, shape, sink);
    time_orders<2, 2>(copies, shape, sink);
  }
  for (uint8_t* copy : copies) CHECK(cudaFree(copy));
  CHECK(cudaFree(sink));
  return 0;
}
