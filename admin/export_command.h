// `custosctl export`: writes an audit package (server/services/audit_package.h)
// from a data directory, offline or beside a running server (it only reads).
#pragma once

#include <string>
#include <vector>

namespace custos::admin {

// custosctl export --data DIR --out FILE [--records ID,ID,…] [--query TEXT]
//   [--type T] [--format tar.gz|zip] [--metadata-only]
// Exit 0 written, 2 could not run.
int RunExport(const std::vector<std::string>& args);

}  // namespace custos::admin
