// The text <-> token id mapping of a character-level model, for `generate`.
//
// The server does not send it: ModelService.DescribeModel has only
// vocabulary_size, and the demo charlm keeps its characters in
// models/charlm/1/config.json "metadata" (vocabulary, unknown_id), which the
// server's loader accepts and ignores. So the mapping comes from a --vocab
// file, or by default from what the charlm model card documents. Immutable
// after creation; safe to share.
#ifndef RNNSERVE_CLIENT_VOCABULARY_H_
#define RNNSERVE_CLIENT_VOCABULARY_H_

#include <cstdint>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "rnnserve/v1/models.pb.h"

namespace rnnserve::client {

class Vocabulary {
 public:
  // The demo charlm's (models/charlm/1/MODEL_CARD.md): ids 0..96 are tab,
  // newline and the printable ASCII characters 0x20..0x7E in order, id 97
  // stands for every other character.
  static Vocabulary Demo();
  // From a JSON file: a model's config.json (its metadata.vocabulary and
  // metadata.unknown_id), an object {"vocabulary": ..., "unknown_id": N}, or
  // a list of token strings in id order. A vocabulary string holds one token
  // per UTF-8 character. Without unknown_id, the unknown id is the one after
  // the last token. INVALID_ARGUMENT for anything else, NOT_FOUND when the
  // file cannot be read.
  static absl::StatusOr<Vocabulary> Load(const std::string& path);

  // Token ids, the unknown one included.
  int64_t size() const;
  int64_t unknown_id() const { return unknown_id_; }
  // The ids of `text`, one per UTF-8 character; characters outside the
  // vocabulary become unknown_id().
  std::vector<int64_t> Encode(absl::string_view text) const;
  // The text of `id`; nullopt for the unknown id or one outside the vocabulary.
  std::optional<std::string> Decode(int64_t id) const;
  // INVALID_ARGUMENT unless `model` takes token ids from a vocabulary of this
  // size and outputs one score per token.
  absl::Status CheckFits(const v1::ModelInfo& model) const;

 private:
  Vocabulary(std::vector<std::string> tokens, int64_t unknown_id);

  std::vector<std::string> tokens_;  // by id; unknown_id's entry is empty
  std::unordered_map<std::string, int64_t> ids_;
  int64_t unknown_id_;
};

// `text` cut into UTF-8 characters (a malformed byte stands alone).
std::vector<std::string> SplitUtf8(absl::string_view text);

}  // namespace rnnserve::client

#endif  // RNNSERVE_CLIENT_VOCABULARY_H_
