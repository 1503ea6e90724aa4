// The installation's keys, kept in DATA/keys (0700):
//
//   keys/kek/<kek id>.key   32 random bytes, 0600: key-encryption keys
//   keys/kek/current        the id of the KEK that wraps new data keys
//   keys/log-ed25519.pem    0600: the log's checkpoint signing key
//   keys/log-sm2.pem        0600: second checkpoint signature (gm suite only)
//   keys/log.vkey           the log's verifier key(s), one per line (public)
//   keys/row-seal.key       32 random bytes, 0600: the key of the row seals
//                           (storage/row_seal.h); key rotation leaves it be
//   keys/row-seal.key.new   present only while an archive made before row
//                           seals is sealed for the first time (below)
//   keys/kek/rotation       present only while `custosctl keys rotate` runs
//                           or was interrupted (admin/keys_command.h)
//
// Every KEK file present is loaded: the current one wraps, the others
// (retired by rotation) still unwrap until no data key refers to them.
// Key rotation uses the static helpers below (AddKek, SetCurrentKek,
// DestroyRetiredKeks) on a data directory that no running server holds.
// Thread safety: a Keyring is immutable after loading; share freely.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "crypto/envelope.h"
#include "crypto/key_provider.h"
#include "crypto/signed_note.h"
#include "storage/data_dir.h"
#include "storage/metadata_store.h"
#include "storage/row_seal.h"

namespace custos::storage {

class Keyring {
 public:
  // Creates the key files for a new installation (fails if any exists).
  static Status Create(const DataDir& dir, const std::string& origin, crypto::Suite suite);
  // Loads them. The signers are named after `origin`. The row seal key is
  // keys/row-seal.key, else the pending keys/row-seal.key.new
  // (row_seal_key_pending()), else none (row_sealer() is null: an archive
  // made before row seals). kDataLoss "row_seal_key_bad" if the file does
  // not hold 32 bytes.
  static StatusOr<std::unique_ptr<Keyring>> Load(const DataDir& dir, const std::string& origin,
                                                 crypto::Suite suite);

  // ---- The row seal key of an archive made before row seals ----
  // (ArchiveStorage::Open: trust on upgrade, docs/security.md "Row seals".)

  // Whether keys/row-seal.key or keys/row-seal.key.new exists.
  static bool HasRowSealKey(const DataDir& dir);
  // Writes a new random keys/row-seal.key.new (durable when this returns).
  static Status PrepareRowSealKey(const DataDir& dir);
  // Renames keys/row-seal.key.new to keys/row-seal.key, once every row is
  // sealed under it.
  static Status CommitRowSealKey(const DataDir& dir);
  // Removes keys/row-seal.key.new (the open it was made for failed).
  static Status DiscardPendingRowSealKey(const DataDir& dir);

  // ---- KEK files, for key rotation (no Keyring object involved) ----

  // keys/kek.
  static std::string KekDirectory(const DataDir& dir);
  // Ids of the KEK files keys/kek/<id>.key, sorted ascending (the files are
  // not read). kNotFound "keys_missing" if keys/kek does not exist.
  static StatusOr<std::vector<std::string>> ListKekIds(const DataDir& dir);
  // The id that keys/kek/current names (whether or not its file exists).
  static StatusOr<std::string> CurrentKekId(const DataDir& dir);
  // Creates a new random KEK file keys/kek/<id>.key and returns its id. The
  // file and its directory entry are durable when this returns, so data
  // keys may be wrapped under it at once. It does not become current.
  static StatusOr<std::string> AddKek(const DataDir& dir);
  // Makes `id` (whose key file must exist: kNotFound "kek_unknown") the
  // current KEK, atomically: keys/kek/current is replaced by rename, then
  // the directory is fsynced.
  static Status SetCurrentKek(const DataDir& dir, const std::string& id);
  // Destroys every KEK file except the current one and returns their ids.
  // Each is first renamed to <id>.key.destroy (a name Load() ignores, so an
  // interruption never leaves a half-wiped key that Load() would refuse),
  // then overwritten with zeros, fsynced and unlinked; the directory is
  // fsynced. Files left as *.key.destroy by an interrupted call are finished
  // too. Only call it once no data key is wrapped under those KEKs.
  // Overwriting cannot reach copies the storage device or file system keeps
  // elsewhere (journals, SSD remapping) or backups.
  static StatusOr<std::vector<std::string>> DestroyRetiredKeks(const DataDir& dir);

  const crypto::KeyProvider& keys() const { return *keys_; }
  crypto::Suite suite() const { return suite_; }
  const std::string& origin() const { return origin_; }
  std::vector<const crypto::note::Signer*> log_signers() const;
  std::vector<const crypto::note::Verifier*> log_verifiers() const;
  // The verifier key lines, "\n"-separated (the Ed25519 one first).
  std::string VerifierKeys() const;
  // The row sealer, or null when the archive has no seal key yet.
  const RowSealer* row_sealer() const { return sealer_.get(); }
  // The key loaded is keys/row-seal.key.new: the rows are not sealed yet.
  bool row_seal_key_pending() const { return seal_key_pending_; }

 private:
  Keyring() = default;
  std::unique_ptr<crypto::KeyProvider> keys_;
  crypto::Suite suite_ = crypto::Suite::kIntl;
  std::string origin_;
  std::vector<crypto::note::KeySigner> signers_;
  std::unique_ptr<RowSealer> sealer_;
  bool seal_key_pending_ = false;
};

// Signs checkpoints "<origin>\n<size>\n<b64 root>\n" with every signer given
// (the Ed25519 one, and the SM2 one with the gm suite).
class NoteCheckpointSigner final : public CheckpointSigner {
 public:
  NoteCheckpointSigner(std::string origin, std::vector<const crypto::note::Signer*> signers)
      : origin_(std::move(origin)), signers_(std::move(signers)) {}
  StatusOr<std::string> Sign(uint64_t size, const crypto::Digest32& root) override;

 private:
  const std::string origin_;
  const std::vector<const crypto::note::Signer*> signers_;
};

}  // namespace custos::storage
