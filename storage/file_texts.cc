#include "storage/file_texts.h"

#include <array>
#include <cctype>
#include <utility>

namespace custos::storage {

namespace {

constexpr std::array<std::pair<TextState, std::string_view>, 5> kTextStateNames = {{
    {TextState::kPending, "pending"},
    {TextState::kText, "text"},
    {TextState::kNoText, "no_text"},
    {TextState::kRetry, "retry"},
    {TextState::kFailed, "failed"},
}};

// A media type without its parameters and surrounding blanks, in lower case.
std::string Essence(std::string_view media_type) {
  const size_t semicolon = media_type.find(';');
  if (semicolon != std::string_view::npos) media_type = media_type.substr(0, semicolon);
  while (!media_type.empty() && std::isspace(static_cast<unsigned char>(media_type.front()))) {
    media_type.remove_prefix(1);
  }
  while (!media_type.empty() && std::isspace(static_cast<unsigned char>(media_type.back()))) {
    media_type.remove_suffix(1);
  }
  std::string out(media_type);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

}  // namespace

std::string_view Name(TextState s) {
  for (const auto& [state, name] : kTextStateNames) {
    if (state == s) return name;
  }
  return "pending";
}

StatusOr<TextState> ParseTextState(std::string_view name) {
  for (const auto& [state, n] : kTextStateNames) {
    if (n == name) return state;
  }
  return DataLoss("unknown text state \"" + std::string(name) + "\"", "bad_text_state");
}

bool TypeMismatch(const FileText& t) {
  const std::string claimed = Essence(t.claimed_type);
  const std::string identified = Essence(t.identified_type);
  if (claimed.empty() || claimed == "application/octet-stream" || identified.empty()) return false;
  return claimed != identified;
}

}  // namespace custos::storage
