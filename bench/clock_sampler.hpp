#pragma once
// The SM clock and board power while something runs on the GPU, sampled every millisecond through
// NVML (libnvidia-ml, opened at run time like the driver; benchmarks only). Under a power limit the
// clock drops: two kernels of equal work per cycle can take different times because one runs at a
// lower clock, which the times alone do not show.
#include <dlfcn.h>

#include <atomic>
#include <chrono>
#include <stdexcept>
#include <string>
#include <thread>

namespace bitjit {

struct ClockReading {
  double sm_mhz = 0;  // mean SM clock over the samples
  double watts = 0;   // mean of NVML's board power readings (the driver averages them itself)
  int samples = 0;
};

class ClockSampler {
 public:
  // Opens NVML on the GPU with NVML index 0 (the machine's only GPU on the benchmark hosts); throws,
  // naming the call, when NVML is missing or fails.
  ClockSampler() {
    library_ = dlopen("libnvidia-ml.so.1", RTLD_NOW | RTLD_LOCAL);
    if (!library_) throw std::runtime_error(std::string("--clocks: dlopen(libnvidia-ml.so.1) failed: ") + dlerror());
    init_ = symbol<int (*)()>("nvmlInit_v2");
    handle_by_index_ = symbol<int (*)(unsigned, void**)>("nvmlDeviceGetHandleByIndex_v2");
    clock_info_ = symbol<int (*)(void*, int, unsigned*)>("nvmlDeviceGetClockInfo");
    power_usage_ = symbol<int (*)(void*, unsigned*)>("nvmlDeviceGetPowerUsage");
    check(init_(), "nvmlInit_v2");
    check(handle_by_index_(0, &device_), "nvmlDeviceGetHandleByIndex_v2(0)");
  }
  ClockSampler(const ClockSampler&) = delete;
  ClockSampler& operator=(const ClockSampler&) = delete;

  // Runs work() while a thread samples; the mean of the samples taken meanwhile.
  template <class Work>
  ClockReading during(Work work) {
    std::atomic<bool> running{true};
    double mhz_sum = 0, watts_sum = 0;
    int samples = 0;
    std::thread sampler([&] {
      while (running.load()) {
        unsigned mhz = 0, milliwatts = 0;
        if (clock_info_(device_, kSmClock, &mhz) == 0 && power_usage_(device_, &milliwatts) == 0) {
          mhz_sum += mhz;
          watts_sum += milliwatts / 1000.0;
          ++samples;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
      }
    });
    try {
      work();
    } catch (...) {
      running = false;
      sampler.join();
      throw;
    }
    running = false;
    sampler.join();
    if (samples == 0) return {};
    return {mhz_sum / samples, watts_sum / samples, samples};
  }

 private:
  static constexpr int kSmClock = 1;  // NVML_CLOCK_SM

  template <class F>
  F symbol(const char* name) {
    void* found = dlsym(library_, name);
    if (!found) throw std::runtime_error(std::string("--clocks: libnvidia-ml.so.1 has no ") + name);
    return reinterpret_cast<F>(found);
  }
  static void check(int status, const char* call) {
    if (status != 0) throw std::runtime_error(std::string("--clocks: ") + call + " failed with NVML status " + std::to_string(status));
  }

  void* library_ = nullptr;
  void* device_ = nullptr;
  int (*init_)() = nullptr;
  int (*handle_by_index_)(unsigned, void**) = nullptr;
  int (*clock_info_)(void*, int, unsigned*) = nullptr;
  int (*power_usage_)(void*, unsigned*) = nullptr;
};

}  // namespace bitjit
