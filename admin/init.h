// `custosctl init`: creates a new data directory (storage/data_dir.h) with a
// commented configuration file and a self-signed TLS certificate.
#pragma once

#include <string>

#include "common/config.h"
#include "common/status.h"

namespace custos::admin {

struct InitOptions {
  std::string data_dir;
  Config config;  // values written to custos.conf
};

struct InitResult {
  std::string config_file;
  std::string certificate;
};

// Refuses (kConflict, "data_dir_exists") when data_dir exists and is not
// empty. On any failure after creating the directory, the partially written
// directory is left for inspection and the error says so.
StatusOr<InitResult> InitDataDirectory(const InitOptions& options);

}  // namespace custos::admin
