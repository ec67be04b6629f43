// Dynamic challenges (docs/challenges.md, [challenge] mode = "api"): each one
// handed out by the admin API with an expiry, a number of uses and bindings,
// kept in <data_dir>/challenges.db so they survive restarts. Only the
// challenge's SHA-256 is stored; spending a use is one conditional UPDATE, so
// two enrollments racing for a single-use challenge cannot both win.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "pki/crypto/result.hpp"

struct sqlite3;

namespace scep {

struct challenge_row {
    std::string handle;          // public name ("ch-" and 16 hex digits): list and revoke use it
    std::int64_t created_at = 0;  // Unix seconds
    std::int64_t expires_at = 0;
    int uses_total = 1;
    int uses_left = 1;
    bool revoked = false;
    std::string bindings;  // opaque to the store: JSON the verifier reads
    std::string label;     // free text from whoever asked (a device ID)
};

class challenge_store {
public:
    // Opens (creating) the file, owner-only.
    static result<std::unique_ptr<challenge_store>> open(const std::filesystem::path& file);
    ~challenge_store();
    challenge_store(const challenge_store&) = delete;
    challenge_store& operator=(const challenge_store&) = delete;

    // `secret_sha256`: hex of the challenge's SHA-256. Fails on a duplicate.
    result<void> add(const std::string& secret_sha256, const challenge_row& row);
    // Newest first; `all` includes spent, expired and revoked ones.
    result<std::vector<challenge_row>> list(std::int64_t now, bool all, std::size_t limit = 1000) const;
    // false: no such handle.
    result<bool> revoke(const std::string& handle);
    // The row of this secret, whatever its state (to tell why it is refused).
    result<std::optional<challenge_row>> find(const std::string& secret_sha256) const;
    // Takes one use if the challenge is live (not revoked, not expired, uses
    // left): true when this call took it.
    result<bool> spend(const std::string& secret_sha256, std::int64_t now);
    // Deletes rows expired more than `keep_seconds` ago; how many.
    result<std::size_t> purge(std::int64_t now, std::int64_t keep_seconds);

private:
    explicit challenge_store(sqlite3* db);
    sqlite3* db_;
    mutable std::mutex mu_;
};

}  // namespace scep
