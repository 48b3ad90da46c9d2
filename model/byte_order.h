// Little-endian byte order and the 16-bit float formats of weight files: what
// the safetensors and .npy readers (and the .npy writer) share.
#ifndef RNNSERVE_MODEL_BYTE_ORDER_H_
#define RNNSERVE_MODEL_BYTE_ORDER_H_

#include <cstdint>
#include <string>

namespace rnnserve::model {

// The unsigned integer stored little-endian at `p`, whatever the host's byte
// order; `p` need not be aligned. Inline because they sit in the per-element
// conversion loops. REQUIRES: `p` points at 2, 4 or 8 readable bytes.
inline uint16_t LoadU16(const char* p) {
  return static_cast<uint16_t>(static_cast<uint8_t>(p[0]) |
                               static_cast<uint8_t>(p[1]) << 8);
}

inline uint32_t LoadU32(const char* p) {
  return static_cast<uint32_t>(LoadU16(p)) |
         static_cast<uint32_t>(LoadU16(p + 2)) << 16;
}

inline uint64_t LoadU64(const char* p) {
  return static_cast<uint64_t>(LoadU32(p)) |
         static_cast<uint64_t>(LoadU32(p + 4)) << 32;
}

// Appends the low `bytes` bytes of `value` to `out`, least significant first.
// REQUIRES: 0 <= bytes <= 8.
void AppendLe(uint64_t value, int bytes, std::string& out);

// IEEE 754 binary16 bits to float, exact for every input (subnormals, signed
// zeros, infinities; NaN stays NaN).
float HalfToFloat(uint16_t bits);
// bfloat16 bits (the top half of a float32) to float, exact.
float BFloat16ToFloat(uint16_t bits);

}  // namespace rnnserve::model

#endif  // RNNSERVE_MODEL_BYTE_ORDER_H_
