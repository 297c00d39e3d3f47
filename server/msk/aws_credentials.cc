#include "msk/aws_credentials.h"

#include <cstdlib>
#include <optional>
#include <string>

namespace feed_ingest::msk {

EnvironmentReader ProcessEnvironment() {
  return [](const std::string& name) -> std::optional<std::string> {
    const char* value = std::getenv(name.c_str());
    if (value == nullptr) return std::nullopt;
    return std::string(value);
  };
}

}  // namespace feed_ingest::msk
