// EvidenceSummary (server/services/evidence_bundle.h): the bilingual
// summary.md of an evidence bundle, from the bundle's other tag files only,
// so that a verifier can regenerate it (docs/formats/evidence-bundle.md,
// "summary.md").
#include <Poco/JSON/Object.h>

#include <algorithm>
#include <sstream>

#include "crypto/bytes.h"
#include "crypto/hash.h"
#include "domain/canonical_json.h"
#include "server/services/bag_writer.h"
#include "server/services/evidence_bundle.h"
#include "storage/log_leaf.h"

namespace custos::services {

namespace {

using Tags = std::map<std::string, std::string>;

// A table cell: '|' escaped, line breaks as spaces.
std::string Cell(std::string s) {
  std::string out;
  for (char c : s) {
    if (c == '|') {
      out += "\\|";
    } else if (c == '\n' || c == '\r') {
      out += ' ';
    } else {
      out.push_back(c);
    }
  }
  return out;
}

std::vector<std::pair<std::string, std::string>> BagInfoLines(const Tags& tags) {
  std::vector<std::pair<std::string, std::string>> out;
  auto it = tags.find("bag-info.txt");
  if (it == tags.end()) return out;
  std::istringstream in(it->second);
  for (std::string line; std::getline(in, line);) {
    size_t colon = line.find(": ");
    if (colon != std::string::npos) out.emplace_back(line.substr(0, colon), line.substr(colon + 2));
  }
  return out;
}

std::string Label(const std::vector<std::pair<std::string, std::string>>& info, const std::string& label) {
  for (const auto& [k, v] : info) {
    if (k == label) return v;
  }
  return "";
}

Poco::JSON::Object::Ptr JsonObject(const Tags& tags, const std::string& path) {
  auto it = tags.find(path);
  if (it == tags.end()) return nullptr;
  auto parsed = domain::ParseJsonStrict(it->second);
  if (!parsed.ok() || parsed->type() != typeid(Poco::JSON::Object::Ptr)) return nullptr;
  return parsed->extract<Poco::JSON::Object::Ptr>();
}

std::string Str(const Poco::JSON::Object::Ptr& o, const std::string& key) {
  if (!o || !o->has(key) || !o->get(key).isString()) return "";
  return o->getValue<std::string>(key);
}

// The decimal number `s` names, or nullopt.
std::optional<uint64_t> Number(const std::string& s) {
  if (s.empty() || s.size() > 19 || !std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    return std::nullopt;
  }
  return std::stoull(s);
}

struct FileRow {
  int version = 0;
  std::string id, name, sha256, status, signer, signing_time, reason;
};

// signatures/v<n>/<id>.json, by version then file id.
std::vector<FileRow> Files(const Tags& tags) {
  std::vector<FileRow> out;
  for (const auto& [path, text] : tags) {
    if (path.rfind("signatures/", 0) != 0) continue;
    Poco::JSON::Object::Ptr o = JsonObject(tags, path);
    if (!o || !o->has("version") || !o->get("version").isInteger()) continue;
    out.push_back({static_cast<int>(o->getValue<Poco::Int64>("version")), Str(o, "file"), Str(o, "name"),
                   Str(o, "sha256"), Str(o, "status"), Str(o, "signer"), Str(o, "signingTime"), Str(o, "reason")});
  }
  std::sort(out.begin(), out.end(), [](const FileRow& a, const FileRow& b) {
    return std::tie(a.version, a.id) < std::tie(b.version, b.id);
  });
  return out;
}

// events/<index>.json that decode, by index.
std::map<uint64_t, storage::DecodedLeaf> Events(const Tags& tags) {
  std::map<uint64_t, storage::DecodedLeaf> out;
  for (const auto& [path, text] : tags) {
    if (path.rfind("events/", 0) != 0 || path.size() < 13 || path.substr(path.size() - 5) != ".json") continue;
    std::optional<uint64_t> index = Number(path.substr(7, path.size() - 12));
    auto leaf = storage::DecodeLeaf(text);
    if (index && leaf.ok()) out[*index] = std::move(leaf).value();
  }
  return out;
}

std::string FileName(const std::vector<FileRow>& files, const std::string& id) {
  for (const FileRow& f : files) {
    if (f.id == id) return f.name;
  }
  return id;
}

// What an event did, in Chinese and in English.
std::string Describe(const storage::LogEvent& e, const std::vector<FileRow>& files) {
  const domain::EventDetails& d = e.details;
  std::string v = d.Int("version") ? std::to_string(*d.Int("version")) : "";
  const std::string& a = e.action;
  if ((a == "record.checkin" || a == "record.create") && !v.empty()) return "归档，第 " + v + " 版 / checked in, version " + v;
  if (a == "record.version") return "增加第 " + v + " 版 / added version " + v;
  if (a == "record.update") return "修改著录项 / changed catalogue values";
  if (a == "record.state") return "状态变更 / changed state";
  if (a == "record.destroy") return "销毁 / destroyed";
  if (a == "content.read") {
    std::string name = FileName(files, d.String("file").value_or(""));
    std::string derived = d.String("derived").value_or("");
    if (!derived.empty()) return "查看 " + name + " 的" + derived + "（第 " + v + " 版）/ viewed the " + derived + " of " + name + " (version " + v + ")";
    return "读取原件 " + name + "（第 " + v + " 版）/ read the original " + name + " (version " + v + ")";
  }
  if (a == "export.create" && d.String("evidence")) return "生成证据包 / made an evidence bundle (" + *d.String("evidence") + ")";
  if (a == "export.create") return "导出审计包 / exported in an audit package";
  if (a.rfind("loan.", 0) == 0) return "借阅：" + a.substr(5) + " / loan: " + a.substr(5);
  if (a.rfind("retention.", 0) == 0) return "保管期限：" + a.substr(10) + " / retention: " + a.substr(10);
  return a;
}

std::string SignatureWords(const FileRow& f) {
  std::string words = f.status == "valid"     ? "有效 / valid"
                      : f.status == "invalid" ? "无效 / invalid (" + f.reason + ")"
                                              : "无签名 / none";
  if (!f.signer.empty()) words += ", " + f.signer;
  if (!f.signing_time.empty()) words += ", " + f.signing_time;
  return words;
}

std::string WithheldWords(const std::string& reason) {
  if (reason == kEvidenceDestroyed) return "已销毁 / destroyed";
  if (reason == kEvidenceStampedOnly) return "仅提供盖章副本，不含原件 / lent as stamped copies: no original";
  return "无权读取原件 / the bundle's maker may not read it";
}

// The signature lines of log/checkpoint other than the log's own: name and
// kind (a timestamp's key id is SHA-256(name ‖ LF ‖ 0xff ‖ "custos/rfc3161")[0:4]).
std::vector<std::pair<std::string, std::string>> Attestations(const std::string& note) {
  std::vector<std::pair<std::string, std::string>> out;
  const std::string origin = note.substr(0, note.find('\n'));
  size_t blank = note.find("\n\n");
  if (blank == std::string::npos) return out;
  std::istringstream in(note.substr(blank + 2));
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("\xe2\x80\x94 ", 0) != 0) continue;
    std::string rest = line.substr(4);
    size_t space = rest.find(' ');
    if (space == std::string::npos) continue;
    std::string name = rest.substr(0, space);
    if (name == origin) continue;
    auto payload = crypto::Base64Decode(rest.substr(space + 1));
    crypto::Digest32 id = crypto::Sha256Of(name + "\n\xff" + "custos/rfc3161");
    bool timestamp = payload && payload->size() > 4 && std::equal(id.begin(), id.begin() + 4, payload->begin());
    out.emplace_back(name, timestamp ? "时间戳 / RFC 3161 timestamp" : "见证人副署 / witness cosignature");
  }
  return out;
}

