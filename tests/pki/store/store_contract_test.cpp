// The store contract: every method of cert_store, run against both
// implementations (SQLite for the server, in-memory for unit tests), so
// that the in-memory store cannot drift from the one the server uses.
#include <gtest/gtest.h>

#include "pki/store/store.hpp"
#include "support/test_support.hpp"

namespace scep {
namespace {

// Midnight UTC on a day of March 2026.
std::chrono::system_clock::time_point march(unsigned day) {
    return std::chrono::sys_days{std::chrono::year{2026} / std::chrono::March / std::chrono::day{day}};
}

struct sqlite_impl {
    test::temp_dir dir;
    std::unique_ptr<lab_cert_store> make() {
        auto s = open_sqlite_store(dir.path() / "contract.db");
        if (!s) throw std::runtime_error(s.message());
        return std::move(*s);
    }
};
struct memory_impl {
    std::unique_ptr<lab_cert_store> make() { return make_memory_store(); }
};

template <class Impl>
class store_contract : public ::testing::Test {
protected:
    Impl impl_;
    std::unique_ptr<lab_cert_store> store_ = impl_.make();

    static cert_record record(const std::string& serial, const std::string& txid, const std::string& subject,
                              const std::string& created_at, const std::string& aki = "AA") {
        cert_record r;
        r.serial = serial;
        r.subject = subject;
        r.sans = "DNS:" + serial + ".lab";
        r.issuer = "CN=Issuing";
        r.not_before = "2026-01-01T00:00:00Z";
        r.not_after = "2027-01-01T00:00:00Z";
        r.transaction_id = txid;
        r.requester = "192.0.2.9";
        r.public_key_sha256 = "key-" + serial;
        r.der = bytes{0x30, 0x03, 0x02, 0x01, 0x01};
        r.created_at = created_at;
        r.authority_key_id = aki;
        return r;
    }
    void fill() {
        ASSERT_EQ(*store_->insert(record("0A", "T1", "CN=alpha,O=Lab", "2026-03-01T10:00:00Z")), insert_outcome::inserted);
        ASSERT_EQ(*store_->insert(record("0B", "T2", "CN=beta,O=Lab", "2026-03-02T10:00:00Z")), insert_outcome::inserted);
        ASSERT_EQ(*store_->insert(record("0C", "", "CN=Gamma,O=Other", "2026-03-03T10:00:00Z", "BB")),
                  insert_outcome::inserted);
    }
    pending_record pending(const std::string& txid, const std::string& replaces = "") {
        pending_record p;
        p.transaction_id = txid;
        p.subject = "CN=held-" + txid;
        p.requester = "192.0.2.10";
        p.public_key_sha256 = "held-key-" + txid;
        p.csr = bytes{0x30, 0x00};
        p.replaces_serial = replaces;
        p.reason = "manual approval";
        return p;
    }
};

using implementations = ::testing::Types<sqlite_impl, memory_impl>;
TYPED_TEST_SUITE(store_contract, implementations);

TYPED_TEST(store_contract, insert_find_count_and_duplicate_transactions) {
    this->fill();
    auto& s = *this->store_;
    EXPECT_EQ(*s.count(), 3);
    EXPECT_EQ(*s.insert(this->record("0D", "T1", "CN=dup", "2026-03-04T00:00:00Z")),
              insert_outcome::duplicate_transaction);
    EXPECT_EQ(*s.count(), 3);
    // Certificates issued outside SCEP have no transactionID; several may.
    EXPECT_EQ(*s.insert(this->record("0E", "", "CN=no-txid", "2026-03-05T00:00:00Z")), insert_outcome::inserted);
    auto t2 = s.find_by_transaction("T2");
    ASSERT_TRUE(t2 && *t2);
    EXPECT_EQ((*t2)->serial, "0B");
    EXPECT_EQ((*t2)->sans, "DNS:0B.lab");
    EXPECT_EQ((*t2)->der, (bytes{0x30, 0x03, 0x02, 0x01, 0x01}));
    EXPECT_EQ((*t2)->status, "valid");
    EXPECT_FALSE(*s.find_by_transaction("unknown"));
    EXPECT_FALSE(*s.find_by_transaction(""));  // "none" is not a transaction
    auto c = s.find_by_serial("0C");
    ASSERT_TRUE(c && *c);
    EXPECT_EQ((*c)->authority_key_id, "BB");
    EXPECT_FALSE(*s.find_by_serial("FF"));
}

TYPED_TEST(store_contract, list_is_newest_first_with_paging) {
    this->fill();
    auto all = this->store_->list(10, 0);
    ASSERT_TRUE(all);
    ASSERT_EQ(all->size(), 3u);
    EXPECT_EQ(all->at(0).serial, "0C");
    EXPECT_EQ(all->at(2).serial, "0A");
    auto page = this->store_->list(1, 1);
    ASSERT_EQ(page->size(), 1u);
    EXPECT_EQ(page->at(0).serial, "0B");
    EXPECT_TRUE(this->store_->list(10, 5)->empty());
}

TYPED_TEST(store_contract, search_filters_and_counts_the_total) {
    this->fill();
    auto& s = *this->store_;
    auto by_subject = s.search({.subject = "LAB"});  // case-insensitive substring
    ASSERT_TRUE(by_subject);
    EXPECT_EQ(by_subject->total, 2);
    ASSERT_EQ(by_subject->items.size(), 2u);
    EXPECT_EQ(by_subject->items.front().serial, "0B");
    EXPECT_EQ(s.search({.serial = "0C"})->total, 1);
    EXPECT_EQ(s.search({.since = "2026-03-02"})->total, 2);
    EXPECT_EQ(s.search({.until = "2026-03-02"})->total, 1);
    auto paged = s.search({.limit = 1, .offset = 1});
    EXPECT_EQ(paged->total, 3);
    ASSERT_EQ(paged->items.size(), 1u);
    EXPECT_EQ(paged->items.front().serial, "0B");
    ASSERT_EQ(*s.revoke("0A", 1, march(5)), revoke_outcome::revoked);
    EXPECT_EQ(s.search({.status = "revoked"})->total, 1);
    EXPECT_EQ(s.search({.status = "valid"})->total, 2);
    // Patterns are data, not syntax.
    EXPECT_EQ(s.search({.subject = "%"})->total, 0);
    EXPECT_EQ(s.search({.subject = "_"})->total, 0);
}

TYPED_TEST(store_contract, revoke_supersede_and_count_by_status) {
    this->fill();
    auto& s = *this->store_;
    EXPECT_EQ(*s.revoke("0A", 1, march(5)), revoke_outcome::revoked);
    EXPECT_EQ(*s.revoke("0A", 4, march(6)), revoke_outcome::already_revoked);
    EXPECT_EQ(*s.revoke("FF", 1, march(5)), revoke_outcome::not_found);
    auto a = *s.find_by_serial("0A");
    EXPECT_EQ(a->status, "revoked");
    EXPECT_EQ(a->revocation_reason, 1);  // the first revocation stands
    EXPECT_EQ(a->revoked_at, "2026-03-05T00:00:00Z");
    ASSERT_TRUE(s.supersede("0B"));
    EXPECT_EQ((*s.find_by_serial("0B"))->status, "superseded");
    auto counts = s.count_by_status();
    ASSERT_TRUE(counts);
    EXPECT_EQ(counts->at("revoked"), 1);
    EXPECT_EQ(counts->at("superseded"), 1);
    EXPECT_EQ(counts->at("valid"), 1);
    // revoked_by: per issuing key, for that CA's CRL.
    auto aa = s.revoked_by("AA");
    ASSERT_TRUE(aa);
    ASSERT_EQ(aa->size(), 1u);
    EXPECT_EQ(aa->front().serial, "0A");
    EXPECT_EQ(aa->front().revoked_at, march(5));  // the time of the first revocation, as a time
    EXPECT_EQ(aa->front().reason, 1);
    EXPECT_TRUE(s.revoked_by("BB")->empty());
}

TYPED_TEST(store_contract, release_transaction_frees_the_id_for_a_renewal) {
    this->fill();
    auto& s = *this->store_;
    ASSERT_TRUE(s.release_transaction("T1"));
    EXPECT_FALSE(*s.find_by_transaction("T1"));
    EXPECT_TRUE(*s.find_by_serial("0A"));  // the certificate stays
    EXPECT_EQ(*s.insert(this->record("0D", "T1", "CN=alpha,O=Lab", "2026-03-04T00:00:00Z")), insert_outcome::inserted);
}

TYPED_TEST(store_contract, pending_requests_live_through_their_decisions) {
    auto& s = *this->store_;
    ASSERT_TRUE(s.add_pending(this->pending("P1")));
    ASSERT_TRUE(s.add_pending(this->pending("P2", "0A")));
    // Adding an existing transaction leaves it as it is.
    auto again = this->pending("P1");
    again.subject = "CN=changed";
    ASSERT_TRUE(s.add_pending(again));
    auto p1 = s.find_pending("P1");
    ASSERT_TRUE(p1 && *p1);
    EXPECT_EQ((*p1)->subject, "CN=held-P1");
    EXPECT_EQ((*p1)->status, "pending");
    EXPECT_EQ((*p1)->csr, (bytes{0x30, 0x00}));
    EXPECT_EQ((*s.find_pending("P2"))->replaces_serial, "0A");
    EXPECT_FALSE(*s.find_pending("unknown"));
    EXPECT_EQ(s.list_pending(false)->size(), 2u);

    EXPECT_EQ(*s.decide_pending("P1", true, ""), decide_outcome::decided);
    EXPECT_EQ(*s.decide_pending("P1", false, "late"), decide_outcome::not_pending);
    EXPECT_EQ(*s.decide_pending("P2", false, "not in inventory"), decide_outcome::decided);
    EXPECT_EQ(*s.decide_pending("P9", true, ""), decide_outcome::not_found);
    EXPECT_EQ((*s.find_pending("P1"))->status, "approved");
    auto p2 = *s.find_pending("P2");
    EXPECT_EQ(p2->status, "rejected");
    EXPECT_EQ(p2->reason, "not in inventory");
    EXPECT_FALSE(p2->decided_at.empty());
    EXPECT_TRUE(s.list_pending(false)->empty());  // none waiting
    auto all = s.list_pending(true);
    ASSERT_EQ(all->size(), 2u);
    EXPECT_EQ(all->front().transaction_id, "P1");  // oldest first

    ASSERT_TRUE(s.mark_pending_issued("P1", "0A"));
    auto issued = *s.find_pending("P1");
    EXPECT_EQ(issued->status, "issued");
    EXPECT_EQ(issued->issued_serial, "0A");
    // A finished pending entry is released with its transaction.
    ASSERT_TRUE(s.release_transaction("P1"));
    EXPECT_FALSE(*s.find_pending("P1"));
}

TYPED_TEST(store_contract, reset_seed_and_probe_write) {
    this->fill();
    auto& s = *this->store_;
    ASSERT_TRUE(s.add_pending(this->pending("P1")));
    EXPECT_TRUE(s.probe_write());
    auto gone = s.reset();
    ASSERT_TRUE(gone);
    EXPECT_EQ(*gone, 4);  // three certificates and one pending request
    EXPECT_EQ(*s.count(), 0);
    EXPECT_TRUE(s.list_pending(true)->empty());
    auto seeded = s.seed(25, this->record("00", "", "CN=template", "2026-03-01T00:00:00Z"), "ab");
    ASSERT_TRUE(seeded);
    EXPECT_EQ(*seeded, 25u);
    EXPECT_EQ(*s.count(), 25);
    EXPECT_EQ(s.search({.subject = "seed-ab-7,"})->total, 1);
    EXPECT_TRUE(s.probe_write());
}

TYPED_TEST(store_contract, a_renewal_supersedes_in_the_same_step_as_its_insert) {
    this->fill();
    auto& s = *this->store_;
    // The first renewal of 0A wins; a second (released at the same time in
    // the service) finds 0A no longer valid and writes nothing.
    EXPECT_EQ(*s.insert_renewal(this->record("1A", "R1", "CN=alpha,O=Lab", "2026-04-01T00:00:00Z"), {.serial = "0A"}),
              insert_outcome::inserted);
    EXPECT_EQ((*s.find_by_serial("0A"))->status, "superseded");
    EXPECT_EQ(*s.insert_renewal(this->record("2A", "R2", "CN=alpha,O=Lab", "2026-04-01T00:00:01Z"), {.serial = "0A"}),
              insert_outcome::already_renewed);
    EXPECT_FALSE(*s.find_by_serial("2A"));
    EXPECT_FALSE(*s.find_by_transaction("R2"));
    // renewal.allow_repeat: a superseded certificate may be renewed again.
    EXPECT_EQ(*s.insert_renewal(this->record("3A", "R3", "CN=alpha,O=Lab", "2026-04-01T00:00:02Z"),
                                {.serial = "0A", .allow_repeat = true}),
              insert_outcome::inserted);
    // renewal.revoke_replaced: the renewed certificate is revoked (superseded, 4) with the insert.
    EXPECT_EQ(*s.insert_renewal(this->record("1B", "R4", "CN=beta,O=Lab", "2026-04-01T00:00:03Z"),
                                {.serial = "0B", .revoke = true, .when = march(31)}),
              insert_outcome::inserted);
    auto b = *s.find_by_serial("0B");
    EXPECT_EQ(b->status, "revoked");
    EXPECT_EQ(b->revocation_reason, 4);
    EXPECT_EQ(b->revoked_at, "2026-03-31T00:00:00Z");
    EXPECT_EQ(*s.insert_renewal(this->record("2B", "R5", "CN=beta,O=Lab", "2026-04-01T00:00:04Z"),
                                {.serial = "0B", .allow_repeat = true}),
              insert_outcome::already_renewed);  // revoked stays revoked
    // A duplicate transaction leaves the renewed certificate as it was.
    EXPECT_EQ(*s.insert_renewal(this->record("1C", "T1", "CN=Gamma,O=Other", "2026-04-01T00:00:05Z"), {.serial = "0C"}),
              insert_outcome::duplicate_transaction);
    EXPECT_EQ((*s.find_by_serial("0C"))->status, "valid");
    EXPECT_EQ(*s.insert_renewal(this->record("1D", "R6", "CN=x", "2026-04-01T00:00:06Z"), {.serial = "FF"}),
              insert_outcome::already_renewed);  // nothing to renew
}

TYPED_TEST(store_contract, keys_revoked_for_key_compromise_are_remembered) {
    this->fill();
    auto& s = *this->store_;
    EXPECT_FALSE(*s.key_compromised("key-0A"));
    ASSERT_TRUE(s.revoke("0B", 4, march(31)));  // superseded: the key is not compromised
    EXPECT_FALSE(*s.key_compromised("key-0B"));
    ASSERT_TRUE(s.revoke("0A", 1, march(31)));
    EXPECT_TRUE(*s.key_compromised("key-0A"));
    EXPECT_FALSE(*s.key_compromised("key-0C"));
}

}  // namespace
}  // namespace scep
