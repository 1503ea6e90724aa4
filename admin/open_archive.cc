#include "admin/open_archive.h"

namespace custos::admin {

StatusOr<Config> LoadDataDirConfig(const storage::DataDir& dir) {
  CUSTOS_ASSIGN_OR_RETURN(std::string text, storage::ReadSmallFile(dir.ConfigFile()));
  StatusOr<Config> config = ParseConfig(text);
  if (!config.ok()) return config.status().WithContext(dir.ConfigFile());
  return config;
}

StatusOr<std::unique_ptr<storage::ArchiveStorage>> OpenArchive(const std::string& data_dir) {
  storage::DataDir dir(data_dir);
  CUSTOS_ASSIGN_OR_RETURN(Config config, LoadDataDirConfig(dir));
  auto archive = storage::ArchiveStorage::Open(dir, config);
  if (!archive.ok()) return archive.status().WithContext("cannot open the archive");
  return archive;
}

}  // namespace custos::admin