// How to check each claim, with the OpenSSL command line and a POSIX shell
// (bash for step 5). Names no Custos program.
constexpr char kHowToCheck[] = R"HOW(## 如何核验 / How to check

以下步骤只需 OpenSSL 3 命令行和 POSIX shell，在本证据包的目录中执行。
The steps below need only the OpenSSL 3 command line and a POSIX shell, run in this bundle's folder.

### 1. 文件完整性 / Fixity of every file

每个原件和每个其他文件的 SHA-256 都列在 `manifest-sha256.txt` 和 `tagmanifest-sha256.txt` 中（路径中的 `%` 写作 `%25`）。
Every original and every other file has its SHA-256 in `manifest-sha256.txt` or `tagmanifest-sha256.txt` (a `%` in a path is written `%25`).

```sh
cat manifest-sha256.txt tagmanifest-sha256.txt | while IFS= read -r line; do
  sum=${line%%  *}; f=$(printf '%s' "${line#*  }" | sed 's/%25/%/g')
  [ "$(openssl dgst -sha256 -r "$f" | cut -d' ' -f1)" = "$sum" ] && echo "OK $f" || echo "FAILED $f"
done
```

### 2. 原件即归档时的文件 / The originals are the files checked in

上表中每个文件的 SHA-256 必须等于其归档事件（`record.checkin` 或 `record.version`，版本号相同）的 `details.files` 中该文件 `id` 的 `sha256`；`signatures/v<版本>/<id>.json` 的 `status` 必须等于该处的 `signature`。
Each file's SHA-256 in the table above must equal the `sha256` of the entry with its `id` in `details.files` of its check-in event (`record.checkin` or `record.version` of the same version); the `status` of `signatures/v<version>/<id>.json` must equal that entry's `signature`.

