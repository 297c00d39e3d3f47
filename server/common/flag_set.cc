#include "common/flag_set.h"

#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"

namespace feed_ingest {

FlagSet::FlagSet(std::string program, std::string env_prefix)
    : program_(std::move(program)), env_prefix_(std::move(env_prefix)) {}

void FlagSet::String(std::string name, std::string* value, std::string help) {
  Flag f;
  f.name = std::move(name);
  f.help = std::move(help);
  f.default_text = *value;
  f.set = [value](absl::string_view v) {
    value->assign(v.data(), v.size());
    return absl::OkStatus();
  };
  flags_.push_back(std::move(f));
}

void FlagSet::Bool(std::string name, bool* value, std::string help) {
  Flag f;
  f.name = std::move(name);
  f.help = std::move(help);
  f.default_text = *value ? "true" : "false";
  f.is_bool = true;
  f.set = [value](absl::string_view v) {
    const std::string lower = absl::AsciiStrToLower(v);
    if (lower == "true" || lower == "1" || lower == "yes") {
      *value = true;
    } else if (lower == "false" || lower == "0" || lower == "no") {
      *value = false;
    } else {
      return absl::InvalidArgumentError(absl::StrCat("\"", v, "\" is not true or false"));
    }
    return absl::OkStatus();
  };
  flags_.push_back(std::move(f));
}

void FlagSet::AddInt(std::string name, std::string help, int64_t initial, int64_t min, int64_t max,
                     std::function<void(int64_t)> store) {
  Flag f;
  f.name = std::move(name);
  f.help = std::move(help);
  f.default_text = absl::StrCat(initial);
  f.set = [store = std::move(store), min, max](absl::string_view v) {
    int64_t parsed;
    if (!absl::SimpleAtoi(v, &parsed)) {
      return absl::InvalidArgumentError(absl::StrCat("\"", v, "\" is not an integer"));
    }
    if (parsed < min || parsed > max) {
      return absl::InvalidArgumentError(absl::StrCat(parsed, " is outside ", min, "..", max));
    }
    store(parsed);
    return absl::OkStatus();
  };
  flags_.push_back(std::move(f));
}

bool ParseBytes(absl::string_view text, int64_t* bytes) {
  static constexpr std::pair<absl::string_view, int64_t> kUnits[] = {
      {"GiB", int64_t{1} << 30}, {"MiB", int64_t{1} << 20}, {"KiB", int64_t{1} << 10}};
  int64_t unit = 1;
  for (const auto& [suffix, size] : kUnits) {
    if (absl::EndsWith(text, suffix)) {
      text.remove_suffix(suffix.size());
      unit = size;
      break;
    }
  }
  int64_t n = 0;
  if (text.empty() || !absl::SimpleAtoi(text, &n) || n < 0 || n > INT64_MAX / unit) return false;
  *bytes = n * unit;
  return true;
}

std::string FormatBytes(int64_t bytes) {
  for (const auto& [suffix, size] : {std::pair<const char*, int64_t>{"GiB", int64_t{1} << 30},
                                     {"MiB", int64_t{1} << 20},
                                     {"KiB", int64_t{1} << 10}}) {
    if (bytes != 0 && bytes % size == 0) return absl::StrCat(bytes / size, suffix);
  }
  return absl::StrCat(bytes);
}

void FlagSet::Bytes(std::string name, int64_t* value, std::string help, int64_t min) {
  Flag f;
  f.name = std::move(name);
  f.help = std::move(help);
  f.default_text = FormatBytes(*value);
  f.set = [value, min](absl::string_view v) {
    int64_t parsed = 0;
    if (!ParseBytes(v, &parsed)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "\"", v, "\" is not a size in bytes such as 268435456, 512KiB, 256MiB or 1GiB"));
    }
    if (parsed < min) {
      return absl::InvalidArgumentError(
          absl::StrCat(v, " is less than the least allowed, ", FormatBytes(min)));
    }
    *value = parsed;
    return absl::OkStatus();
  };
  flags_.push_back(std::move(f));
}

void FlagSet::Duration(std::string name, absl::Duration* value, std::string help) {
  Flag f;
  f.name = std::move(name);
  f.help = std::move(help);
  f.default_text = absl::FormatDuration(*value);
  f.set = [value](absl::string_view v) {
    absl::Duration parsed;
    if (!absl::ParseDuration(v, &parsed) || parsed < absl::ZeroDuration()) {
      return absl::InvalidArgumentError(
          absl::StrCat("\"", v, "\" is not a duration such as 30s, 5m or 168h"));
    }
    *value = parsed;
    return absl::OkStatus();
  };
  flags_.push_back(std::move(f));
}

