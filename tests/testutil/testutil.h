// Helpers shared by every test suite: where the conformance vectors and the
// built programs are, and scratch directories that clean up after themselves.
#pragma once

#include <string>

namespace custos::testing {

// The shared/testdata folder (DESIGN §5), e.g. ".../shared/testdata".
std::string TestdataDir();
// The folder holding custosd and custosctl.
std::string BinDir();
// The project's source folder.
std::string SourceDir();

// Reads a whole file; fails the current test (and returns "") if unreadable.
std::string ReadFileOrDie(const std::string& path);
// Writes a whole file (mode 0600).
void WriteFile(const std::string& path, const std::string& content);

// A fresh directory under $TMPDIR (or /tmp), removed with its contents when
// the object is destroyed.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }
  // path() + "/" + name
  std::string Sub(const std::string& name) const;

 private:
  std::string path_;
};

}  // namespace custos::testing