```sh
openssl dgst -sha256 -r data/v1/<id>-<name>          # 与事件比较 / compare with the event
grep -o '"id":"<id>"[^}]*' events/<index>.json
```

签名人和签名时间由该事件的 `manifestHash` 约束（版本清单的 RFC 8785 规范 JSON 的 SHA-256）。
The signer and signing time are bound by the event's `manifestHash` (SHA-256 of the version manifest's RFC 8785 canonical JSON).

### 3. 检查点签名 / The checkpoint's signature

请通过可信渠道独立取得日志的验证公钥（`log/key` 仅供参考，证据包不能为自己的公钥作证）。Ed25519 公钥行为 `<名称>+<密钥ID>+<base64(0x01 ‖ 32 字节公钥)>`。
Obtain the log's verifier key independently, over a channel you trust (`log/key` is for reference only: a bundle cannot vouch for its own key). An Ed25519 key line is `<name>+<key id>+<base64(0x01 ‖ 32-byte key)>`.

```sh
KEY=/path/to/log.vkey
NAME=$(head -1 "$KEY" | cut -d+ -f1)
head -1 "$KEY" | cut -d+ -f3- | openssl base64 -d -A | tail -c 32 > pub.raw
(printf '\060\052\060\005\006\003\053\145\160\003\041\000'; cat pub.raw) > pub.der
openssl pkey -pubin -inform DER -in pub.der -out pub.pem
sed '/^$/q' log/checkpoint | sed '$d' > msg                # 被签名的文本 / the signed text
grep "^— $NAME " log/checkpoint | head -1 | cut -d' ' -f3 | openssl base64 -d -A | tail -c 64 > sig
openssl pkeyutl -verify -pubin -inkey pub.pem -rawin -in msg -sigfile sig
```

国密（SM2/SM3）签名行：去掉载荷的前 4 字节得到 DER 签名 `sig`，公钥（65 字节未压缩点）转为 PEM `pub.pem` 后：
An SM2 (GM suite) line: its payload minus the first 4 bytes is the DER signature `sig`; with the key (a 65-byte uncompressed point) as PEM in `pub.pem`:

```sh
openssl dgst -sm3 -verify pub.pem -sigopt distid:1234567812345678 -signature sig msg
```

### 4. 每个事件都在日志中 / Every event is in the log (RFC 9162 inclusion proofs)

`proofs/<序号>.tlog-proof` 是 `c2sp.org/tlog-proof@v1` 格式的包含证明，任何通用的透明日志（tlog）验证器都可以用上面的公钥验证它。也可以用 OpenSSL 按 RFC 9162 第 2.1.3.2 节逐步计算：
`proofs/<index>.tlog-proof` is an inclusion proof in the `c2sp.org/tlog-proof@v1` form, which any generic tlog verifier checks with the key above. Or compute RFC 9162 §2.1.3.2 step by step with OpenSSL:

