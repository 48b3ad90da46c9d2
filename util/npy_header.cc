#include "util/npy_header.h"

#include <tuple>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "util/status_macros.h"

namespace rnnserve::util {
namespace {

// Deeper nesting than any header NumPy writes; bounds the parser's recursion.
constexpr int kMaxDepth = 16;
// How much of an unparsable header a message quotes.
constexpr size_t kMaxQuoted = 120;

// INVALID_ARGUMENT without the file's name, which ParseNpy() adds.
template <typename... Args>
absl::Status HeaderError(const Args&... args) {
  return absl::InvalidArgumentError(absl::StrCat(args...));
}

// A Python literal from the header: the subset NumPy writes, plus lists so a
// structured dtype is recognised rather than reported as garbage.
struct PyValue {
  enum class Type { kString, kBool, kNone, kInt, kTuple, kList, kDict };
  PyValue() = default;
  explicit PyValue(Type type) : type(type) {}

  Type type = Type::kNone;
  std::string text;               // kString: the value; kInt: the digits.
  bool boolean = false;           // kBool
  std::vector<PyValue> items;     // kTuple, kList; kDict: the values.
  std::vector<std::string> keys;  // kDict
};

absl::string_view TypeName(const PyValue& v) {
  switch (v.type) {
    case PyValue::Type::kString:
      return "a string";
    case PyValue::Type::kBool:
      return "a bool";
    case PyValue::Type::kNone:
      return "None";
    case PyValue::Type::kInt:
      return "an int";
    case PyValue::Type::kTuple:
      return "a tuple";
    case PyValue::Type::kList:
      return "a list";
    case PyValue::Type::kDict:
      return "a dict";
  }
  return "a value";
}

// Recursive descent over the header text. Errors are bare descriptions
// ("expected ':' at offset 9"); the caller adds the source and the header.
class PyLiteralParser {
 public:
  explicit PyLiteralParser(absl::string_view text) : text_(text) {}

  // One value followed by nothing but whitespace.
  absl::StatusOr<PyValue> ParseAll() {
    RNN_ASSIGN_OR_RETURN(PyValue value, ParseValue(0));
    SkipSpace();
    if (pos_ != text_.size()) return Error("end of header");
    return value;
  }

 private:
  absl::Status Error(absl::string_view expected) const {
    std::string found = pos_ < text_.size()
                            ? absl::StrCat("'", Printable(text_.substr(pos_, 1)), "'")
                            : "end of header";
    return absl::InvalidArgumentError(
        absl::StrCat("expected ", expected, " at offset ", pos_, ", found ", found));
  }

  void SkipSpace() {
    while (pos_ < text_.size() && (text_[pos_] == ' ' || text_[pos_] == '\t' ||
                                   text_[pos_] == '\n' || text_[pos_] == '\r')) {
      ++pos_;
    }
  }

  bool Consume(char c) {
    SkipSpace();
    if (pos_ < text_.size() && text_[pos_] == c) {
      ++pos_;
      return true;
    }
    return false;
  }

  absl::StatusOr<PyValue> ParseValue(int depth) {
    if (depth > kMaxDepth) return Error("a value nested less deeply");
    SkipSpace();
    if (pos_ >= text_.size()) return Error("a value");
    const char c = text_[pos_];
    if (c == '\'' || c == '"') return ParseString();
    if (c == '{') return ParseDict(depth);
    if (c == '(') return ParseSequence(')', depth);
    if (c == '[') return ParseSequence(']', depth);
    if (c == '-' || (c >= '0' && c <= '9')) return ParseInt();
    return ParseWord();
  }

  absl::StatusOr<PyValue> ParseString() {
    const char quote = text_[pos_++];
    PyValue value{PyValue::Type::kString};
    while (pos_ < text_.size() && text_[pos_] != quote) {
      if (text_[pos_] == '\\' && pos_ + 1 < text_.size()) ++pos_;
      value.text.push_back(text_[pos_++]);
    }
    if (pos_ >= text_.size()) {
      return Error(absl::StrCat("closing ", std::string(1, quote)));
    }
    ++pos_;
    return value;
  }

  absl::StatusOr<PyValue> ParseInt() {
    PyValue value{PyValue::Type::kInt};
    if (text_[pos_] == '-') value.text.push_back(text_[pos_++]);
    while (pos_ < text_.size() && text_[pos_] >= '0' && text_[pos_] <= '9') {
      value.text.push_back(text_[pos_++]);
    }
    if (value.text.empty() || value.text == "-") return Error("digits");
    // Python 2 wrote longs as 3L.
    if (pos_ < text_.size() && (text_[pos_] == 'L' || text_[pos_] == 'l')) {
      ++pos_;
    }
    return value;
  }

  absl::StatusOr<PyValue> ParseWord() {
    for (auto [word, type, boolean] :
         {std::tuple{absl::string_view("True"), PyValue::Type::kBool, true},
          std::tuple{absl::string_view("False"), PyValue::Type::kBool, false},
          std::tuple{absl::string_view("None"), PyValue::Type::kNone, false}}) {
      if (text_.substr(pos_, word.size()) == word) {
        pos_ += word.size();
        PyValue value{type};
        value.boolean = boolean;
        return value;
      }
    }
    return Error("a string, number, tuple, True, False or None");
  }

  // A tuple or list; "(x)" without a comma is just x, as in Python.
  absl::StatusOr<PyValue> ParseSequence(char close, int depth) {
    ++pos_;
    PyValue value{close == ')' ? PyValue::Type::kTuple : PyValue::Type::kList};
    bool saw_comma = false;
    while (!Consume(close)) {
      if (!value.items.empty() && !saw_comma) {
        return Error(absl::StrCat("',' or '", std::string(1, close), "'"));
      }
      RNN_ASSIGN_OR_RETURN(PyValue item, ParseValue(depth + 1));
      value.items.push_back(std::move(item));
      saw_comma = Consume(',');
    }
    if (close == ')' && value.items.size() == 1 && !saw_comma) {
      return std::move(value.items[0]);
    }
    return value;
  }

