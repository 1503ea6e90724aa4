// The SQL DerivedCacheRepository (storage/derived_cache.h), for the SQLite
// and PostgreSQL stores alike: portable statements with $n placeholders
// over the table of schema migration 10. Transaction::derived() of the SQL
// stores (storage/sql_repositories.h) is one of these.
#pragma once

#include <memory>

#include "storage/derived_cache.h"
#include "storage/sql_util.h"

namespace custos::storage {

// A repository over `connection`, which must already be inside a database
// transaction and outlive the repository. With `writable` false (a Read()
// transaction) every write fails with kInternal "read_only_transaction".
std::unique_ptr<DerivedCacheRepository> MakeSqlDerivedCache(sql::Connection& connection,
                                                            bool writable);

}  // namespace custos::storage