```sh
SIZE=$(sed -n 2p log/checkpoint); ROOT=$(sed -n 3p log/checkpoint)
check_event() {  # 参数：日志序号 / argument: the log index
  P=proofs/$1.tlog-proof
  sed -n 2p "$P" | cut -d' ' -f2 | openssl base64 -d -A | cmp -s - "events/$1.json" || { echo "FAILED event $1: not the proof's leaf"; return; }
  awk 'f {print} /^$/ && !f {f=1}' "$P" | cmp -s - log/checkpoint || { echo "FAILED event $1: another checkpoint"; return; }
  (printf '\000'; cat "events/$1.json") | openssl dgst -sha256 -binary > r.bin    # 叶哈希 / leaf hash
  fn=$1; sn=$((SIZE - 1))
  for p in $(awk 'NR > 3 && /^$/ {exit} NR > 3 {print}' "$P"); do
    printf '%s' "$p" | openssl base64 -d -A > p.bin
    if [ $((fn % 2)) -eq 1 ] || [ "$fn" -eq "$sn" ]; then
      (printf '\001'; cat p.bin r.bin) | openssl dgst -sha256 -binary > n.bin
      if [ $((fn % 2)) -eq 0 ]; then
        while [ $((fn % 2)) -eq 0 ] && [ "$fn" -ne 0 ]; do fn=$((fn / 2)); sn=$((sn / 2)); done
      fi
    else
      (printf '\001'; cat r.bin p.bin) | openssl dgst -sha256 -binary > n.bin
    fi
    mv n.bin r.bin; fn=$((fn / 2)); sn=$((sn / 2))
  done
  [ "$sn" -eq 0 ] && [ "$(openssl base64 -A < r.bin)" = "$ROOT" ] && echo "OK event $1" || echo "FAILED event $1"
}
for f in events/*.json; do n=${f#events/}; check_event "${n%.json}"; done
```

相邻序号的事件还构成哈希链：事件 N+1 的 `prev` 等于事件 N 的叶哈希的 base64。
Events with consecutive indexes also form a hash chain: the `prev` of event N+1 is the base64 of event N's leaf hash.

```sh
(printf '\000'; cat events/N.json) | openssl dgst -sha256 -binary | openssl base64 -A; echo
grep -o '"prev":"[^"]*"' events/N+1.json
```

### 5. 见证人副署与时间戳 / Witness cosignatures and timestamps

检查点中日志名称以外的签名行是见证人副署（C2SP tlog-cosignature，载荷为 4 字节密钥 ID ‖ 8 字节大端时间 ‖ 64 字节 Ed25519 签名，签名对象为 `cosignature/v1`、`time <时间>` 两行加上被签名文本）或 RFC 3161 时间戳（载荷为 4 字节密钥 ID ‖ DER 时间戳令牌，其消息摘要是被签名文本 `msg` 的 SHA-256）。
Signature lines of names other than the log's are witness cosignatures (C2SP tlog-cosignature: the payload is a 4-byte key id ‖ 8-byte big-endian time ‖ 64-byte Ed25519 signature over the lines `cosignature/v1` and `time <time>` followed by the signed text) or RFC 3161 timestamps (the payload is a 4-byte key id ‖ a DER TimeStampToken whose message imprint is the SHA-256 of the signed text `msg`).

```sh
# 见证人 / a witness, with its key line <name>+<id>+<base64(0x04 ‖ key)> in WKEY
W=$(cut -d+ -f1 "$WKEY")
cut -d+ -f3- "$WKEY" | openssl base64 -d -A | tail -c 32 > wpub.raw
(printf '\060\052\060\005\006\003\053\145\160\003\041\000'; cat wpub.raw) > wpub.der
openssl pkey -pubin -inform DER -in wpub.der -out wpub.pem
grep "^— $W " log/checkpoint | cut -d' ' -f3 | openssl base64 -d -A > payload
T=$((16#$(head -c 12 payload | tail -c 8 | od -An -tx1 | tr -d ' \n')))
(printf 'cosignature/v1\ntime %s\n' "$T"; cat msg) > cmsg
tail -c 64 payload > csig
openssl pkeyutl -verify -pubin -inkey wpub.pem -rawin -in cmsg -sigfile csig
# 时间戳 / a timestamp of authority TSA, with its CA certificates in tsa-ca.pem
grep "^— $TSA " log/checkpoint | cut -d' ' -f3 | openssl base64 -d -A | tail -c +5 > token.der
openssl ts -verify -data msg -in token.der -token_in -CAfile tsa-ca.pem
openssl ts -reply -in token.der -token_in -token_out -text | grep 'Time stamp'
```

