#include "util/byte_order.h"

namespace rnnserve::util {

void AppendLe(uint64_t value, int bytes, std::string& out) {
  for (int i = 0; i < bytes; ++i) {
    out.push_back(static_cast<char>(value >> (8 * i)));
  }
}

}  // namespace rnnserve::util
