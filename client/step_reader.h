// The input of `stream`: steps one at a time, from a CSV file, stdin or a
// .npy file, checked against the model (kind, width, vocabulary) so a bad
// input is refused locally with its line (or row) named. Stdin is read
// lazily, a line as it arrives, so a step can be answered before the next is
// typed. Not thread-safe.
#ifndef RNNSERVE_CLIENT_STEP_READER_H_
#define RNNSERVE_CLIENT_STEP_READER_H_

#include <cstdint>
#include <istream>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "rnnserve/v1/models.pb.h"

namespace rnnserve::client {

// One step: input_size floats, or one token id.
struct InputStep {
  std::vector<float> floats;
  int64_t token = 0;
};

class StepReader {
 public:
  // "-" is CSV on stdin, a path ending in ".npy" a NumPy array ([T, input_size],
  // or [T] for one feature or token ids, [T, 1] for token ids), any other
  // path CSV. CSV: one step per line, input_size numbers separated by commas
  // or blanks (token models: one integer id); blank lines and lines starting
  // with '#' are skipped. NOT_FOUND if the file cannot be opened,
  // INVALID_ARGUMENT for a .npy that does not fit the model.
  static absl::StatusOr<std::unique_ptr<StepReader>> Open(const std::string& path,
                                                          const v1::ModelInfo& model);
  // Reads CSV from `in` (not owned; outlives the reader); `name` is used in
  // messages.
  static std::unique_ptr<StepReader> FromStream(std::istream* in, std::string name,
                                                const v1::ModelInfo& model);

  // The next step into `step`: true, or false at the end of the input.
  // INVALID_ARGUMENT naming the line for a line that does not fit the model.
  absl::StatusOr<bool> Next(InputStep& step);

 private:
  StepReader(std::string name, const v1::ModelInfo& model)
      : name_(std::move(name)), model_(model) {}
  absl::Status ParseLine(const std::string& line, InputStep& step) const;

  std::string name_;
  v1::ModelInfo model_;
  std::unique_ptr<std::istream> owned_;  // an opened CSV file
  std::istream* in_ = nullptr;           // CSV source, or null for .npy
  int64_t line_number_ = 0;
  std::vector<InputStep> loaded_;  // all steps of a .npy
  size_t next_loaded_ = 0;
};

// Checks `value` against the model's vocabulary; `where` names the place.
absl::Status CheckToken(int64_t value, const v1::ModelInfo& model, const std::string& where);

}  // namespace rnnserve::client

#endif  // RNNSERVE_CLIENT_STEP_READER_H_
