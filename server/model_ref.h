// What a session is bound to: a model version, its state pool and metrics.
#ifndef RNNSERVE_SERVER_MODEL_REF_H_
#define RNNSERVE_SERVER_MODEL_REF_H_

#include <memory>
#include <string>

#include "model/engine/layer_stack.h"
#include "server/state_pool.h"

namespace rnnserve::server {

struct ModelMetrics;  // server/metrics.h

// The model a session is bound to; cheap to copy.
struct ModelRef {
  std::string name;
  int version = 0;
  std::shared_ptr<const model::LayerStack> stack;
  // Not owned; the pool of this model version, whose slot_floats() is
  // stack->state_size(). Valid while a session holds one of its slots or a
  // caller holds the version (ServedModelPtr): a retired version is freed
  // once neither does (ServedModels::TakeUnused).
  StatePool* pool = nullptr;
  // Not owned; this version's metrics, or null where none are kept.
  ModelMetrics* metrics = nullptr;
};

}  // namespace rnnserve::server

#endif  // RNNSERVE_SERVER_MODEL_REF_H_
