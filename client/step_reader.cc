#include "client/step_reader.h"

#include <cmath>
#include <fstream>
#include <iostream>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "client/model_info.h"
#include "util/npy.h"
#include "util/status_macros.h"

namespace rnnserve::client {
namespace {

// Splits at commas and blanks alike, so "1,2", "1, 2" and "1 2" all work.
std::vector<absl::string_view> Fields(absl::string_view line) {
  return absl::StrSplit(line, absl::ByAnyChar(", \t\r"), absl::SkipEmpty());
}

absl::StatusOr<std::vector<InputStep>> StepsOfNpy(const util::NpyArray& array,
                                                  const std::string& name,
                                                  const v1::ModelInfo& model) {
  const std::string shape = absl::StrCat("[", absl::StrJoin(array.shape, ", "), "]");
  std::vector<InputStep> steps;
  if (TakesTokens(model)) {
    const bool fits = array.shape.size() == 1 || (array.shape.size() == 2 && array.shape[1] == 1);
    if (!fits) {
      return absl::InvalidArgumentError(absl::StrCat(name, ": shape ", shape,
                                                     ", want [T] or [T, 1] token ids for model ",
                                                     model.model().name()));
    }
    steps.resize(array.shape[0]);
    for (int64_t t = 0; t < array.shape[0]; ++t) {
      int64_t id;
      if (array.kind == util::NpyArray::Kind::kInteger) {
        id = array.integers[t];
      } else if (std::floor(array.floats[t]) == array.floats[t] &&
                 std::fabs(array.floats[t]) < 1e15) {
        id = static_cast<int64_t>(array.floats[t]);
      } else {
        return absl::InvalidArgumentError(
            absl::StrCat(name, ": row ", t, " is ", array.floats[t], ", not a token id"));
      }
      RNN_RETURN_IF_ERROR(CheckToken(id, model, absl::StrCat(name, ": row ", t)));
      steps[t].token = id;
    }
    return steps;
  }
  const int64_t width = model.input_size();
  const bool fits = (array.shape.size() == 2 && array.shape[1] == width) ||
                    (array.shape.size() == 1 && width == 1);
  if (!fits) {
    return absl::InvalidArgumentError(absl::StrCat(name, ": shape ", shape, ", want [T, ", width,
                                                   "] floats for model ", model.model().name(),
                                                   width == 1 ? " (or [T])" : ""));
  }
  steps.resize(array.shape[0]);
  for (int64_t t = 0; t < array.shape[0]; ++t) {
    steps[t].floats.resize(width);
    for (int64_t i = 0; i < width; ++i) {
      const double v = array.kind == util::NpyArray::Kind::kInteger
                           ? static_cast<double>(array.integers[t * width + i])
                           : array.floats[t * width + i];
      if (!std::isfinite(v)) {
        return absl::InvalidArgumentError(
            absl::StrCat(name, ": row ", t, " column ", i, " is ", v, ", not a finite number"));
      }
      steps[t].floats[i] = static_cast<float>(v);
    }
  }
  return steps;
}

}  // namespace

absl::Status CheckToken(int64_t value, const v1::ModelInfo& model, const std::string& where) {
  if (value >= 0 && value < model.vocabulary_size()) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat(where, ": token id ", value, " is outside [0, ",
                                                 model.vocabulary_size(), ") of model ",
                                                 model.model().name()));
}

absl::StatusOr<std::unique_ptr<StepReader>> StepReader::Open(const std::string& path,
                                                             const v1::ModelInfo& model) {
  if (path == "-") return FromStream(&std::cin, "stdin", model);
  if (absl::EndsWithIgnoreCase(path, ".npy")) {
    RNN_ASSIGN_OR_RETURN(const util::NpyArray array, util::ReadNpy(path));
    std::unique_ptr<StepReader> reader(new StepReader(path, model));
    RNN_ASSIGN_OR_RETURN(reader->loaded_, StepsOfNpy(array, path, model));
    return reader;
  }
  auto file = std::make_unique<std::ifstream>(path);
  if (!*file) return absl::NotFoundError(absl::StrCat("cannot open ", path));
  std::unique_ptr<StepReader> reader = FromStream(file.get(), path, model);
  reader->owned_ = std::move(file);
  return reader;
}

std::unique_ptr<StepReader> StepReader::FromStream(std::istream* in, std::string name,
                                                   const v1::ModelInfo& model) {
  std::unique_ptr<StepReader> reader(new StepReader(std::move(name), model));
  reader->in_ = in;
  return reader;
}

absl::Status StepReader::ParseLine(const std::string& line, InputStep& step) const {
  const std::string where = absl::StrCat(name_, ":", line_number_);
  const std::vector<absl::string_view> fields = Fields(line);
  if (TakesTokens(model_)) {
    if (fields.size() != 1 || !absl::SimpleAtoi(fields[0], &step.token)) {
      return absl::InvalidArgumentError(
          absl::StrCat(where, ": \"", line, "\" is not one integer token id (model ",
                       model_.model().name(), " takes one token id per step)"));
    }
    return CheckToken(step.token, model_, where);
  }
  const size_t width = static_cast<size_t>(model_.input_size());
  if (fields.size() != width) {
    return absl::InvalidArgumentError(absl::StrCat(where, ": ", fields.size(), " values, want ",
                                                   width, " (model ", model_.model().name(),
                                                   " takes ", width, " floats per step)"));
  }
  step.floats.resize(width);
  for (size_t i = 0; i < width; ++i) {
    double v;
    if (!absl::SimpleAtod(fields[i], &v) || !std::isfinite(v)) {
      return absl::InvalidArgumentError(
          absl::StrCat(where, ": value ", i + 1, " \"", fields[i], "\" is not a finite number"));
    }
    step.floats[i] = static_cast<float>(v);
  }
  return absl::OkStatus();
}

absl::StatusOr<bool> StepReader::Next(InputStep& step) {
  if (in_ == nullptr) {
    if (next_loaded_ >= loaded_.size()) return false;
    step = loaded_[next_loaded_++];
    return true;
  }
  std::string line;
  while (std::getline(*in_, line)) {
    ++line_number_;
    const absl::string_view text = absl::StripAsciiWhitespace(line);
    if (text.empty() || text[0] == '#') continue;
    RNN_RETURN_IF_ERROR(ParseLine(std::string(text), step));
    return true;
  }
  if (in_->bad()) return absl::DataLossError(absl::StrCat("cannot read ", name_));
  return false;
}

}  // namespace rnnserve::client
