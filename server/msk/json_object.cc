#include "msk/json_object.h"

#include <cstdint>
#include <map>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

namespace feed_ingest::msk::internal {
namespace {

constexpr int kMaxDepth = 64;

class Reader {
 public:
  explicit Reader(absl::string_view text) : text_(text) {}

  absl::StatusOr<std::map<std::string, std::string>> ReadTopObject() {
    std::map<std::string, std::string> members;
    SkipSpace();
    if (!Consume('{')) return Error("'{'");
    SkipSpace();
    if (!Consume('}')) {
      while (true) {
        SkipSpace();
        std::string name;
        if (absl::Status s = ReadString(&name); !s.ok()) return s;
        SkipSpace();
        if (!Consume(':')) return Error("':'");
        SkipSpace();
        std::optional<std::string> value;
        if (absl::Status s = ReadValue(0, &value); !s.ok()) return s;
        if (value.has_value()) members[std::move(name)] = std::move(*value);
        SkipSpace();
        if (Consume(',')) continue;
        if (Consume('}')) break;
        return Error("',' or '}'");
      }
    }
    SkipSpace();
    if (pos_ != text_.size()) return Error("the end of the input");
    return members;
  }

 private:
  absl::Status Error(absl::string_view expected) const {
    return absl::InvalidArgumentError(
        absl::StrCat("malformed JSON at byte ", pos_, ": expected ", expected));
  }

  bool AtEnd() const { return pos_ >= text_.size(); }
  char Peek() const { return text_[pos_]; }

  bool Consume(char c) {
    if (AtEnd() || Peek() != c) return false;
    ++pos_;
    return true;
  }

  bool ConsumeWord(absl::string_view word) {
    if (text_.substr(pos_, word.size()) != word) return false;
    pos_ += word.size();
    return true;
  }

  void SkipSpace() {
    while (!AtEnd() && (Peek() == ' ' || Peek() == '\t' || Peek() == '\n' || Peek() == '\r')) {
      ++pos_;
    }
  }

  // A scalar's text goes to *scalar; objects and arrays are skipped and leave
  // it empty.
  absl::Status ReadValue(int depth, std::optional<std::string>* scalar) {
    if (depth > kMaxDepth) return Error("less nesting");
    if (AtEnd()) return Error("a value");
    const char c = Peek();
    if (c == '"') {
      std::string value;
      if (absl::Status s = ReadString(&value); !s.ok()) return s;
      *scalar = std::move(value);
      return absl::OkStatus();
    }
    if (c == '{' || c == '[') return SkipContainer(depth);
    for (absl::string_view word : {"true", "false", "null"}) {
      if (ConsumeWord(word)) {
        *scalar = std::string(word);
        return absl::OkStatus();
      }
    }
    return ReadNumber(scalar);
  }

  // RFC 8259 number grammar.
  absl::Status ReadNumber(std::optional<std::string>* scalar) {
    const size_t start = pos_;
    auto digits = [this] {
      const size_t from = pos_;
      while (!AtEnd() && Peek() >= '0' && Peek() <= '9') ++pos_;
      return pos_ > from;
    };
    Consume('-');
    if (Consume('0')) {
      // No leading zeros.
    } else if (!digits()) {
      pos_ = start;
      return Error("a value");
    }
    if (Consume('.') && !digits()) return Error("a digit");
    if (Consume('e') || Consume('E')) {
      if (!Consume('+')) Consume('-');
      if (!digits()) return Error("a digit");
    }
    *scalar = std::string(text_.substr(start, pos_ - start));
    return absl::OkStatus();
  }

  absl::Status SkipContainer(int depth) {
    const char close = Peek() == '{' ? '}' : ']';
    ++pos_;
    SkipSpace();
    if (Consume(close)) return absl::OkStatus();
    while (true) {
      SkipSpace();
      if (close == '}') {
        std::string ignored;
        if (absl::Status s = ReadString(&ignored); !s.ok()) return s;
        SkipSpace();
        if (!Consume(':')) return Error("':'");
        SkipSpace();
      }
      std::optional<std::string> ignored_value;
      if (absl::Status s = ReadValue(depth + 1, &ignored_value); !s.ok()) return s;
      SkipSpace();
      if (Consume(',')) continue;
      if (Consume(close)) return absl::OkStatus();
      return Error(close == '}' ? "',' or '}'" : "',' or ']'");
    }
  }