void FlagSet::List(std::string name, std::vector<std::string>* value, std::string help) {
  Flag f;
  f.name = std::move(name);
  f.help = std::move(help);
  f.default_text = absl::StrJoin(*value, ",");
  f.set = [value](absl::string_view v) {
    *value = absl::StrSplit(v, ',', absl::SkipWhitespace());
    for (auto& item : *value) item = std::string(absl::StripAsciiWhitespace(item));
    return absl::OkStatus();
  };
  flags_.push_back(std::move(f));
}

void FlagSet::Repeated(std::string name, std::vector<std::string>* value, std::string help) {
  Flag f;
  f.name = std::move(name);
  f.help = std::move(help);
  f.default_text = "";
  f.repeated = true;
  f.set = [value](absl::string_view v) {
    value->emplace_back(v);
    return absl::OkStatus();
  };
  flags_.push_back(std::move(f));
}

FlagSet::Flag* FlagSet::Find(absl::string_view name) {
  for (Flag& f : flags_) {
    if (f.name == name) return &f;
  }
  return nullptr;
}

std::string FlagSet::EnvName(const Flag& flag) const {
  return absl::StrCat(env_prefix_,
                      absl::AsciiStrToUpper(absl::StrReplaceAll(flag.name, {{"-", "_"}})));
}

absl::Status FlagSet::Parse(int argc, char** argv, char** envp,
                            std::vector<std::string>* positional) {
  for (char** e = envp; e != nullptr && *e != nullptr; ++e) {
    const absl::string_view entry(*e);
    if (!absl::StartsWith(entry, env_prefix_)) continue;
    const size_t eq = entry.find('=');
    if (eq == absl::string_view::npos) continue;
    const absl::string_view key = entry.substr(0, eq);
    const absl::string_view value = entry.substr(eq + 1);
    for (Flag& f : flags_) {
      if (EnvName(f) != key) continue;
      if (f.repeated) {
        for (absl::string_view part : absl::StrSplit(value, ';', absl::SkipWhitespace())) {
          if (absl::Status s = f.set(part); !s.ok()) {
            return absl::InvalidArgumentError(absl::StrCat(key, ": ", s.message()));
          }
        }
      } else if (absl::Status s = f.set(value); !s.ok()) {
        return absl::InvalidArgumentError(absl::StrCat(key, ": ", s.message()));
      }
    }
  }

  bool flags_done = false;
  for (int i = 1; i < argc; ++i) {
    const absl::string_view arg(argv[i]);
    if (flags_done || !absl::StartsWith(arg, "-") || arg == "-") {
      positional->emplace_back(arg);
      continue;
    }
    if (arg == "--") {
      flags_done = true;
      continue;
    }
    absl::string_view body = arg.substr(absl::StartsWith(arg, "--") ? 2 : 1);
    if (body == "help" || body == "h") {
      help_ = true;
      continue;
    }
    absl::string_view name = body;
    absl::string_view value;
    bool has_value = false;
    if (const size_t eq = body.find('='); eq != absl::string_view::npos) {
      name = body.substr(0, eq);
      value = body.substr(eq + 1);
      has_value = true;
    }
    Flag* f = Find(name);
    if (f == nullptr) {
      return absl::InvalidArgumentError(
          absl::StrCat("unknown flag --", name, "; see ", program_, " --help"));
    }
    if (!has_value) {
      if (f->is_bool) {
        value = "true";
      } else if (i + 1 < argc) {
        value = argv[++i];
      } else {
        return absl::InvalidArgumentError(absl::StrCat("--", name, " needs a value"));
      }
    }
    if (absl::Status s = f->set(value); !s.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("--", name, ": ", s.message()));
    }
  }
  return absl::OkStatus();
}

std::string FlagSet::Usage() const {
  std::string out;
  for (const Flag& f : flags_) {
    absl::StrAppend(&out, "  --", f.name, f.is_bool ? "" : "=VALUE", "\n      ", f.help);
    if (!f.default_text.empty()) absl::StrAppend(&out, " (default: ", f.default_text, ")");
    if (f.repeated) absl::StrAppend(&out, " (repeatable)");
    absl::StrAppend(&out, "\n      env: ", EnvName(f), "\n");
  }
  return out;
}

absl::Status SplitKeyValue(absl::string_view text, std::string* key, std::string* value) {
  const size_t eq = text.find('=');
  if (eq == absl::string_view::npos || eq == 0) {
    return absl::InvalidArgumentError(absl::StrCat("\"", text, "\" is not of the form key=value"));
  }
  key->assign(text.data(), eq);
  value->assign(text.data() + eq + 1, text.size() - eq - 1);
  return absl::OkStatus();
}

}  // namespace feed_ingest
