// Certificate store: one interface, a SQLite implementation for the server and
// an in-memory one for unit tests (smallstep's AuthDB/SimpleDB/MockDB split).
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "pki/crypto/ossl.hpp"

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
    std::string authority_key_id;  // hex key id of the issuing CA: which CRL lists it
    std::string replaces_serial;   // renewal: the certificate this one replaces
    std::string revoked_at;        // ISO 8601 UTC, when status is "revoked"
    int revocation_reason = 0;     // RFC 5280 CRLReason
};

// A revoked certificate as its CA's CRL lists it (RFC 5280 §5.1.2.6).
struct revoked_entry {
    std::string serial;  // upper-case hex
    std::chrono::system_clock::time_point revoked_at;
    int reason = 0;  // RFC 5280 CRLReason
};

// A request held for approval (RFC 8894 §3.3.2 PENDING), kept across restarts.
struct pending_record {
    std::string transaction_id;
    std::string status = "pending";  // pending | approved | rejected | issued
    std::string subject;
    std::string requester;
    std::string public_key_sha256;
    bytes csr;
    std::string replaces_serial;  // a renewal held for approval
    std::string reason;           // why it waits, or why it was rejected
    std::string issued_serial;
    std::string created_at;
    std::string decided_at;
};

enum class revoke_outcome { revoked, not_found, already_revoked };
enum class decide_outcome { decided, not_found, not_pending };

std::string now_iso8601();
// Unix seconds as "2026-12-02T01:05:10Z".
std::string unix_time_iso8601(std::int64_t t);
std::string iso8601(std::chrono::system_clock::time_point t);

// Fills the certificate-derived fields of a record.
cert_record make_record(const X509& cert);

// already_renewed: a renewal's insert found the certificate it renews no
// longer renewable (renewed or revoked meanwhile); nothing was written.
enum class insert_outcome { inserted, duplicate_transaction, already_renewed };

// What a renewal's insert does to the certificate it renews, in the same
// transaction as the insert: its status is the insert's condition, so two
// renewals of one certificate released together give one successor.
struct renewal_step {
    std::string serial;         // the certificate being renewed
    bool revoke = false;        // revoke it (CRLReason superseded, at `when`) instead of marking it superseded
    std::chrono::system_clock::time_point when{};  // with revoke
    bool allow_repeat = false;  // a certificate already superseded may be renewed again
};

// Filters for the admin API and `scep-lab list`; empty fields do not filter.
struct cert_query {
    std::string subject;  // substring of the subject, case-insensitive
    std::string serial;   // exact, upper-case hex as stored
    std::string status;   // valid | revoked | superseded
    std::string since;    // issued (created_at) at or after, ISO 8601
    std::string until;    // issued before, ISO 8601
    std::size_t limit = 100;
    std::size_t offset = 0;
};
struct cert_page {
    std::int64_t total = 0;  // matches without limit/offset
    std::vector<cert_record> items;  // newest first
};

class cert_store {
public:
    virtual ~cert_store() = default;
    // Commits the row before returning (the CertRep is sent after this).
    virtual result<insert_outcome> insert(const cert_record& rec) = 0;
    // A renewal: the renewed certificate is superseded (or revoked) and the
    // new one inserted in one step, or neither (already_renewed).
    virtual result<insert_outcome> insert_renewal(const cert_record& rec, const renewal_step& step) = 0;
    // Whether a certificate for this key (SHA-256 of its SubjectPublicKeyInfo,
    // hex) was revoked for keyCompromise (RFC 5280 §5.3.1, reason 1).
    virtual result<bool> key_compromised(const std::string& public_key_sha256) = 0;
    virtual result<std::optional<cert_record>> find_by_transaction(const std::string& transaction_id) = 0;
    virtual result<std::optional<cert_record>> find_by_serial(const std::string& serial) = 0;
    // Newest first.
    virtual result<std::vector<cert_record>> list(std::size_t limit, std::size_t offset) = 0;
    virtual result<std::int64_t> count() = 0;
    virtual result<cert_page> search(const cert_query& q) = 0;
    virtual result<std::map<std::string, std::int64_t>> count_by_status() = 0;

    // Marks the certificate revoked (status "revoked", time, CRLReason).
    virtual result<revoke_outcome> revoke(const std::string& serial, int reason,
                                          std::chrono::system_clock::time_point when) = 0;
    // Marks a renewed certificate "superseded" (it stays valid for relying parties).
    virtual result<void> supersede(const std::string& serial) = 0;
    // A write that changes nothing: succeeds when the store can take writes
    // again after one failed (disk full, file made read-only).
    virtual result<void> probe_write() = 0;
    // Frees a transactionID held by an earlier certificate (and its finished
    // pending entry): clients that derive the ID from the key reuse it on renewal.
    virtual result<void> release_transaction(const std::string& transaction_id) = 0;
    // Revoked certificates issued under one CA key, for its CRL.
    virtual result<std::vector<revoked_entry>> revoked_by(const std::string& authority_key_id) = 0;

    // Adds a pending request; an existing transaction is left as it is.
    virtual result<void> add_pending(const pending_record& rec) = 0;
    virtual result<std::optional<pending_record>> find_pending(const std::string& transaction_id) = 0;
    // pending -> approved | rejected, with a reason.
    virtual result<decide_outcome> decide_pending(const std::string& transaction_id, bool approve,
                                                  const std::string& reason) = 0;
    virtual result<void> mark_pending_issued(const std::string& transaction_id, const std::string& serial) = 0;
    // Oldest first; only those still waiting unless `all`.
    virtual result<std::vector<pending_record>> list_pending(bool all) = 0;
};

// What only a lab does to its store, never the protocol path: empty it
// (`scep-lab store reset`, POST /admin/api/reset) and fill it with
// placeholder rows (`scep-lab store seed`).
class lab_store {
public:
    virtual ~lab_store() = default;
    // Deletes every certificate and pending request; returns how many rows went.
    virtual result<std::int64_t> reset() = 0;
    // Adds `count` placeholder rows shaped like `tmpl` (its DER and names;
    // serial, subject and transactionID made unique from `tag`), in large
    // transactions, to measure the server on a full store.
    virtual result<std::size_t> seed(std::size_t count, const cert_record& tmpl, const std::string& tag) = 0;
};

// A store as the lab opens it: both faces. Code on the protocol path takes
// a cert_store&.
class lab_cert_store : public cert_store, public lab_store {};

// Opens (creating and migrating as needed) the SQLite store at `file`.
result<std::unique_ptr<lab_cert_store>> open_sqlite_store(const std::filesystem::path& file);
std::unique_ptr<lab_cert_store> make_memory_store();

// Row `i` of `scep-lab store seed`: the template's DER and names, made unique.
cert_record seed_row(const cert_record& tmpl, const std::string& tag, std::size_t i);

// The schema version this build writes (PRAGMA user_version).
int store_schema_version();

}  // namespace scep
