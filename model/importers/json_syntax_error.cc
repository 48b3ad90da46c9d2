#include "model/importers/json_syntax_error.h"

#include "nlohmann/json.hpp"

namespace rnnserve::model {
namespace {

using json = nlohmann::json;

// Collects nlohmann's description of a syntax error without exceptions.
class SyntaxErrorSax : public nlohmann::json_sax<json> {
 public:
  bool null() override { return true; }
  bool boolean(bool) override { return true; }
  bool number_integer(number_integer_t) override { return true; }
  bool number_unsigned(number_unsigned_t) override { return true; }
  bool number_float(number_float_t, const string_t&) override { return true; }
  bool string(string_t&) override { return true; }
  bool binary(binary_t&) override { return true; }
  bool start_object(std::size_t) override { return true; }
  bool key(string_t&) override { return true; }
  bool end_object() override { return true; }
  bool start_array(std::size_t) override { return true; }
  bool end_array() override { return true; }
  bool parse_error(std::size_t, const std::string&, const json::exception& ex) override {
    error_ = ex.what();
    return false;
  }
  const std::string& error() const { return error_; }

 private:
  std::string error_;
};

}  // namespace

std::string JsonSyntaxError(absl::string_view text) {
  SyntaxErrorSax sax;
  json::sax_parse(text.data(), text.data() + text.size(), &sax);
  std::string error = sax.error();
  // Drop nlohmann's "[json.exception.parse_error.101] " tag.
  if (size_t tag_end = error.find("] "); tag_end != std::string::npos) {
    error = error.substr(tag_end + 2);
  }
  if (error.size() > 200) error = error.substr(0, 197) + "...";
  return error.empty() ? "unknown syntax error" : error;
}

}  // namespace rnnserve::model
