#include "model/importers/onnx_axes.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "util/status_macros.h"

namespace rnnserve::model {
namespace {

std::string AxisToString(const Axis& axis) {
  switch (axis.kind) {
    case AxisKind::kTime:
      return "time";
    case AxisKind::kUnit:
      return "1";
    case AxisKind::kDirections:
      return absl::StrCat("directions ", axis.size);
    case AxisKind::kFeatures:
      return absl::StrCat("features ", axis.size);
  }
  return "?";
}

// Merges consecutive non-unit input axes into one output axis of `size`
// (-1: whatever they multiply to). Only [features] alone, [time] alone,
// [directions] alone and [directions, features] are meaningful merges.
absl::StatusOr<Axis> Merge(const Axes& run, int64_t size) {
  if (run.size() == 1 && (size == -1 || run[0].kind == AxisKind::kTime ||
                          run[0].size == size)) {
    if (run[0].kind == AxisKind::kTime && size != -1) {
      return absl::InvalidArgumentError("gives the time axis a fixed size");
    }
    return run[0];
  }
  if (run.size() == 2 && run[0].kind == AxisKind::kDirections &&
      run[1].kind == AxisKind::kFeatures) {
    const int64_t merged = run[0].size * run[1].size;
    if (size == -1 || size == merged) return Axis::Features(merged);
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "merges [", AxesToString(run), "] into one axis, which changes their meaning"));
}

}  // namespace

std::string AxesToString(const Axes& axes) {
  std::vector<std::string> parts;
  for (const Axis& axis : axes) parts.push_back(AxisToString(axis));
  return absl::StrCat("[", absl::StrJoin(parts, ", "), "]");
}

absl::StatusOr<int> NormalizeAxis(int64_t axis, int64_t rank) {
  if (axis < -rank || axis >= rank) {
    return absl::InvalidArgumentError(
        absl::StrCat("axis ", axis, " is outside a tensor of rank ", rank));
  }
  return static_cast<int>(axis < 0 ? axis + rank : axis);
}

Axes NonUnit(const Axes& axes) {
  Axes out;
  for (const Axis& axis : axes) {
    if (axis.kind != AxisKind::kUnit) out.push_back(axis);
  }
  return out;
}

absl::StatusOr<Axes> SqueezeAxes(const Axes& in, const std::vector<int64_t>& axes) {
  if (axes.empty()) return NonUnit(in);
  std::vector<bool> drop(in.size(), false);
  for (int64_t a : axes) {
    RNN_ASSIGN_OR_RETURN(const int i, NormalizeAxis(a, in.size()));
    if (in[i].kind != AxisKind::kUnit) {
      return absl::InvalidArgumentError(
          absl::StrCat("squeezes axis ", i, " of ", AxesToString(in), ", which is not size 1"));
    }
    drop[i] = true;
  }
  Axes out;
  for (size_t i = 0; i < in.size(); ++i) {
    if (!drop[i]) out.push_back(in[i]);
  }
  return out;
}

absl::StatusOr<Axes> UnsqueezeAxes(const Axes& in, const std::vector<int64_t>& axes) {
  const int64_t rank = in.size() + axes.size();
  std::vector<bool> inserted(rank, false);
  for (int64_t a : axes) {
    RNN_ASSIGN_OR_RETURN(const int i, NormalizeAxis(a, rank));
    if (inserted[i]) return absl::InvalidArgumentError("repeats an axis");
    inserted[i] = true;
  }
  Axes out;
  size_t next = 0;
  for (int64_t i = 0; i < rank; ++i) out.push_back(inserted[i] ? Axis::Unit() : in[next++]);
  return out;
}

absl::StatusOr<Axes> TransposeAxes(const Axes& in, const std::vector<int64_t>& perm) {
  if (perm.empty()) return Axes(in.rbegin(), in.rend());
  std::vector<int64_t> sorted = perm;
  std::sort(sorted.begin(), sorted.end());
  for (size_t i = 0; i < sorted.size(); ++i) {
    if (sorted[i] != static_cast<int64_t>(i) || sorted.size() != in.size()) {
      return absl::InvalidArgumentError(absl::StrCat("perm is not a permutation of ", in.size(),
                                                     " axes"));
    }
  }
  Axes out;
  for (int64_t p : perm) out.push_back(in[p]);
  return out;
}

absl::StatusOr<Axes> ReshapeAxes(const Axes& in, const std::vector<int64_t>& shape,
                                 bool allow_zero) {
  // Non-unit input axes, consumed left to right by the non-unit targets.
  const Axes source = NonUnit(in);
  size_t next = 0;
  Axes out;
  for (size_t i = 0; i < shape.size(); ++i) {
    int64_t target = shape[i];
    if (target == 0 && !allow_zero) {
      if (i >= in.size()) return absl::InvalidArgumentError("copies an axis that does not exist");
      out.push_back(in[i]);
      if (in[i].kind != AxisKind::kUnit) {
        if (next >= source.size() || !(source[next] == in[i])) {
          return absl::InvalidArgumentError("reorders axes");
        }
        ++next;
      }
      continue;
    }
    if (target == 1) {
      out.push_back(Axis::Unit());
      continue;
    }
    if (target < -1 || target == 0) return absl::InvalidArgumentError("has an empty dimension");
    // -1 takes everything left unless later targets need some; sizes take
    // just enough axes to multiply to them.
    Axes run;
    const bool rest = target == -1;
    const bool last_target =
        std::none_of(shape.begin() + i + 1, shape.end(), [](int64_t d) { return d != 1; });
    while (next < source.size()) {
      run.push_back(source[next++]);
      if (!rest && run.size() == 2) break;
      if (!rest && run.back().size == target) break;
      if (rest && !last_target) break;
    }
    if (run.empty()) {
      out.push_back(Axis::Unit());
      continue;
    }
    RNN_ASSIGN_OR_RETURN(Axis merged, Merge(run, target));
    out.push_back(merged);
  }
  if (next != source.size()) {
    return absl::InvalidArgumentError(
        absl::StrCat("reshapes ", AxesToString(in), " in a way that loses or mixes axes"));
  }
  return out;
}

}  // namespace rnnserve::model
