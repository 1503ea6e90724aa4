#include "admin/import_manifest.h"

#include <Poco/Exception.h>
#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>

#include <algorithm>
#include <set>

#include "admin/batch_archive.h"
#include "domain/canonical_json.h"

namespace custos::admin {

namespace {

constexpr char kRecordKey[] = "recordKey";
constexpr char kPath[] = "path";
constexpr char kName[] = "name";
constexpr char kMediaType[] = "mediaType";
constexpr char kSignature[] = "signature";
constexpr char kMetadataPrefix[] = "metadata.";

// The record's own fields, in services::RecordInput.
const std::vector<std::string>& RecordFields() {
  static const std::vector<std::string> kFields = {
      "type", "title", "department", "classification", "description", "custodian", "location"};
  return kFields;
}

bool IsFieldName(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
  });
}

// Whether `column` may appear in a manifest.
bool IsKnownColumn(const std::string& column) {
  static const std::set<std::string> kFileColumns = {kRecordKey, kPath, kName, kMediaType,
                                                     kSignature};
  if (kFileColumns.count(column)) return true;
  const auto& record = RecordFields();
  if (std::find(record.begin(), record.end(), column) != record.end()) return true;
  return column.rfind(kMetadataPrefix, 0) == 0 &&
         IsFieldName(std::string_view(column).substr(sizeof(kMetadataPrefix) - 1));
}

Status BadManifest(const std::string& message) {
  return Unprocessable(message, "invalid_manifest");
}

// ----------------------------------------------------------------- CSV

struct CsvRecord {
  size_t line = 0;  // where the record starts
  std::vector<std::string> fields;
};

// Splits RFC 4180 text into records of fields.
StatusOr<std::vector<CsvRecord>> SplitCsv(std::string_view text) {
  const std::string where = std::string(kManifestCsv) + " line ";
  std::vector<CsvRecord> out;
  size_t line = 1;
  size_t i = 0;
  while (i < text.size()) {
    CsvRecord record;
    record.line = line;
    bool end_of_record = false;
    while (!end_of_record) {
      std::string field;
      if (i < text.size() && text[i] == '"') {
        ++i;
        while (true) {
          if (i >= text.size()) {
            return BadManifest(where + std::to_string(record.line) +
                               ": a quoted field is not closed");
          }
          char c = text[i++];
          if (c == '"') {
            if (i < text.size() && text[i] == '"') {
              field.push_back('"');
              ++i;
              continue;
            }
            break;
          }
          if (c == '\n') ++line;
          field.push_back(c);
        }
        if (i < text.size() && text[i] != ',' && text[i] != '\n' && text[i] != '\r') {
          return BadManifest(where + std::to_string(line) +
                             ": text after the closing quote of a field");
        }
      } else {
        while (i < text.size() && text[i] != ',' && text[i] != '\n' && text[i] != '\r') {
          if (text[i] == '"') {
            return BadManifest(where + std::to_string(line) +
                               ": a quote inside an unquoted field (quote the whole field)");
          }
          field.push_back(text[i++]);
        }
      }
      record.fields.push_back(std::move(field));
      if (i >= text.size()) {
        end_of_record = true;
      } else if (text[i] == ',') {
        ++i;
      } else {  // '\r\n', '\n' or a lone '\r'
        if (text[i] == '\r' && i + 1 < text.size() && text[i + 1] == '\n') ++i;
        ++i;
        ++line;
        end_of_record = true;
      }
    }
    bool blank = record.fields.size() == 1 && record.fields[0].empty();
    if (!blank) out.push_back(std::move(record));
  }
  return out;
}

// ---------------------------------------------------------------- rows

// A record being assembled from its rows.
struct Builder {
  PlannedRecord record;
  std::map<std::string, std::pair<std::string, std::string>> given;  // field → (value, where)
  std::set<std::string> names;
};

std::string Quoted(const std::string& s) { return "'" + PrintableName(s) + "'"; }

// Normalises an entry path named in the manifest.
bool EntryPath(const ManifestRow& row, const char* column, std::string* out,
               std::vector<std::string>* problems) {
  auto it = row.fields.find(column);
  if (it == row.fields.end()) return true;
  StatusOr<std::string> path = NormalizeEntryPath(it->second);
  if (!path.ok() || path->empty()) {
    problems->push_back(row.where + ": " + column + " " + Quoted(it->second) + ": " +
                        (path.ok() ? "names no file" : path.status().message()));
    return false;
  }
  *out = std::move(path).value();
  return true;
}

