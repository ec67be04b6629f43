// The in-memory store: the same contract as the SQLite one
// (store_contract_test.cpp), for tests and fuzzing.
#include "pki/store/store.hpp"

#include <algorithm>
#include <map>
#include <mutex>

namespace scep {

namespace {

class memory_store final : public lab_cert_store {
public:
    result<std::size_t> seed(std::size_t count, const cert_record& tmpl, const std::string& tag) override {
        for (std::size_t i = 0; i < count; ++i)
            if (auto x = insert(seed_row(tmpl, tag, i)); !x) return x.err();
        return count;
    }

    result<insert_outcome> insert(const cert_record& rec) override {
        std::lock_guard lock(mu_);
        for (const auto& r : rows_) {
            if (!rec.transaction_id.empty() && r.transaction_id == rec.transaction_id)
                return insert_outcome::duplicate_transaction;
            if (r.serial == rec.serial) return make_error("duplicate serial " + rec.serial);
        }
        rows_.push_back(rec);
        if (rows_.back().created_at.empty()) rows_.back().created_at = now_iso8601();
        return insert_outcome::inserted;
    }
    result<insert_outcome> insert_renewal(const cert_record& rec, const renewal_step& step) override {
        std::lock_guard lock(mu_);
        auto old = std::find_if(rows_.begin(), rows_.end(), [&](const cert_record& r) { return r.serial == step.serial; });
        if (old == rows_.end() || !(old->status == "valid" || (step.allow_repeat && old->status == "superseded")))
            return insert_outcome::already_renewed;
        for (const auto& r : rows_) {
            if (!rec.transaction_id.empty() && r.transaction_id == rec.transaction_id)
                return insert_outcome::duplicate_transaction;
            if (r.serial == rec.serial) return make_error("duplicate serial " + rec.serial);
        }
        if (step.revoke) {
            old->status = "revoked";
            old->revoked_at = iso8601(step.when);
            revoked_times_[old->serial] = step.when;
            old->revocation_reason = 4;
        } else {
            old->status = "superseded";
        }
        rows_.push_back(rec);
        if (rows_.back().created_at.empty()) rows_.back().created_at = now_iso8601();
        return insert_outcome::inserted;
    }
    result<bool> key_compromised(const std::string& public_key_sha256) override {
        std::lock_guard lock(mu_);
        return std::any_of(rows_.begin(), rows_.end(), [&](const cert_record& r) {
            return r.public_key_sha256 == public_key_sha256 && r.revocation_reason == 1;
        });
    }
    result<std::optional<cert_record>> find_by_transaction(const std::string& txid) override {
        std::lock_guard lock(mu_);
        // As in SQLite, where an empty ID is stored as NULL: "none" matches nothing.
        for (const auto& r : rows_)
            if (!txid.empty() && r.transaction_id == txid) return std::optional<cert_record>(r);
        return std::optional<cert_record>();
    }
    result<std::optional<cert_record>> find_by_serial(const std::string& serial) override {
        std::lock_guard lock(mu_);
        for (const auto& r : rows_)
            if (r.serial == serial) return std::optional<cert_record>(r);
        return std::optional<cert_record>();
    }
    result<std::vector<cert_record>> list(std::size_t limit, std::size_t offset) override {
        std::lock_guard lock(mu_);
        std::vector<cert_record> out;
        for (auto it = rows_.rbegin(); it != rows_.rend(); ++it) {
            if (offset > 0) {
                --offset;
                continue;
            }
            if (out.size() == limit) break;
            out.push_back(*it);
        }
        return out;
    }
    result<std::int64_t> count() override {
        std::lock_guard lock(mu_);
        return static_cast<std::int64_t>(rows_.size());
    }

    result<cert_page> search(const cert_query& q) override {
        std::lock_guard lock(mu_);
        auto lower = [](std::string v) {
            for (char& c : v) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
            return v;
        };
        cert_page page;
        std::size_t skip = q.offset;
        for (auto it = rows_.rbegin(); it != rows_.rend(); ++it) {
            const auto& r = *it;
            if (!q.subject.empty() && lower(r.subject).find(lower(q.subject)) == std::string::npos) continue;
            if (!q.serial.empty() && r.serial != q.serial) continue;
            if (!q.status.empty() && r.status != q.status) continue;
            if (!q.since.empty() && r.created_at < q.since) continue;
            if (!q.until.empty() && !(r.created_at < q.until)) continue;
            ++page.total;
            if (skip > 0) {
                --skip;
                continue;
            }
            if (page.items.size() < q.limit) page.items.push_back(r);
        }
        return page;
    }
    result<std::map<std::string, std::int64_t>> count_by_status() override {
        std::lock_guard lock(mu_);
        std::map<std::string, std::int64_t> out;
        for (const auto& r : rows_) ++out[r.status];
        return out;
    }
    result<std::int64_t> reset() override {
        std::lock_guard lock(mu_);
        auto n = static_cast<std::int64_t>(rows_.size() + pending_.size());
        rows_.clear();
        pending_.clear();
        revoked_times_.clear();
        return n;
    }