  absl::StatusOr<PyValue> ParseDict(int depth) {
    ++pos_;
    PyValue value{PyValue::Type::kDict};
    bool saw_comma = false;
    while (!Consume('}')) {
      if (!value.items.empty() && !saw_comma) return Error("',' or '}'");
      RNN_ASSIGN_OR_RETURN(PyValue key, ParseValue(depth + 1));
      if (key.type != PyValue::Type::kString) {
        return absl::InvalidArgumentError(absl::StrCat("dict key before offset ", pos_, " is ",
                                                       TypeName(key), "; want a string"));
      }
      if (!Consume(':')) return Error("':'");
      RNN_ASSIGN_OR_RETURN(PyValue item, ParseValue(depth + 1));
      value.keys.push_back(std::move(key.text));
      value.items.push_back(std::move(item));
      saw_comma = Consume(',');
    }
    return value;
  }

  absl::string_view text_;
  size_t pos_ = 0;
};

// The dict's three values, each present exactly once.
struct HeaderFields {
  const PyValue* descr = nullptr;
  const PyValue* fortran_order = nullptr;
  const PyValue* shape = nullptr;
};

absl::StatusOr<HeaderFields> FindFields(const PyValue& dict) {
  if (dict.type != PyValue::Type::kDict) {
    return HeaderError("header is ", TypeName(dict), "; want a dict");
  }
  HeaderFields fields;
  for (size_t i = 0; i < dict.keys.size(); ++i) {
    const std::string& key = dict.keys[i];
    const PyValue** slot = key == "descr"           ? &fields.descr
                           : key == "fortran_order" ? &fields.fortran_order
                           : key == "shape"         ? &fields.shape
                                                    : nullptr;
    if (slot == nullptr) {
      return HeaderError("header has unexpected key '", Printable(key),
                         "'; want only 'descr', 'fortran_order' and 'shape'");
    }
    if (*slot != nullptr) {
      return HeaderError("header repeats key '", Printable(key), "'");
    }
    *slot = &dict.items[i];
  }
  for (auto [value, key] :
       {std::pair{fields.descr, "descr"}, std::pair{fields.fortran_order, "fortran_order"},
        std::pair{fields.shape, "shape"}}) {
    if (value == nullptr) return HeaderError("header has no '", key, "'");
  }
  return fields;
}

absl::StatusOr<std::vector<int64_t>> InterpretShape(const PyValue& value) {
  if (value.type != PyValue::Type::kTuple) {
    return HeaderError("'shape' is ", TypeName(value),
                       "; want a tuple of non-negative ints such as (3, 4)");
  }
  std::vector<int64_t> shape;
  for (size_t i = 0; i < value.items.size(); ++i) {
    const PyValue& item = value.items[i];
    if (item.type != PyValue::Type::kInt) {
      return HeaderError("'shape'[", i, "] is ", TypeName(item), "; want a non-negative int");
    }
    int64_t dim = 0;
    if (!absl::SimpleAtoi(item.text, &dim)) {
      return HeaderError("'shape'[", i, "] is ", item.text, "; want at most 2^63 - 1");
    }
    if (dim < 0) {
      return HeaderError("'shape'[", i, "] is ", dim, "; want >= 0");
    }
    shape.push_back(dim);
  }
  return shape;
}

absl::StatusOr<NpyHeader> InterpretHeader(const PyValue& dict) {
  RNN_ASSIGN_OR_RETURN(const HeaderFields fields, FindFields(dict));
  const PyValue& descr = *fields.descr;
  const PyValue& fortran_order = *fields.fortran_order;
  if (descr.type == PyValue::Type::kList) {
    return HeaderError(
        "'descr' is a list of fields (a structured dtype); "
        "want a plain dtype such as '<f4'");
  }
  if (descr.type != PyValue::Type::kString) {
    return HeaderError("'descr' is ", TypeName(descr), "; want a dtype string such as '<f4'");
  }
  if (fortran_order.type != PyValue::Type::kBool) {
    return HeaderError("'fortran_order' is ", TypeName(fortran_order), "; want False");
  }
  if (fortran_order.boolean) {
    return HeaderError(
        "fortran_order is True; want a C-order array "
        "(save np.ascontiguousarray(a))");
  }
  NpyHeader header;
  header.descr = descr.text;
  RNN_ASSIGN_OR_RETURN(header.shape, InterpretShape(*fields.shape));
  return header;
}

}  // namespace

absl::StatusOr<NpyHeader> ParseNpyHeader(absl::string_view text) {
  absl::StatusOr<PyValue> dict = PyLiteralParser(text).ParseAll();
  if (!dict.ok()) {
    std::string shown = Printable(text.substr(0, kMaxQuoted));
    if (text.size() > kMaxQuoted) shown += "...";
    return HeaderError("header is not a Python dict literal (", dict.status().message(), "): \"",
                       shown, "\"");
  }
  return InterpretHeader(*dict);
}

std::string Printable(absl::string_view text) {
  std::string out;
  for (char c : text) {
    if (c >= 0x20 && c < 0x7f) {
      out.push_back(c);
    } else {
      absl::StrAppend(&out, "\\x", absl::Hex(static_cast<uint8_t>(c), absl::kZeroPad2));
    }
  }
  return out;
}

}  // namespace rnnserve::util
