#include "tests/model/allocation_counter.h"

#include <atomic>
#include <cerrno>
#include <cstddef>
#include <cstdlib>
#include <new>

// glibc's own allocator under its exported internal names: the replacements
// below count, then forward here (dlsym would itself allocate).
extern "C" {
void *__libc_malloc(size_t size);
void *__libc_calloc(size_t count, size_t size);
void *__libc_realloc(void *pointer, size_t size);
void *__libc_memalign(size_t alignment, size_t size);
void *__libc_valloc(size_t size);
}

namespace {

thread_local bool counting = false;
thread_local int allocations = 0;
// ProcessAllocationCounter's: relaxed, a count, no ordering.
std::atomic<bool> counting_all{false};
std::atomic<long> all_allocations{0};

void Count() {
  if (counting) ++allocations;
  if (counting_all.load(std::memory_order_relaxed)) {
    all_allocations.fetch_add(1, std::memory_order_relaxed);
  }
}

// Operator new's contract: never null; retry through the new-handler.
void *NewOrThrow(size_t size, size_t alignment) {
  if (size == 0) size = 1;
  for (;;) {
    void *p = alignment == 0 ? __libc_malloc(size) : __libc_memalign(alignment, size);
    if (p != nullptr) return p;
    std::new_handler handler = std::get_new_handler();
    if (handler == nullptr) throw std::bad_alloc();
    handler();
  }
}

void *CountedNew(size_t size, size_t alignment = 0) {
  Count();
  return NewOrThrow(size, alignment);
}

void *CountedNewNoThrow(size_t size, size_t alignment = 0) noexcept {
  Count();
  try {
    return NewOrThrow(size, alignment);
  } catch (const std::bad_alloc &) {
    return nullptr;
  }
}

}  // namespace

namespace rnnserve::model::testing {

AllocationCounter::AllocationCounter() {
  allocations = 0;
  counting = true;
}

AllocationCounter::~AllocationCounter() { counting = false; }

int AllocationCounter::count() const { return allocations; }

ProcessAllocationCounter::ProcessAllocationCounter() {
  all_allocations.store(0);
  counting_all.store(true);
}

ProcessAllocationCounter::~ProcessAllocationCounter() { counting_all.store(false); }

long ProcessAllocationCounter::count() const { return all_allocations.load(); }

}  // namespace rnnserve::model::testing

extern "C" {

void *malloc(size_t size) {
  Count();
  return __libc_malloc(size);
}

void *calloc(size_t count, size_t size) {
  Count();
  return __libc_calloc(count, size);
}

void *realloc(void *pointer, size_t size) {
  Count();
  return __libc_realloc(pointer, size);
}

int posix_memalign(void **out, size_t alignment, size_t size) {
  Count();
  if (alignment % sizeof(void *) != 0 || (alignment & (alignment - 1)) != 0) return EINVAL;
  void *p = __libc_memalign(alignment, size);
  if (p == nullptr) return ENOMEM;
  *out = p;
  return 0;
}

void *aligned_alloc(size_t alignment, size_t size) {
  Count();
  return __libc_memalign(alignment, size);
}

void *memalign(size_t alignment, size_t size) {
  Count();
  return __libc_memalign(alignment, size);
}

void *valloc(size_t size) {
  Count();
  return __libc_valloc(size);
}

}  // extern "C"

// Every replaceable operator new, so an allocation is seen whichever path the
// standard library would take (libstdc++'s aligned new calls aligned_alloc,
// not malloc). Each allocates from glibc directly, so the matching deletes
// are plain free().
void *operator new(size_t size) { return CountedNew(size); }
void *operator new[](size_t size) { return CountedNew(size); }
void *operator new(size_t size, const std::nothrow_t &) noexcept { return CountedNewNoThrow(size); }
void *operator new[](size_t size, const std::nothrow_t &) noexcept {
  return CountedNewNoThrow(size);
}
void *operator new(size_t size, std::align_val_t alignment) {
  return CountedNew(size, static_cast<size_t>(alignment));
}
void *operator new[](size_t size, std::align_val_t alignment) {
  return CountedNew(size, static_cast<size_t>(alignment));
}
void *operator new(size_t size, std::align_val_t alignment, const std::nothrow_t &) noexcept {
  return CountedNewNoThrow(size, static_cast<size_t>(alignment));
}
void *operator new[](size_t size, std::align_val_t alignment, const std::nothrow_t &) noexcept {
  return CountedNewNoThrow(size, static_cast<size_t>(alignment));
}

void operator delete(void *p) noexcept { std::free(p); }
void operator delete[](void *p) noexcept { std::free(p); }
void operator delete(void *p, size_t) noexcept { std::free(p); }
void operator delete[](void *p, size_t) noexcept { std::free(p); }
void operator delete(void *p, const std::nothrow_t &) noexcept { std::free(p); }
void operator delete[](void *p, const std::nothrow_t &) noexcept { std::free(p); }
void operator delete(void *p, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void *p, std::align_val_t) noexcept { std::free(p); }
void operator delete(void *p, size_t, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void *p, size_t, std::align_val_t) noexcept { std::free(p); }
void operator delete(void *p, std::align_val_t, const std::nothrow_t &) noexcept { std::free(p); }
void operator delete[](void *p, std::align_val_t, const std::nothrow_t &) noexcept { std::free(p); }
