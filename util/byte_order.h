// Little-endian byte order: what the safetensors, ONNX and .npy readers, the
// .npy writer and the server's session transfer share.
#ifndef RNNSERVE_UTIL_BYTE_ORDER_H_
#define RNNSERVE_UTIL_BYTE_ORDER_H_

#include <cstdint>
#include <string>

namespace rnnserve::util {

// The unsigned integer stored little-endian at `p`, whatever the host's byte
// order; `p` need not be aligned. Inline because they sit in the per-element
// conversion loops. REQUIRES: `p` points at 2, 4 or 8 readable bytes.
inline uint16_t LoadU16(const char* p) {
  return static_cast<uint16_t>(static_cast<uint8_t>(p[0]) | static_cast<uint8_t>(p[1]) << 8);
}

inline uint32_t LoadU32(const char* p) {
  return static_cast<uint32_t>(LoadU16(p)) | static_cast<uint32_t>(LoadU16(p + 2)) << 16;
}

inline uint64_t LoadU64(const char* p) {
  return static_cast<uint64_t>(LoadU32(p)) | static_cast<uint64_t>(LoadU32(p + 4)) << 32;
}

// Appends the low `bytes` bytes of `value` to `out`, least significant first.
// REQUIRES: 0 <= bytes <= 8.
void AppendLe(uint64_t value, int bytes, std::string& out);

}  // namespace rnnserve::util

#endif  // RNNSERVE_UTIL_BYTE_ORDER_H_
