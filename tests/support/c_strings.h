// CStrings: argv- and envp-shaped arrays for tests of code that parses them.
#ifndef FEED_INGEST_TESTS_SUPPORT_C_STRINGS_H_
#define FEED_INGEST_TESTS_SUPPORT_C_STRINGS_H_

#include <initializer_list>
#include <string>
#include <vector>

namespace feed_ingest::testing {

// Owns the strings behind a char* array, null-terminated like argv and envp.
//
//   CStrings argv = {"feed-ingest", "--listen=127.0.0.1:0"};
//   Parse(argv.size(), argv.get());
class CStrings {
 public:
  CStrings(std::initializer_list<std::string> items) : storage_(items) {
    for (std::string& s : storage_) pointers_.push_back(s.data());
    pointers_.push_back(nullptr);
  }
  CStrings(const CStrings&) = delete;
  CStrings& operator=(const CStrings&) = delete;
  int size() const { return static_cast<int>(storage_.size()); }
  char** get() { return pointers_.data(); }

 private:
  std::vector<std::string> storage_;  // pointers_ point into it: never copied or resized.
  std::vector<char*> pointers_;
};

}  // namespace feed_ingest::testing

#endif  // FEED_INGEST_TESTS_SUPPORT_C_STRINGS_H_
