// Counts the heap allocations made on the calling thread while an
// AllocationCounter is alive (or on every thread: ProcessAllocationCounter). Linking
// allocation_counter.cc replaces every allocation entry point a C++ program reaches: malloc,
// calloc, realloc, posix_memalign, aligned_alloc, memalign, valloc and every form of operator new
// (plain, array, nothrow, aligned). Link it only into a binary of its own (model_no_alloc_test,
// server_no_alloc_test): it must not leak into other tests or into a sanitizer build, whose runtime
// owns malloc.
#ifndef RNNSERVE_TESTS_MODEL_ALLOCATION_COUNTER_H_
#define RNNSERVE_TESTS_MODEL_ALLOCATION_COUNTER_H_

namespace rnnserve::model::testing {

// Not nestable; one per thread at a time. Other threads are not counted.
class AllocationCounter {
 public:
  AllocationCounter();
  ~AllocationCounter();
  AllocationCounter(const AllocationCounter &) = delete;
  AllocationCounter &operator=(const AllocationCounter &) = delete;

  // Allocation calls on this thread since construction (frees not counted).
  int count() const;
};

// Counts the heap allocations made on every thread of the process while a
// ProcessAllocationCounter is alive: for a path that crosses threads (a gRPC
// step: gRPC's threads, then a batcher worker), compared against another
// program doing the same calls. Not nestable; one at a time.
class ProcessAllocationCounter {
 public:
  ProcessAllocationCounter();
  ~ProcessAllocationCounter();
  ProcessAllocationCounter(const ProcessAllocationCounter &) = delete;
  ProcessAllocationCounter &operator=(const ProcessAllocationCounter &) = delete;

  // Allocation calls on any thread since construction (frees not counted).
  long count() const;
};

}  // namespace rnnserve::model::testing

#endif  // RNNSERVE_TESTS_MODEL_ALLOCATION_COUNTER_H_
