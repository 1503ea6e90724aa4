#include "admin/reindex_command.h"

#include <unistd.h>

#include <memory>
#include <set>

#include "admin/command_args.h"
#include "admin/file_copy.h"
#include "admin/open_archive.h"
#include "crypto/bytes.h"
#include "server/services/clock.h"
#include "storage/data_dir.h"
#include "storage/key_file.h"
#include "storage/search_index.h"

namespace custos::admin {

namespace {

// Replaces DATA/keys/index.key by a new random key: made 0600 and fsynced
// beside it by the one code path of key files, then renamed over it.
Status ReplaceIndexKey(const storage::DataDir& dir) {
  const std::string path = storage::IndexKeyPath(dir);
  const std::string fresh = path + ".new";
  if (PathExists(fresh) && ::unlink(fresh.c_str()) != 0) {
    return Internal("cannot remove " + fresh, "index_key_io");
  }
  CUSTOS_ASSIGN_OR_RETURN(std::vector<uint8_t> key,
                          storage::LoadOrCreateKeyFile(fresh, storage::kIndexKeySize, "index"));
  crypto::SecureZero(key.data(), key.size());
  if (::rename(fresh.c_str(), path.c_str()) != 0) {
    return Internal("cannot rename " + fresh + " to " + path, "index_key_io");
  }
  return FsyncDirectory(dir.KeysDir());
}

// Queues each live record with a file that has no file_texts row.
StatusOr<uint64_t> EnqueueUnindexed(storage::MetadataStore& store, domain::Time now) {
  std::vector<domain::RecordId> ids;
  CUSTOS_RETURN_IF_ERROR(store.Read([&](storage::Transaction& tx) {
    return tx.records().ForEach([&](const domain::Record& r) {
      if (r.state != domain::RecordState::kDestroyed) ids.push_back(r.id);
      return Status::Ok();
    });
  }));
  uint64_t queued = 0;
  for (const domain::RecordId& id : ids) {
    CUSTOS_RETURN_IF_ERROR(store.Write([&](storage::Transaction& tx) -> Status {
      CUSTOS_ASSIGN_OR_RETURN(std::vector<domain::Version> versions, tx.versions().List(id));
      CUSTOS_ASSIGN_OR_RETURN(std::vector<storage::FileText> rows, tx.texts().OfRecord(id));
      std::set<domain::FileId> known;
      for (const storage::FileText& t : rows) known.insert(t.file_id);
      for (const domain::Version& v : versions) {
        for (const domain::StoredFile& f : v.files) {
          if (known.count(f.id)) continue;
          ++queued;
          return tx.texts().Enqueue(id, now);
        }
      }
      return Status::Ok();
    }));
  }
  return queued;
}

}  // namespace

StatusOr<ReindexResult> Reindex(const ReindexOptions& options) {
  storage::DataDir dir(options.data_dir);
  if (!IsDirectory(dir.root())) {
    return InvalidArgument("data directory " + dir.root() + " does not exist", "data_dir_missing");
  }
  auto lock = storage::DataDirLock::Acquire(dir, storage::DataDirLock::Mode::kExclusive);
  if (!lock.ok()) {
    return Conflict(lock.status().message() + "; stop custosd before reindexing", "data_dir_in_use");
  }
  CUSTOS_ASSIGN_OR_RETURN(Config config, LoadDataDirConfig(dir));
  CUSTOS_ASSIGN_OR_RETURN(std::unique_ptr<storage::ArchiveStorage> archive, OpenArchive(dir.root()));
  services::SystemClock clock;
  ReindexResult result;
  if (options.rebuild || options.new_index_key) {
    CUSTOS_ASSIGN_OR_RETURN(result.queued, services::EnqueueAllForIndexing(archive->store(), clock.Now(), true));
  } else {
    CUSTOS_ASSIGN_OR_RETURN(result.queued, EnqueueUnindexed(archive->store(), clock.Now()));
  }
  if (options.new_index_key) CUSTOS_RETURN_IF_ERROR(ReplaceIndexKey(dir));
  CUSTOS_ASSIGN_OR_RETURN(std::unique_ptr<storage::IndexKey> key, storage::IndexKey::LoadOrCreate(dir));

  services::PipelineOptions pipeline_options =
      services::PipelineOptionsOf(config, dir.root(), services::ProgramDirectory());
  pipeline_options.enabled = true;
  if (!options.worker_path.empty()) pipeline_options.worker_path = options.worker_path;
  services::ContentPipeline pipeline(archive->store(), archive->content(), *key, clock, pipeline_options);
  CUSTOS_ASSIGN_OR_RETURN(result.run, pipeline.RunUntilIdle());
  CUSTOS_RETURN_IF_ERROR(archive->store().Read([&](storage::Transaction& tx) -> Status {
    CUSTOS_ASSIGN_OR_RETURN(result.counts, tx.texts().Counts());
    return Status::Ok();
  }));
  return result;
}

int RunReindex(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  auto fail = [&err](const std::string& message) {
    err << "custosctl: reindex: " << message << "\n";
    return 2;
  };
  std::string error;
  auto line = ParseArgs(args, {"--data"}, {"--rebuild", "--new-index-key"}, error);
  if (!line) return fail(error);
  if (!line->positionals.empty()) return fail("unknown argument '" + line->positionals.front() + "'");
  if (!line->options.count("--data")) return fail("--data DIR is required");
  ReindexOptions options;
  options.data_dir = line->options.at("--data");
  options.rebuild = line->flags.count("--rebuild") > 0;
  options.new_index_key = line->flags.count("--new-index-key") > 0;
  StatusOr<ReindexResult> r = Reindex(options);
  if (!r.ok()) return fail(r.status().message());
  const services::PipelineStats& s = r->run;
  const storage::TextCounts& c = r->counts;
  if (options.new_index_key) out << "new index key written: " << storage::IndexKeyPath(storage::DataDir(options.data_dir)) << "\n";
  out << "records queued: " << r->queued << "\n"
      << "records indexed: " << s.records << "\n"
      << "files this run: text " << s.files_text << ", no_text " << s.files_no_text << ", retry "
      << s.files_retry << ", failed " << s.files_failed << ", type mismatches " << s.type_mismatches << "\n"
      << "files in all: pending " << c.pending << ", text " << c.text << ", no_text " << c.no_text
      << ", retry " << c.retry << ", failed " << c.failed << "\n"
      << "records still queued: " << c.queued_records << "\n";
  return 0;
}

}  // namespace custos::admin