std::string LastSegment(const std::string& path) {
  size_t slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

// Takes the record-level fields of `row` into `b`, noting disagreements.
void MergeRecordFields(const ManifestRow& row, Builder& b, std::vector<std::string>* problems) {
  for (const auto& [column, value] : row.fields) {
    bool record_field =
        column.rfind(kMetadataPrefix, 0) == 0 ||
        std::find(RecordFields().begin(), RecordFields().end(), column) != RecordFields().end();
    if (!record_field) continue;
    auto [it, inserted] = b.given.try_emplace(column, value, row.where);
    if (!inserted && it->second.first != value) {
      problems->push_back(row.where + ": " + column + " " + Quoted(value) + " differs from " +
                          Quoted(it->second.first) + " on " + it->second.second + " (record " +
                          Quoted(b.record.key) + ")");
    }
  }
}

void FinishRecord(Builder& b) {
  auto value = [&](const std::string& field) {
    auto it = b.given.find(field);
    return it == b.given.end() ? std::string() : it->second.first;
  };
  services::RecordInput& in = b.record.input;
  in.type = value("type");
  in.title = value("title");
  in.department = value("department");
  in.classification = value("classification");
  in.description = value("description");
  in.custodian = value("custodian");
  in.location = value("location");
  for (const auto& [column, given] : b.given) {
    if (column.rfind(kMetadataPrefix, 0) != 0) continue;
    in.metadata[column.substr(sizeof(kMetadataPrefix) - 1)] = given.first;
  }
}

// Reads a JSON member that must be a string (or null: absent).
bool JsonString(const Poco::Dynamic::Var& v, std::string* out) {
  if (v.isEmpty()) return true;
  if (!v.isString()) return false;
  *out = v.convert<std::string>();
  return true;
}

}  // namespace

StatusOr<std::vector<ManifestRow>> ParseManifestCsv(std::string_view text, NameEncoding encoding) {
  const std::string where = std::string(kManifestCsv) + " line ";
  const bool bom = text.substr(0, 3) == "\xEF\xBB\xBF";
  if (bom) text.remove_prefix(3);
  std::string decoded;
  if (!domain::IsValidUtf8(text)) {
    if (bom || encoding != NameEncoding::kGbk) {
      return BadManifest(std::string(kManifestCsv) + " is not valid UTF-8" +
                         (bom ? std::string(" although it starts with a UTF-8 byte order mark")
                              : "; a manifest saved as CSV by Excel on Chinese Windows is in GBK: save it as "
                                "\"CSV UTF-8\" or run the import again with --name-encoding gbk"));
    }
    auto utf8 = GbkToUtf8(text);
    if (!utf8.ok()) {
      return BadManifest(std::string(kManifestCsv) + " is neither UTF-8 nor GBK (" + utf8.status().message() + ")");
    }
    decoded = std::move(utf8).value();
    text = decoded;
  }
  CUSTOS_ASSIGN_OR_RETURN(std::vector<CsvRecord> records, SplitCsv(text));
  if (records.empty()) return BadManifest(std::string(kManifestCsv) + " is empty");
  std::vector<std::string> columns;
  for (std::string name : records[0].fields) {
    while (!name.empty() && (name.front() == ' ' || name.front() == '\t')) name.erase(0, 1);
    while (!name.empty() && (name.back() == ' ' || name.back() == '\t')) name.pop_back();
    if (!IsKnownColumn(name)) {
      return BadManifest(where + std::to_string(records[0].line) + ": unknown column " +
                         Quoted(name));
    }
    if (std::find(columns.begin(), columns.end(), name) != columns.end()) {
      return BadManifest(where + std::to_string(records[0].line) + ": column " + Quoted(name) +
                         " appears twice");
    }
    columns.push_back(name);
  }
  if (std::find(columns.begin(), columns.end(), kPath) == columns.end()) {
    return BadManifest(where + std::to_string(records[0].line) + ": no 'path' column");
  }
  std::vector<ManifestRow> rows;
  for (size_t r = 1; r < records.size(); ++r) {
    const CsvRecord& rec = records[r];
    if (rec.fields.size() != columns.size()) {
      return BadManifest(where + std::to_string(rec.line) + ": " +
                         std::to_string(rec.fields.size()) + " fields, but the header has " +
                         std::to_string(columns.size()));
    }
    ManifestRow row;
    row.where = where + std::to_string(rec.line);
    for (size_t c = 0; c < columns.size(); ++c) {
      if (!rec.fields[c].empty()) row.fields[columns[c]] = rec.fields[c];
    }
    rows.push_back(std::move(row));
  }
  if (rows.empty()) return BadManifest(std::string(kManifestCsv) + " has a header but no rows");
  return rows;
}

