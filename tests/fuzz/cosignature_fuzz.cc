// Fuzz target for the cosignature parsers (crypto/cosignature.h) and the
// attestation check (crypto/attested_note.h).
//
// Feeds arbitrary bytes to ParseWitnessKey, VerifyCosignatureLine (with the
// witness key of docs/formats/cosignature.md's worked example) and
// CheckAttestations (that witness trusted, policy 1, no TSA roots), so that
// inputs derived from the seeds (the worked example's attested checkpoint)
// reach signature verification. Beyond "must not crash" it traps if
//   - a key ParseWitnessKey accepts does not format back to the same text
//     (key IDs in lower-case hex);
//   - CheckAttestations counts a cosignature that VerifyCosignatureLine
//     would not accept on its own.
// Depends only on custos_crypto.
#include <cctype>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "crypto/attested_note.h"
#include "crypto/cosignature.h"

namespace {

namespace cosig = custos::crypto::cosig;

constexpr std::string_view kWitnessVkey =
    "witness.example/w1+aa4a09d1+BOpKbGPinFIKvvVQexMuxfmVR3auvr57kkIe6mkURtIs";

[[noreturn]] void Fail() { __builtin_trap(); }

const cosig::WitnessKey& Witness() {
  static const cosig::WitnessKey* const key = [] {
    auto k = cosig::ParseWitnessKey(kWitnessVkey);
    if (!k.ok()) Fail();
    return new cosig::WitnessKey(*k);
  }();
  return *key;
}

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);

  if (auto key = cosig::ParseWitnessKey(input); key.ok()) {
    // Same text up to the case of the hex key ID.
    const std::string again = cosig::FormatWitnessKey(*key);
    const size_t plus = input.find('+');
    if (again.size() != input.size() || again.substr(0, plus + 1) != input.substr(0, plus + 1) ||
        again.substr(plus + 1, 8) != Lower(input.substr(plus + 1, 8)) ||
        again.substr(plus + 9) != input.substr(plus + 9)) {
      Fail();
    }
  }

  custos::crypto::AttestationPolicy policy;
  policy.witnesses = {Witness()};
  policy.min_cosignatures = 1;
  custos::crypto::AttestationReport report = custos::crypto::CheckAttestations(input, policy);
  if (report.cosignatures_ok > 1) Fail();

  // Every line after the last blank line, checked on its own.
  const size_t blank = input.rfind("\n\n");
  bool any_valid = false;
  if (blank != std::string_view::npos) {
    const std::string_view text = input.substr(0, blank + 1);
    std::string_view lines = input.substr(blank + 2);
    while (!lines.empty()) {
      const size_t nl = lines.find('\n');
      const std::string_view line = lines.substr(0, nl);
      any_valid |= cosig::VerifyCosignatureLine(Witness(), text, line).ok();
      if (nl == std::string_view::npos) break;
      lines.remove_prefix(nl + 1);
    }
  } else {
    (void)cosig::VerifyCosignatureLine(Witness(), "text\n", input);
  }
  if (report.cosignatures_ok == 1 && !any_valid) Fail();
  return 0;
}
