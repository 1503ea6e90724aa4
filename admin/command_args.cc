#include "admin/command_args.h"

#include <algorithm>

namespace custos::admin {

std::optional<ParsedArgs> ParseArgs(const std::vector<std::string>& args,
                                    const std::vector<std::string>& options,
                                    const std::vector<std::string>& flags, std::string& error) {
  auto listed = [](const std::vector<std::string>& names, const std::string& a) {
    return std::find(names.begin(), names.end(), a) != names.end();
  };
  ParsedArgs out;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (listed(flags, a)) {
      if (out.flags.count(a)) {
        error = a + " given twice";
        return std::nullopt;
      }
      out.flags.insert(a);
    } else if (listed(options, a)) {
      if (i + 1 >= args.size()) {
        error = a + " needs a value";
        return std::nullopt;
      }
      if (out.options.count(a)) {
        error = a + " given twice";
        return std::nullopt;
      }
      out.options[a] = args[++i];
    } else if (!a.empty() && a[0] == '-') {
      error = "unknown argument '" + a + "'";
      return std::nullopt;
    } else {
      out.positionals.push_back(a);
    }
  }
  return out;
}

std::optional<std::string> ParseDataDirOnly(const std::vector<std::string>& args,
                                            std::string& error) {
  auto parsed = ParseArgs(args, {"--data"}, {}, error);
  if (!parsed) return std::nullopt;
  if (!parsed->positionals.empty()) {
    error = "unknown argument '" + parsed->positionals.front() + "'";
    return std::nullopt;
  }
  if (!parsed->options.count("--data")) {
    error = "--data DIR is required";
    return std::nullopt;
  }
  return parsed->options.at("--data");
}

}  // namespace custos::admin