StatusOr<std::vector<ManifestRow>> ParseManifestJson(std::string_view text) {
  const std::string name(kManifestJson);
  Poco::Dynamic::Var parsed;
  try {
    Poco::JSON::Parser parser;
    parsed = parser.parse(std::string(text));
  } catch (const Poco::Exception& e) {
    return BadManifest(name + " is not valid JSON (" + e.message() + ")");
  }
  Poco::JSON::Array::Ptr array;
  try {
    array = parsed.extract<Poco::JSON::Array::Ptr>();
  } catch (const Poco::Exception&) {
  }
  if (!array) return BadManifest(name + " must be a JSON array of rows");
  std::vector<ManifestRow> rows;
  for (size_t i = 0; i < array->size(); ++i) {
    ManifestRow row;
    row.where = name + " row " + std::to_string(i + 1);
    Poco::JSON::Object::Ptr object = array->getObject(static_cast<unsigned>(i));
    if (!object) return BadManifest(row.where + ": a row must be a JSON object");
    for (const std::string& member : object->getNames()) {
      Poco::Dynamic::Var v = object->get(member);
      if (member == "metadata") {
        if (v.isEmpty()) continue;
        Poco::JSON::Object::Ptr metadata = object->getObject(member);
        if (!metadata) return BadManifest(row.where + ": metadata must be a JSON object");
        for (const std::string& field : metadata->getNames()) {
          std::string value;
          if (!IsFieldName(field)) {
            return BadManifest(row.where + ": metadata field " + Quoted(field) +
                               " is not a field name");
          }
          if (!JsonString(metadata->get(field), &value)) {
            return BadManifest(row.where + ": metadata." + field + " must be a string");
          }
          if (!value.empty()) row.fields[kMetadataPrefix + field] = value;
        }
        continue;
      }
      if (member.rfind(kMetadataPrefix, 0) == 0 || !IsKnownColumn(member)) {
        return BadManifest(row.where + ": unknown member " + Quoted(member));
      }
      std::string value;
      if (!JsonString(v, &value))
        return BadManifest(row.where + ": " + member + " must be a string");
      if (!value.empty()) row.fields[member] = value;
    }
    rows.push_back(std::move(row));
  }
  if (rows.empty()) return BadManifest(name + " has no rows");
  return rows;
}

std::vector<PlannedRecord> PlanRecords(const std::vector<ManifestRow>& rows,
                                       std::vector<std::string>* problems) {
  std::vector<Builder> builders;
  std::map<std::string, size_t> by_key;  // recordKey → index in builders
  for (const ManifestRow& row : rows) {
    auto key_it = row.fields.find(kRecordKey);
    std::string key = key_it == row.fields.end() ? "" : key_it->second;
    size_t index = builders.size();
    if (!key.empty()) {
      auto [it, inserted] = by_key.try_emplace(key, index);
      index = it->second;
    }
    if (index == builders.size()) {
      builders.emplace_back();
      builders.back().record.key = key;
      builders.back().record.where = row.where;
    }
    Builder& b = builders[index];
    MergeRecordFields(row, b, problems);

    PlannedFile file;
    file.where = row.where;
    if (!row.fields.count(kPath)) {
      problems->push_back(row.where + ": no path");
      continue;
    }
    if (!EntryPath(row, kPath, &file.entry, problems)) continue;
    if (!EntryPath(row, kSignature, &file.signature, problems)) continue;
    auto name_it = row.fields.find(kName);
    file.name = name_it == row.fields.end() ? LastSegment(file.entry) : name_it->second;
    auto type_it = row.fields.find(kMediaType);
    file.media_type = type_it == row.fields.end() ? GuessMediaType(file.name) : type_it->second;
    if (!b.names.insert(file.name).second) {
      problems->push_back(row.where + ": file name " + Quoted(file.name) +
                          " is used twice in record " + Quoted(key) +
                          " (give one of them another 'name')");
      continue;
    }
    b.record.files.push_back(std::move(file));
  }
  std::vector<PlannedRecord> out;
  for (Builder& b : builders) {
    FinishRecord(b);
    out.push_back(std::move(b.record));
  }
  return out;
}

std::string GuessMediaType(std::string_view name) {
  static const std::map<std::string, std::string> kTypes = {
      {"pdf", "application/pdf"},
      {"ofd", "application/ofd"},
      {"txt", "text/plain"},
      {"csv", "text/csv"},
      {"xml", "application/xml"},
      {"json", "application/json"},
      {"htm", "text/html"},
      {"html", "text/html"},
      {"rtf", "application/rtf"},
      {"doc", "application/msword"},
      {"docx", "application/vnd.openxmlformats-officedocument.wordprocessingml.document"},
      {"xls", "application/vnd.ms-excel"},
      {"xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"},
      {"ppt", "application/vnd.ms-powerpoint"},
      {"pptx", "application/vnd.openxmlformats-officedocument.presentationml.presentation"},
      {"odt", "application/vnd.oasis.opendocument.text"},
      {"ods", "application/vnd.oasis.opendocument.spreadsheet"},
      {"jpg", "image/jpeg"},
      {"jpeg", "image/jpeg"},
      {"png", "image/png"},
      {"gif", "image/gif"},
      {"tif", "image/tiff"},
      {"tiff", "image/tiff"},
      {"eml", "message/rfc822"},
      {"zip", "application/zip"},
      {"p7s", "application/pkcs7-signature"},
  };
  size_t dot = name.rfind('.');
  if (dot == std::string_view::npos || dot + 1 == name.size()) return "application/octet-stream";
  std::string ext = FoldCase(name.substr(dot + 1));
  auto it = kTypes.find(ext);
  return it == kTypes.end() ? "application/octet-stream" : it->second;
}

}  // namespace custos::admin
