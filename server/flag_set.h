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
#ifndef FEED_INGEST_SERVER_FLAG_SET_H_
#define FEED_INGEST_SERVER_FLAG_SET_H_

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace feed_ingest {

class FlagSet {
 public:
  FlagSet(std::string program, std::string env_prefix);

  void String(std::string name, std::string* value, std::string help);
  void Bool(std::string name, bool* value, std::string help);
  void Int(std::string name, int64_t* value, std::string help, int64_t min, int64_t max);
  void Duration(std::string name, absl::Duration* value, std::string help);
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

// Splits `key=value`; INVALID_ARGUMENT when there is no '=' or no key.
absl::Status SplitKeyValue(absl::string_view text, std::string* key, std::string* value);

}  // namespace feed_ingest

#endif  // FEED_INGEST_SERVER_FLAG_SET_H_