本证据包的检查点覆盖了生成证据包这一事件本身，见证人和时间戳通常稍后才到。若有更早的、已经副署或加盖时间戳的检查点，它位于 `log/attested/<树大小>.checkpoint`（同样用第 3、5 步核验），`log/attested/<树大小>.consistency` 是从它到 `log/checkpoint` 的 RFC 9162 一致性证明（每行一个 base64 哈希），任何通用的透明日志验证工具都可核验；序号小于该树大小的事件因此同样得到见证。
The bundle's checkpoint covers the making of the bundle itself, which witnesses and authorities attest a little later. An earlier checkpoint that they did attest is in `log/attested/<tree size>.checkpoint` (check it with steps 3 and 5 as well); `log/attested/<tree size>.consistency` is the RFC 9162 consistency proof from it to `log/checkpoint` (one base64 hash per line), which any generic transparency-log verifier checks. Events below that tree size are attested through it.

### 6. 著录项 / Catalogue values

`record.json` 中的题名等著录项及盐值，按 RFC 8785 规范化（`metadata` 作为其规范 JSON 字符串，空盐值省略）后的 SHA-256，等于最后一个带 `recordHash` 的事件中的 `details.recordHash`。
The title and other catalogue values in `record.json`, with its salt, canonicalised by RFC 8785 (`metadata` as the string of its canonical JSON, an empty salt left out), have the SHA-256 that the last event carrying `details.recordHash` records.

### 7. 本摘要 / This summary

本摘要完全由证据包中的其他文件生成（`bag-info.txt`、`record.json`、`signatures/`、`events/`、`log/checkpoint`）；上述每一项都可以对照这些文件核实。
This summary is made from the bundle's other files alone (`bag-info.txt`, `record.json`, `signatures/`, `events/`, `log/checkpoint`); every line of it can be checked against them.
)HOW";

void Overview(std::ostream& o, const Tags& tags, const std::vector<std::pair<std::string, std::string>>& info,
              const std::vector<FileRow>& files) {
  Poco::JSON::Object::Ptr record = JsonObject(tags, kEvidenceRecordPath);
  auto cp_it = tags.find("log/checkpoint");
  const std::string note = cp_it == tags.end() ? "" : cp_it->second;
  std::istringstream cp(note);
  std::string origin, size, root;
  std::getline(cp, origin);
  std::getline(cp, size);
  std::getline(cp, root);
  const std::string who = Label(info, "Custos-Evidence-Made-By");
  o << "# 电子档案证据包 / Evidence bundle: " << Label(info, kEvidenceRecordLabel) << "\n\n";
  o << "| 项目 / Item | 内容 / Value |\n|---|---|\n";
  o << "| 档案号 / Archive number | " << Cell(Label(info, kEvidenceRecordLabel)) << " |\n";
  o << "| 题名 / Title | " << Cell(Str(record, "title")) << " |\n";
  o << "| 类型、密级 / Type, classification | " << Cell(Str(record, "type")) << ", " << Cell(Str(record, "classification")) << " |\n";
  o << "| 生成时间 / Made at (UTC) | " << Cell(Label(info, "Custos-Evidence-Made")) << " |\n";
  o << "| 生成人 / Made by | "
    << (who == kEvidenceOperator ? std::string("档案系统运维人员（离线）/ the archive's operator, offline") : Cell(who)) << " |\n";
  o << "| 日志 / Log | " << Cell(origin) << " |\n";
  o << "| 检查点 / Checkpoint | 树大小 / tree size " << Cell(size) << ", 根哈希 / root " << Cell(root) << " |\n";
  std::string attested;
  for (const auto& [name, kind] : Attestations(note)) attested += (attested.empty() ? "" : "; ") + Cell(name) + " (" + kind + ")";
  o << "| 见证与时间戳 / Witnesses and timestamps | "
    << (attested.empty() ? std::string("暂无 / none yet") : attested) << " |\n";
  // Older checkpoints that were attested, each a prefix of log/checkpoint.
  const std::string dir = "log/attested/";
  for (auto it = tags.lower_bound(dir); it != tags.end() && it->first.rfind(dir, 0) == 0; ++it) {
    if (it->first.size() < 11 || it->first.compare(it->first.size() - 11, 11, ".checkpoint") != 0) continue;
    std::istringstream older(it->second);
    std::string older_origin, older_size;
    std::getline(older, older_origin);
    std::getline(older, older_size);
    std::string lines;
    for (const auto& [name, kind] : Attestations(it->second)) lines += (lines.empty() ? "" : "; ") + Cell(name) + " (" + kind + ")";
    o << "| 较早的检查点 / An earlier checkpoint | 树大小 / tree size " << Cell(older_size) << ": "
      << (lines.empty() ? std::string("—") : lines) << "; " << Cell(it->first)
      << "（一致性证明 / consistency proof: " << Cell(it->first.substr(0, it->first.size() - 11) + ".consistency")
      << "）; 序号小于 " << Cell(older_size) << " 的事件同样得到见证 / events below index " << Cell(older_size)
      << " are attested through it |\n";
  }
  size_t withheld = 0;
  for (const auto& [k, v] : info) withheld += k == "Custos-Withheld" ? 1 : 0;
  o << "| 原件 / Originals | " << files.size() - std::min(files.size(), withheld) << " / " << files.size()
    << (withheld ? " （部分或全部未包含，见下表 / some or all left out, see below）" : "") << " |\n";
  std::string left_out = Label(info, "Custos-Events-Left-Out");
  if (!left_out.empty() && left_out != "0") {
    o << "| 未列事件 / Events left out | " << Cell(left_out)
      << "（生成人无权查看的借阅记录 / of loans the maker may not see） |\n";
  }
  o << "\n";
}

