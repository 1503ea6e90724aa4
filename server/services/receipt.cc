#include "server/services/receipt.h"

#include <charconv>

#include "crypto/merkle.h"

namespace custos::services {

namespace {

constexpr std::string_view kHeader = "c2sp.org/tlog-proof@v1\n";
constexpr size_t kMaxProofLines = 64;

Status Malformed(const std::string& what) {
  return InvalidArgument("receipt: " + what, "receipt_malformed");
}

// Takes the next '\n'-terminated line (without it) off `rest`.
bool NextLine(std::string_view& rest, std::string_view& line) {
  size_t nl = rest.find('\n');
  if (nl == std::string_view::npos) return false;
  line = rest.substr(0, nl);
  rest.remove_prefix(nl + 1);
  return true;
}

}  // namespace

StatusOr<Receipt> ParseReceipt(std::string_view text) {
  if (text.substr(0, kHeader.size()) != kHeader) return Malformed("missing the tlog-proof@v1 header");
  std::string_view rest = text.substr(kHeader.size());
  std::string_view line;
  Receipt r;
  if (!NextLine(rest, line) || line.substr(0, 6) != "extra ") return Malformed("missing the extra line");
  auto leaf = crypto::Base64Decode(line.substr(6));
  if (!leaf) return Malformed("the extra line is not base64");
  r.leaf = crypto::ToString(*leaf);
  if (!NextLine(rest, line) || line.substr(0, 6) != "index ") return Malformed("missing the index line");
  std::string_view digits = line.substr(6);
  auto [p, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), r.index);
  if (digits.empty() || ec != std::errc() || p != digits.data() + digits.size()) {
    return Malformed("the index is not a number");
  }
  // One text per receipt: "0" / %x31-39 *DIGIT (docs/formats/receipt.md).
  if (digits.size() > 1 && digits[0] == '0') return Malformed("the index has a leading zero");
  for (;;) {
    if (!NextLine(rest, line)) return Malformed("missing the blank line before the checkpoint");
    if (line.empty()) break;
    if (r.proof.size() >= kMaxProofLines) return Malformed("too many proof lines");
    auto hash = crypto::Base64Decode(line);
    if (!hash || hash->size() != 32) return Malformed("a proof line is not a base64 SHA-256 hash");
    r.proof.push_back(std::move(*hash));
  }
  if (rest.empty()) return Malformed("missing the checkpoint");
  r.checkpoint_note = std::string(rest);
  return r;
}

StatusOr<VerifiedReceipt> VerifyReceipt(std::string_view text,
                                        const std::vector<const crypto::note::Verifier*>& verifiers) {
  VerifiedReceipt out;
  CUSTOS_ASSIGN_OR_RETURN(out.receipt, ParseReceipt(text));
  CUSTOS_ASSIGN_OR_RETURN(crypto::OpenedCheckpoint cp,
                          crypto::OpenCheckpoint(out.receipt.checkpoint_note, verifiers));
  out.checkpoint = cp.checkpoint;
  CUSTOS_RETURN_IF_ERROR(crypto::merkle::VerifyInclusion(out.receipt.index, cp.checkpoint.size,
                                                         crypto::merkle::HashLeaf(out.receipt.leaf),
                                                         out.receipt.proof, cp.checkpoint.root));
  return out;
}

}  // namespace custos::services
