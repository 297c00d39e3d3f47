#include "msk/aws_credentials.h"

#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>

namespace feed_ingest::msk {

EnvironmentReader ProcessEnvironment() {
  return [](const std::string& name) -> std::optional<std::string> {
    const char* value = std::getenv(name.c_str());
    if (value == nullptr) return std::nullopt;
    return std::string(value);
  };
}

EnvironmentReader EnvironmentOf(char** envp) {
  return [envp](const std::string& name) -> std::optional<std::string> {
    std::optional<std::string> found;
    for (char** e = envp; e != nullptr && *e != nullptr; ++e) {
      const std::string_view entry(*e);
      if (entry.size() > name.size() && entry[name.size()] == '=' &&
          entry.compare(0, name.size(), name) == 0) {
        found = std::string(entry.substr(name.size() + 1));
      }
    }
    return found;
  };
}

}  // namespace feed_ingest::msk