void EventTable(std::ostream& o, const std::map<uint64_t, storage::DecodedLeaf>& events,
                const std::vector<std::pair<std::string, std::string>>& info, const std::vector<FileRow>& files) {
  o << "## 经过 / What happened\n\n";
  o << "| 日志序号 / Log index | 时间 / Time (UTC) | 操作人 / By | 事项 / What | 事件代码 / Action | 事件、证明 / Event, proof |\n";
  o << "|---|---|---|---|---|---|\n";
  for (const auto& [index, leaf] : events) {
    const std::string n = std::to_string(index);
    o << "| " << n << " | " << domain::FormatTime(leaf.event.at) << " | " << Cell(leaf.event.actor) << " | "
      << Cell(Describe(leaf.event, files)) << " | " << Cell(leaf.event.action) << " | events/" << n
      << ".json, proofs/" << n << ".tlog-proof |\n";
  }
  for (const auto& [k, v] : info) {
    if (k == "Custos-Redacted-Event") {
      o << "| " << Cell(v) << " | | | 因销毁而删去正文（仅余叶哈希）/ body redacted by a destruction (leaf hash only) | | |\n";
    }
  }
  o << "\n";
}

void FileTable(std::ostream& o, const std::vector<FileRow>& files,
               const std::vector<std::pair<std::string, std::string>>& info) {
  std::map<std::string, std::string> withheld;  // "v<n>/<id>" → reason
  for (const auto& [k, v] : info) {
    size_t space = v.rfind(' ');
    if (k == "Custos-Withheld" && space != std::string::npos) withheld[v.substr(0, space)] = v.substr(space + 1);
  }
  o << "## 文件 / Files\n\n";
  o << "| 版本 / Version | 文件名 / Name | SHA-256 | 数字签名 / CMS signature | 原件 / Original |\n";
  o << "|---|---|---|---|---|\n";
  for (const FileRow& f : files) {
    const std::string key = "v" + std::to_string(f.version) + "/" + f.id;
    auto w = withheld.find(key);
    o << "| " << f.version << " | " << Cell(f.name) << " | " << Cell(f.sha256) << " | " << Cell(SignatureWords(f))
      << " | "
      << (w == withheld.end() ? Cell("data/" + key + "-" + SafeName(f.name)) : WithheldWords(w->second))
      << " |\n";
  }
  o << "\n";
}

}  // namespace

std::string EvidenceSummary(const std::map<std::string, std::string>& tags) {
  const auto info = BagInfoLines(tags);
  const std::vector<FileRow> files = Files(tags);
  std::ostringstream o;
  Overview(o, tags, info, files);
  EventTable(o, Events(tags), info, files);
  FileTable(o, files, info);
  o << kHowToCheck;
  return o.str();
}

}  // namespace custos::services
