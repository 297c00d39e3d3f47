// Test support: a process environment held in a map, and a temporary
// directory for credential and token files.
#ifndef FEED_INGEST_TESTS_MSK_TEST_ENVIRONMENT_H_
#define FEED_INGEST_TESTS_MSK_TEST_ENVIRONMENT_H_

#include <map>
#include <string>

#include "msk/aws_credentials.h"

namespace feed_ingest::msk::testing {

// Reads `variables` instead of the process environment.
EnvironmentReader MapEnvironment(std::map<std::string, std::string> variables);

// A fresh directory under the test's temporary directory, removed with
// everything in it when the object goes.
//
//   TempDir dir;
//   const std::string path = dir.Write(".aws/credentials", "[default]\n...");
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }
  // Writes `content` to path()/relative (parent directories made as needed)
  // and returns the full path.
  std::string Write(const std::string& relative, const std::string& content) const;

 private:
  std::string path_;
};

}  // namespace feed_ingest::msk::testing

#endif  // FEED_INGEST_TESTS_MSK_TEST_ENVIRONMENT_H_