  absl::Status ReadHex4(uint32_t* value) {
    *value = 0;
    for (int i = 0; i < 4; ++i) {
      if (AtEnd()) return Error("4 hex digits");
      const char c = Peek();
      uint32_t digit;
      if (c >= '0' && c <= '9') {
        digit = c - '0';
      } else if (c >= 'a' && c <= 'f') {
        digit = c - 'a' + 10;
      } else if (c >= 'A' && c <= 'F') {
        digit = c - 'A' + 10;
      } else {
        return Error("4 hex digits");
      }
      *value = *value * 16 + digit;
      ++pos_;
    }
    return absl::OkStatus();
  }

  static void AppendUtf8(uint32_t code_point, std::string* out) {
    if (code_point < 0x80) {
      out->push_back(static_cast<char>(code_point));
    } else if (code_point < 0x800) {
      out->push_back(static_cast<char>(0xC0 | (code_point >> 6)));
      out->push_back(static_cast<char>(0x80 | (code_point & 0x3F)));
    } else if (code_point < 0x10000) {
      out->push_back(static_cast<char>(0xE0 | (code_point >> 12)));
      out->push_back(static_cast<char>(0x80 | ((code_point >> 6) & 0x3F)));
      out->push_back(static_cast<char>(0x80 | (code_point & 0x3F)));
    } else {
      out->push_back(static_cast<char>(0xF0 | (code_point >> 18)));
      out->push_back(static_cast<char>(0x80 | ((code_point >> 12) & 0x3F)));
      out->push_back(static_cast<char>(0x80 | ((code_point >> 6) & 0x3F)));
      out->push_back(static_cast<char>(0x80 | (code_point & 0x3F)));
    }
  }

  absl::Status ReadString(std::string* out) {
    if (!Consume('"')) return Error("a string");
    while (true) {
      if (AtEnd()) return Error("'\"'");
      const char c = text_[pos_++];
      if (c == '"') return absl::OkStatus();
      if (static_cast<unsigned char>(c) < 0x20) {
        --pos_;
        return Error("no control character in a string");
      }
      if (c != '\\') {
        out->push_back(c);
        continue;
      }
      if (AtEnd()) return Error("an escape");
      const char e = text_[pos_++];
      switch (e) {
        case '"':
        case '\\':
        case '/':
          out->push_back(e);
          break;
        case 'b':
          out->push_back('\b');
          break;
        case 'f':
          out->push_back('\f');
          break;
        case 'n':
          out->push_back('\n');
          break;
        case 'r':
          out->push_back('\r');
          break;
        case 't':
          out->push_back('\t');
          break;
        case 'u': {
          uint32_t unit;
          if (absl::Status s = ReadHex4(&unit); !s.ok()) return s;
          if (unit >= 0xD800 && unit <= 0xDBFF) {
            uint32_t low;
            if (!ConsumeWord("\\u")) return Error("a low surrogate");
            if (absl::Status s = ReadHex4(&low); !s.ok()) return s;
            if (low < 0xDC00 || low > 0xDFFF) return Error("a low surrogate");
            unit = 0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00);
          } else if (unit >= 0xDC00 && unit <= 0xDFFF) {
            return Error("a high surrogate first");
          }
          AppendUtf8(unit, out);
          break;
        }
        default:
          --pos_;
          return Error("an escape");
      }
    }
  }

  absl::string_view text_;
  size_t pos_ = 0;
};

}  // namespace

absl::StatusOr<std::map<std::string, std::string>> ParseJsonObject(absl::string_view json) {
  return Reader(json).ReadTopObject();
}

}  // namespace feed_ingest::msk::internal
