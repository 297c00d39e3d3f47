// FlagSet: command-line flags that can also come from the environment.
//
// Flags are spelled `--name=value` or `--name value` (booleans: `--name`,
// `--name=false`). Each flag NAME may also be set by the environment
// variable PREFIX_NAME (upper case, dashes as underscores); the command line
// wins. A repeatable flag accumulates, environment values first; there its
// values are separated by ';'.
//
//   FlagSet flags("feed-ingest", "FEED_INGEST_");
//   flags.String("listen", &options.listen, "gRPC address");
//   if (auto s = flags.Parse(argc, argv, environ); !s.ok()) Die(s);
//   if (flags.help()) Print(flags.Usage());
//
// Not thread-safe; used once, at start-up.
#ifndef FEED_INGEST_SERVER_COMMON_FLAG_SET_H_
#define FEED_INGEST_SERVER_COMMON_FLAG_SET_H_

#include <cstdint>
#include <functional>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace feed_ingest {

namespace flag_set_internal {
template <typename T>
struct Identity {
  using type = T;
};
}  // namespace flag_set_internal

class FlagSet {
 public:
  FlagSet(std::string program, std::string env_prefix);

  void String(std::string name, std::string* value, std::string help);
  void Bool(std::string name, bool* value, std::string help);
  // An integer of any width, between `min` and `max` (both within T).
  // (The bounds are not deduced, so plain literals fit whatever T is.)
  template <typename T>
  void Int(std::string name, T* value, std::string help,
           typename flag_set_internal::Identity<T>::type min,
           typename flag_set_internal::Identity<T>::type max) {
    static_assert(std::is_integral_v<T> && !std::is_same_v<T, bool>, "an integer type");
    AddInt(std::move(name), std::move(help), static_cast<int64_t>(*value),
           static_cast<int64_t>(min), static_cast<int64_t>(max),
           [value](int64_t parsed) { *value = static_cast<T>(parsed); });
  }
  void Duration(std::string name, absl::Duration* value, std::string help);
  // A size in bytes: plain (268435456) or with a unit, KiB, MiB or GiB
  // (256MiB). At least `min`.
  void Bytes(std::string name, int64_t* value, std::string help, int64_t min = 0);
  // Comma-separated list; replaces the default.
  void List(std::string name, std::vector<std::string>* value, std::string help);
  // May be given many times; each value is appended.
  void Repeated(std::string name, std::vector<std::string>* value, std::string help);

  // Applies the environment (`envp`, null-terminated; may be null), then
  // `argv[1..]`. Arguments that are not flags go to `positional`, in order;
  // `--` ends the flags. INVALID_ARGUMENT names the flag and what is wrong.
  absl::Status Parse(int argc, char** argv, char** envp, std::vector<std::string>* positional);

  bool help() const { return help_; }
  std::string Usage() const;

 private:
  void AddInt(std::string name, std::string help, int64_t initial, int64_t min, int64_t max,
              std::function<void(int64_t)> store);

  struct Flag {
    std::string name;
    std::string help;
    std::string default_text;
    bool is_bool = false;
    bool repeated = false;
    std::function<absl::Status(absl::string_view)> set;
  };

  Flag* Find(absl::string_view name);
  std::string EnvName(const Flag& flag) const;

  std::string program_;
  std::string env_prefix_;
  std::vector<Flag> flags_;
  bool help_ = false;
};

// "256MiB", "512KiB", "1GiB", "1048576": bytes. False when `text` is not
// such a size or overflows.
bool ParseBytes(absl::string_view text, int64_t* bytes);
// The shortest exact spelling ParseBytes() reads back: "256MiB", "1000".
std::string FormatBytes(int64_t bytes);

// Splits `key=value`; INVALID_ARGUMENT when there is no '=' or no key.
absl::Status SplitKeyValue(absl::string_view text, std::string* key, std::string* value);

}  // namespace feed_ingest

#endif  // FEED_INGEST_SERVER_COMMON_FLAG_SET_H_
