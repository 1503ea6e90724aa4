// Reading and checking receipts (C2SP tlog-proof@v1, docs/formats/receipt.md)
// without the archive: everything an auditor's tool needs is in the text
// and the log's verifier key.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "crypto/bytes.h"
#include "crypto/signed_note.h"

namespace custos::services {

struct Receipt {
  std::string leaf;  // the log entry's canonical leaf bytes ("extra" line)
  uint64_t index = 0;
  std::vector<crypto::Bytes> proof;
  std::string checkpoint_note;  // the signed checkpoint, as given
};

// Parses the text form. kInvalidArgument "receipt_malformed" naming what.
StatusOr<Receipt> ParseReceipt(std::string_view text);

// Parses, opens the checkpoint with `verifiers` and checks the inclusion
// proof of the leaf against it. Returns the receipt and its checkpoint.
struct VerifiedReceipt {
  Receipt receipt;
  crypto::Checkpoint checkpoint;
};
StatusOr<VerifiedReceipt> VerifyReceipt(std::string_view text,
                                        const std::vector<const crypto::note::Verifier*>& verifiers);

}  // namespace custos::services
