// Certificate store: one interface, a SQLite implementation for the server and
// an in-memory one for unit tests (smallstep's AuthDB/SimpleDB/MockDB split).
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "pki/ossl.hpp"

namespace scep {

struct cert_record {
    std::string serial;  // upper-case hex, as `openssl x509 -serial` prints it
    std::string subject;
    std::string sans;
    std::string issuer;
    std::string not_before;  // ISO 8601 UTC
    std::string not_after;
    std::string transaction_id;  // empty for certificates not issued over SCEP
    std::string requester;       // client address
    std::string status = "valid";
    std::string public_key_sha256;  // hex SHA-256 of the SubjectPublicKeyInfo
    bytes der;
    std::string created_at;
};

// Fills the certificate-derived fields of a record.
cert_record make_record(const X509& cert);

enum class insert_outcome { inserted, duplicate_transaction };

class cert_store {
public:
    virtual ~cert_store() = default;
    // Commits the row before returning (the CertRep is sent after this).
    virtual result<insert_outcome> insert(const cert_record& rec) = 0;
    virtual result<std::optional<cert_record>> find_by_transaction(const std::string& transaction_id) = 0;
    virtual result<std::optional<cert_record>> find_by_serial(const std::string& serial) = 0;
    // Newest first.
    virtual result<std::vector<cert_record>> list(std::size_t limit, std::size_t offset) = 0;
    virtual result<std::int64_t> count() = 0;
};

// Opens (creating and migrating as needed) the SQLite store at `file`.
result<std::unique_ptr<cert_store>> open_sqlite_store(const std::filesystem::path& file);
std::unique_ptr<cert_store> make_memory_store();

// The schema version this build writes (PRAGMA user_version).
int store_schema_version();

}  // namespace scep