    result<revoke_outcome> revoke(const std::string& serial, int reason,
                                  std::chrono::system_clock::time_point when) override {
        std::lock_guard lock(mu_);
        for (auto& r : rows_) {
            if (r.serial != serial) continue;
            if (r.status == "revoked") return revoke_outcome::already_revoked;
            r.status = "revoked";
            r.revoked_at = iso8601(when);
            revoked_times_[serial] = when;
            r.revocation_reason = reason;
            return revoke_outcome::revoked;
        }
        return revoke_outcome::not_found;
    }
    result<void> supersede(const std::string& serial) override {
        std::lock_guard lock(mu_);
        for (auto& r : rows_)
            if (r.serial == serial && r.status == "valid") r.status = "superseded";
        return {};
    }
    result<void> probe_write() override { return {}; }

    result<void> release_transaction(const std::string& txid) override {
        std::lock_guard lock(mu_);
        for (auto& r : rows_)
            if (r.transaction_id == txid) r.transaction_id.clear();
        std::erase_if(pending_, [&](const pending_record& p) { return p.transaction_id == txid && p.status == "issued"; });
        return {};
    }
    result<std::vector<revoked_entry>> revoked_by(const std::string& aki) override {
        std::lock_guard lock(mu_);
        std::vector<revoked_entry> out;
        for (const auto& r : rows_)
            if (r.authority_key_id == aki && r.status == "revoked") {
                auto when = revoked_times_.find(r.serial);
                if (when == revoked_times_.end())  // inserted revoked: no revocation went through this store
                    return make_error("certificate " + r.serial + " is revoked at a time the store does not know");
                out.push_back({r.serial, when->second, r.revocation_reason});
            }
        return out;
    }
    result<void> add_pending(const pending_record& rec) override {
        std::lock_guard lock(mu_);
        for (const auto& p : pending_)
            if (p.transaction_id == rec.transaction_id) return {};
        pending_.push_back(rec);
        if (pending_.back().created_at.empty()) pending_.back().created_at = now_iso8601();
        return {};
    }
    result<std::optional<pending_record>> find_pending(const std::string& txid) override {
        std::lock_guard lock(mu_);
        for (const auto& p : pending_)
            if (p.transaction_id == txid) return std::optional<pending_record>(p);
        return std::optional<pending_record>();
    }
    result<decide_outcome> decide_pending(const std::string& txid, bool approve, const std::string& reason) override {
        std::lock_guard lock(mu_);
        for (auto& p : pending_) {
            if (p.transaction_id != txid) continue;
            if (p.status != "pending") return decide_outcome::not_pending;
            p.status = approve ? "approved" : "rejected";
            p.reason = reason;
            p.decided_at = now_iso8601();
            return decide_outcome::decided;
        }
        return decide_outcome::not_found;
    }
    result<void> mark_pending_issued(const std::string& txid, const std::string& serial) override {
        std::lock_guard lock(mu_);
        for (auto& p : pending_)
            if (p.transaction_id == txid) {
                p.status = "issued";
                p.issued_serial = serial;
            }
        return {};
    }
    result<std::vector<pending_record>> list_pending(bool all) override {
        std::lock_guard lock(mu_);
        std::vector<pending_record> out;
        for (const auto& p : pending_)
            if (all || p.status == "pending") out.push_back(p);
        return out;
    }

private:
    std::mutex mu_;
    std::vector<cert_record> rows_;
    std::vector<pending_record> pending_;
    std::map<std::string, std::chrono::system_clock::time_point> revoked_times_;  // by serial, for CRLs
};

}  // namespace

std::unique_ptr<lab_cert_store> make_memory_store() { return std::make_unique<memory_store>(); }

}  // namespace scep
