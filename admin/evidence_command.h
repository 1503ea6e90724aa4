// `custosctl evidence`: writes the evidence bundle of one record
// (server/services/evidence_bundle.h, docs/formats/evidence-bundle.md) from
// a data directory, offline or beside a running server (it only reads).
// Like `custosctl export`, the operator reads with filesystem rights: the
// bundle holds every live original and its making is not logged.
#pragma once

#include <string>
#include <vector>

namespace custos::admin {

// custosctl evidence RECORD --data DIR --out FILE
// Exit 0 written, 2 could not run (an unknown record included).
int RunEvidence(const std::vector<std::string>& args);

}  // namespace custos::admin
