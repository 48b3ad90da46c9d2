#include "client/vocabulary.h"

#include "absl/strings/str_cat.h"
#include "client/model_info.h"
#include "nlohmann/json.hpp"
#include "util/file.h"

namespace rnnserve::client {
namespace {

// The number of bytes of the UTF-8 character starting with `lead`.
int Utf8Length(unsigned char lead) {
  if (lead < 0x80) return 1;
  if ((lead >> 5) == 0x6) return 2;
  if ((lead >> 4) == 0xe) return 3;
  if ((lead >> 3) == 0x1e) return 4;
  return 1;
}

}  // namespace

std::vector<std::string> SplitUtf8(absl::string_view text) {
  std::vector<std::string> out;
  for (size_t i = 0; i < text.size();) {
    size_t n = Utf8Length(static_cast<unsigned char>(text[i]));
    if (i + n > text.size()) n = 1;
    out.emplace_back(text.substr(i, n));
    i += n;
  }
  return out;
}

Vocabulary::Vocabulary(std::vector<std::string> tokens, int64_t unknown_id)
    : tokens_(std::move(tokens)), unknown_id_(unknown_id) {
  if (unknown_id_ >= static_cast<int64_t>(tokens_.size())) tokens_.resize(unknown_id_ + 1);
  for (int64_t id = 0; id < static_cast<int64_t>(tokens_.size()); ++id) {
    if (id != unknown_id_ && !tokens_[id].empty()) ids_.emplace(tokens_[id], id);
  }
}

Vocabulary Vocabulary::Demo() {
  std::vector<std::string> tokens = {"\t", "\n"};
  for (char c = 0x20; c < 0x7f; ++c) tokens.emplace_back(1, c);
  const int64_t unknown = static_cast<int64_t>(tokens.size());  // 97
  return Vocabulary(std::move(tokens), unknown);
}

absl::StatusOr<Vocabulary> Vocabulary::Load(const std::string& path) {
  absl::StatusOr<std::string> text = util::ReadFileToString(path);
  if (!text.ok()) {
    return absl::Status(text.status().code(), absl::StrCat("--vocab: ", text.status().message()));
  }
  const nlohmann::json json = nlohmann::json::parse(*text, nullptr, /*allow_exceptions=*/false);
  auto bad = [&](absl::string_view why) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--vocab ", path, ": ", why,
        "; want a model's config.json with metadata.vocabulary, "
        "{\"vocabulary\": \"...\", \"unknown_id\": N}, or a JSON list of token strings"));
  };
  if (json.is_discarded()) return bad("not JSON");
  std::vector<std::string> tokens;
  const nlohmann::json* holder = &json;
  if (json.is_object() && json.contains("metadata") && json["metadata"].is_object()) {
    holder = &json["metadata"];
  }
  if (holder->is_array()) {
    for (const nlohmann::json& token : *holder) {
      if (!token.is_string()) return bad("a list entry is not a string");
      tokens.push_back(token.get<std::string>());
    }
  } else if (holder->is_object() && holder->contains("vocabulary") &&
             (*holder)["vocabulary"].is_string()) {
    tokens = SplitUtf8((*holder)["vocabulary"].get<std::string>());
  } else {
    return bad("no vocabulary string or list found");
  }
  int64_t unknown = static_cast<int64_t>(tokens.size());
  if (holder->is_object() && holder->contains("unknown_id")) {
    const nlohmann::json& id = (*holder)["unknown_id"];
    if (!id.is_number_integer() || id.get<int64_t>() < 0) {
      return bad("unknown_id is not a non-negative integer");
    }
    unknown = id.get<int64_t>();
  }
  return Vocabulary(std::move(tokens), unknown);
}

int64_t Vocabulary::size() const { return static_cast<int64_t>(tokens_.size()); }

std::vector<int64_t> Vocabulary::Encode(absl::string_view text) const {
  std::vector<int64_t> ids;
  for (const std::string& c : SplitUtf8(text)) {
    const auto it = ids_.find(c);
    ids.push_back(it == ids_.end() ? unknown_id_ : it->second);
  }
  return ids;
}

std::optional<std::string> Vocabulary::Decode(int64_t id) const {
  if (id < 0 || id >= size() || id == unknown_id_) return std::nullopt;
  return tokens_[id];
}

absl::Status Vocabulary::CheckFits(const v1::ModelInfo& model) const {
  if (!TakesTokens(model)) {
    return absl::InvalidArgumentError(absl::StrCat("model ", model.model().name(),
                                                   " takes floats, not token ids: generate needs a "
                                                   "character model such as charlm"));
  }
  if (model.vocabulary_size() != size() || model.output_size() != size()) {
    return absl::InvalidArgumentError(
        absl::StrCat("the vocabulary has ", size(), " tokens but model ", model.model().name(),
                     " takes ", model.vocabulary_size(), " and outputs ", model.output_size(),
                     " scores: pass the model's vocabulary with --vocab (its config.json)"));
  }
  return absl::OkStatus();
}

}  // namespace rnnserve::client
