// Signing custody: which copy of an SQLite archive may sign checkpoints.
//
// The log's key must never sign two different roots for one size
// (DESIGN §7). Two copies of one archive that both append would do exactly
// that: a backup restored beside its original, or a data directory copied
// with `cp -a` and started as a second server. So a data directory signs
// only while it holds the custody marker DATA/custody, and that marker is
// bound to the directory itself:
//
//   custos-custody-v1
//   state held                       or: state awaiting_promotion
//   device <st_dev of DATA>          (decimal)
//   filesystem <statfs f_fsid of DATA>  (decimal, 64 bits)
//   inode <st_ino of DATA>           (decimal)
//   note <one line: why this state>
//   source <the original data directory>   (only when restored, optional)
//
// The marker is held when its state is "held" and the inode it names is
// DATA's own on the same file system, known by device number or by file
// system id (ext4, XFS and btrfs derive that from their UUID, so a reboot
// that numbers devices differently does not cost custody). A copy of the directory gets a new inode (cp -a,
// rsync, tar, a move to another file system), so its marker no longer
// matches; `custosctl restore` writes "awaiting_promotion" itself. Neither
// signs until `custosctl promote` binds the marker to it. What a copy
// cannot be told from its original by: a block-level clone of the whole
// file system (disk image, VM or storage snapshot) keeps device and inode;
// docs/operations.md, "Restore, promote and the original", says how to
// treat one.
//
// A data directory without a marker (made before custody existed) is
// claimed by the first open (ArchiveStorage::Open), as `custosctl init`
// does for a new one. Only the SQLite backend uses custody: nodes on
// PostgreSQL share one log in one database (docs/operations.md).
//
// Thread safety: stateless functions over files; the caller serialises
// writers (custosd and custosctl promote hold the data directory's lock).
#pragma once

#include <atomic>
#include <string>
#include <string_view>

#include "common/status.h"
#include "storage/data_dir.h"
#include "storage/metadata_store.h"

namespace custos::storage {

inline constexpr std::string_view kCustodyFileName = "custody";
inline constexpr std::string_view kCustodyFormat = "custos-custody-v1";
// The reason of the refusal a write meets where custody is not held
// (kUnavailable, HTTP 503).
inline constexpr std::string_view kSigningNotPromoted = "signing_not_promoted";

struct Custody {
  bool present = false;  // DATA/custody exists
  bool held = false;     // this directory may sign
  // Why not held, for people (empty when held): restored and awaiting
  // promotion, copied or moved from elsewhere, or an unreadable marker.
  std::string why_not;
  // The data directory a restored one was backed up from ("" if unknown
  // or not restored): custosctl promote checks it (admin/promote_command.h).
  std::string restored_from;
};

// DATA/custody.
std::string CustodyPath(const DataDir& dir);

// Reads and judges the marker. A missing marker gives present = false,
// held = false; an unreadable or malformed one gives present = true,
// held = false with why_not saying so. Fails only if DATA cannot be stat'ed.
StatusOr<Custody> ReadCustody(const DataDir& dir);

// Binds custody to DATA: replaces the marker atomically (temporary file,
// rename, directory fsync) with state "held" and DATA's device and inode.
Status BindCustody(const DataDir& dir, const std::string& note);

// Replaces the marker with state "awaiting_promotion" (restore writes it
// before it opens the restored archive, naming the original as `source`;
// promote writes it into the original it retires, without one).
Status AwaitPromotion(const DataDir& dir, const std::string& note,
                      const std::string& source = "");

// The store's signer: signs through `inner` while allowed, and otherwise
// refuses with kUnavailable kSigningNotPromoted, a message naming `why` and
// the promote command. A refused signature fails the write batch, so
// nothing of it commits (storage/metadata_store.h).
// Thread safety: Sign() may run on any thread; Allow() is atomic.
class CustodySigner final : public CheckpointSigner {
 public:
  CustodySigner(CheckpointSigner& inner, bool allowed, std::string why)
      : inner_(inner), allowed_(allowed), why_(std::move(why)) {}
  StatusOr<std::string> Sign(uint64_t size, const crypto::Digest32& root) override;
  // From now on signs (custosctl promote, for its own event).
  void Allow() { allowed_.store(true); }

 private:
  CheckpointSigner& inner_;
  std::atomic<bool> allowed_;
  const std::string why_;  // immutable
};

}  // namespace custos::storage
