// An allocator for std::vector whose buffers start on a cache line.
#ifndef RNNSERVE_MODEL_KERNELS_CACHE_ALIGNED_ALLOCATOR_H_
#define RNNSERVE_MODEL_KERNELS_CACHE_ALIGNED_ALLOCATOR_H_

#include <cstddef>
#include <new>

namespace rnnserve::model {

// Cache-line aligned floats: every panel row starts a line, so AVX-512 loads
// of weights never split one.
template <typename T>
struct CacheAlignedAllocator {
  using value_type = T;
  static constexpr std::size_t kAlignment = 64;
  CacheAlignedAllocator() = default;
  template <typename U>
  CacheAlignedAllocator(const CacheAlignedAllocator<U>&) {}
  T* allocate(std::size_t n) {
    return static_cast<T*>(::operator new(n * sizeof(T), std::align_val_t(kAlignment)));
  }
  void deallocate(T* p, std::size_t) { ::operator delete(p, std::align_val_t(kAlignment)); }
  template <typename U>
  bool operator==(const CacheAlignedAllocator<U>&) const {
    return true;
  }
};

}  // namespace rnnserve::model

#endif  // RNNSERVE_MODEL_KERNELS_CACHE_ALIGNED_ALLOCATOR_H_
