// Column-aligned plain-text tables for the human-readable outputs (models,
// model, session describe). Not thread-safe; build, then Print once.
#ifndef RNNSERVE_CLIENT_TEXT_TABLE_H_
#define RNNSERVE_CLIENT_TEXT_TABLE_H_

#include <ostream>
#include <string>
#include <vector>

namespace rnnserve::client {

class TextTable {
 public:
  explicit TextTable(std::vector<std::string> header) { rows_.push_back(std::move(header)); }
  // REQUIRES: as many cells as the header has (fewer are padded).
  void AddRow(std::vector<std::string> cells) { rows_.push_back(std::move(cells)); }
  // Every column padded to its widest cell, two spaces apart; no trailing blanks.
  void Print(std::ostream& out) const;

 private:
  std::vector<std::vector<std::string>> rows_;
};

}  // namespace rnnserve::client

#endif  // RNNSERVE_CLIENT_TEXT_TABLE_H_
