#include "storage/sql_util.h"

#include <Poco/Data/RecordSet.h>
#include <Poco/Data/Statement.h>

#include <cstring>

namespace custos::storage::sql {

using Poco::Data::Keywords::bind;

Param P(const crypto::Bytes& b) { return Param(Blob(b.data(), b.size())); }
Param P(const crypto::Digest32& d) { return Param(Blob(d.data(), d.size())); }

std::string Rows::Text(size_t row, size_t col) const {
  if (nulls[row][col]) return {};
  return rows[row][col].convert<std::string>();
}

int64_t Rows::Int(size_t row, size_t col) const {
  if (nulls[row][col]) return 0;
  return rows[row][col].convert<Poco::Int64>();
}

crypto::Bytes Rows::Bytes(size_t row, size_t col) const {
  if (nulls[row][col]) return {};
  const Poco::Dynamic::Var& v = rows[row][col];
  if (v.type() == typeid(Blob)) {
    const Blob& b = v.extract<Blob>();
    return crypto::Bytes(b.rawContent(), b.rawContent() + b.size());
  }
  std::string s = v.convert<std::string>();
  return crypto::Bytes(s.begin(), s.end());
}

Status FromException(const Poco::Exception& e, const std::string& what) {
  std::string text = e.displayText();
  if (text.find("full") != std::string::npos || text.find("No space") != std::string::npos) {
    return ResourceExhausted("storage full while " + what + ": " + text, "storage_full");
  }
  return Internal("database error while " + what + ": " + text, "database_error");
}

namespace {

void BindAll(Poco::Data::Statement& st, const Params& params) {
  for (const Param& p : params) {
    std::visit([&st](const auto& v) { st, bind(v); }, p);
  }
}

}  // namespace

Status Exec(Poco::Data::Session& session, const std::string& sql, const Params& params) {
  try {
    Poco::Data::Statement st(session);
    st << sql;
    BindAll(st, params);
    st.execute();
    return Status::Ok();
  } catch (const Poco::Exception& e) {
    return FromException(e, "executing " + sql.substr(0, 40));
  }
}

StatusOr<Rows> Query(Poco::Data::Session& session, const std::string& sql, const Params& params) {
  try {
    Poco::Data::Statement st(session);
    st << sql;
    BindAll(st, params);
    st.execute();
    Poco::Data::RecordSet rs(st);
    Rows out;
    size_t cols = rs.columnCount();
    size_t n = rs.rowCount();
    out.rows.resize(n);
    out.nulls.resize(n);
    for (size_t r = 0; r < n; ++r) {
      out.rows[r].reserve(cols);
      out.nulls[r].reserve(cols);
      for (size_t c = 0; c < cols; ++c) {
        bool null = rs.isNull(c, r);
        out.nulls[r].push_back(null);
        out.rows[r].push_back(null ? Poco::Dynamic::Var() : rs.value(c, r));
      }
    }
    return out;
  } catch (const Poco::Exception& e) {
    return FromException(e, "querying " + sql.substr(0, 40));
  }
}

StatusOr<crypto::Digest32> ToDigest(const crypto::Bytes& b) {
  if (b.size() != 32) return DataLoss("stored hash is not 32 bytes", "stored_hash_malformed");
  crypto::Digest32 d;
  std::memcpy(d.data(), b.data(), 32);
  return d;
}

}  // namespace custos::storage::sql
