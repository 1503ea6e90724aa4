// Checks of the signed log that the workload's users share: the archive's
// verifier keys, and a consistency proof between two checkpoints fetched
// from the server and verified in this process (RFC 9162).
//
// Thread safety: stateless functions.
#pragma once

#include <string>
#include <vector>

#include "common/status.h"
#include "crypto/signed_note.h"
#include "tests/workload/client.h"

namespace custos::workload {

// The verifiers of a log key text, one verifier key per line (what
// GET /v1/log/key serves and DATA/keys/log.vkey holds). A line that does not
// parse is left out and named in *errors.
std::vector<crypto::note::KeyVerifier> ParseVerifierKeys(const std::string& text,
                                                         std::vector<std::string>* errors);

// Pointers to `keys`, as crypto::OpenCheckpoint takes them; valid while
// `keys` is.
std::vector<const crypto::note::Verifier*> VerifierPointers(
    const std::vector<crypto::note::KeyVerifier>& keys);

// That `newer` extends `older`: equal roots for equal sizes; otherwise the
// proof of GET /v1/log/proof/consistency, sent as `user`, verified against
// both roots. OK, or what failed.
Status CheckConsistency(const Send& send, const std::string& user,
                        const crypto::Checkpoint& older, const crypto::Checkpoint& newer);

}  // namespace custos::workload
