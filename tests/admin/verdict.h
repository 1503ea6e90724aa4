// What custosctl verify and verify-package report with --json, parsed for
// the admin suites: exit code, clean flag, findings and counts.
//
// Thread safety: stateless functions over plain values.
#pragma once

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>

#include <cstdint>
#include <string>
#include <vector>

#include "tests/testutil/process.h"

namespace custos::testing {

// One finding: what it is about (verify's "object", verify-package's
// "file"), the problem, and verify's stable code ("" for verify-package).
struct Finding {
  std::string object;
  std::string problem;
  std::string code;
};

struct Verdict {
  int exit_code = -1;
  bool clean = false;
  std::vector<Finding> findings;
  Poco::JSON::Object::Ptr counts;
  std::string output;  // stdout and stderr, for failure messages
};

// Runs `argv` (custosctl verify or verify-package with --json) and parses
// what it printed; a finding's object is its member `object_key`. Output
// that is not JSON (e.g. "could not run") leaves clean false and no
// findings: the exit code and output tell.
inline Verdict RunVerdict(const std::vector<std::string>& argv, const std::string& object_key) {
  RunResult r = RunProgram(argv);
  Verdict v;
  v.exit_code = r.exit_code;
  v.output = r.out + r.err;
  try {
    Poco::JSON::Parser parser;
    auto o = parser.parse(r.out).extract<Poco::JSON::Object::Ptr>();
    v.clean = o->getValue<bool>("clean");
    v.counts = o->getObject("counts");
    auto findings = o->getArray("findings");
    for (size_t i = 0; findings && i < findings->size(); ++i) {
      auto f = findings->getObject(static_cast<unsigned>(i));
      v.findings.push_back({f->getValue<std::string>(object_key),
                            f->getValue<std::string>("problem"),
                            f->has("code") ? f->getValue<std::string>("code") : ""});
    }
  } catch (const Poco::Exception&) {
  } catch (const std::exception&) {
  }
  return v;
}

// Exit code and output, for failure messages.
inline std::string Dump(const Verdict& v) {
  return "exit " + std::to_string(v.exit_code) + "\n" + v.output;
}

// Count `key` of the verdict, or UINT64_MAX when it is not there.
inline uint64_t Count(const Verdict& v, const std::string& key) {
  return v.counts && v.counts->has(key) ? v.counts->getValue<uint64_t>(key) : UINT64_MAX;
}

}  // namespace custos::testing
