#include "pki/ca/hierarchy.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <fstream>

#include "support/test_support.hpp"

namespace scep {
namespace {

namespace fs = std::filesystem;

auto quiet = [](const std::string&) {};

result<hierarchy> open_in(const fs::path& dir, const hierarchy_spec& spec) {
    return hierarchy::open(spec, dir, std::chrono::system_clock::now(), quiet);
}

bool verifies(const hierarchy& h, const X509& leaf) {
    x509_store_ptr store(X509_STORE_new());
    X509_STORE_add_cert(store.get(), const_cast<X509*>(&h.root_cert()));
    x509_stack_ptr untrusted(sk_X509_new_null());
    for (const X509* c : h.chain(false)) sk_X509_push(untrusted.get(), dup(*c).release());
    x509_store_ctx_ptr ctx(X509_STORE_CTX_new());
    X509_STORE_CTX_init(ctx.get(), store.get(), const_cast<X509*>(&leaf), untrusted.get());
    return X509_verify_cert(ctx.get()) == 1;
}

TEST(hierarchy, generates_one_to_four_tiers_that_chain_to_the_root) {
    for (int depth = 1; depth <= 4; ++depth) {
        SCOPED_TRACE(depth);
        test::temp_dir dir;
        auto h = open_in(dir.path(), test::small_spec(depth));
        ASSERT_TRUE(h) << h.message();
        EXPECT_TRUE(h->generated_now());
        ASSERT_EQ(h->tiers().size(), static_cast<std::size_t>(depth));
        EXPECT_TRUE(verifies(*h, h->ra_cert()));
        EXPECT_TRUE(verifies(*h, *h->issuing().cert));
        // pathLen of each CA counts the CAs below it.
        for (int i = 0; i < depth; ++i) {
            basic_constraints_ptr bc(static_cast<BASIC_CONSTRAINTS*>(
                X509_get_ext_d2i(h->tiers()[i].cert.get(), NID_basic_constraints, nullptr, nullptr)));
            ASSERT_TRUE(bc);
            EXPECT_TRUE(bc->ca);
            EXPECT_EQ(ASN1_INTEGER_get(bc->pathlen), depth - 1 - i);
        }
        auto chain_file = read_file(h->chain_file());
        ASSERT_TRUE(chain_file);
        auto certs = x509_list_from_pem(*chain_file);
        ASSERT_TRUE(certs);
        EXPECT_EQ(certs->size(), static_cast<std::size_t>(depth));
    }
}

TEST(hierarchy, writes_private_keys_with_mode_0600) {
    test::temp_dir dir;
    ASSERT_TRUE(open_in(dir.path(), test::small_spec(2)));
    int keys = 0;
    for (const auto& e : fs::directory_iterator(dir.path())) {
        if (e.path().extension() != ".key") continue;
        struct stat st {};
        ASSERT_EQ(::stat(e.path().c_str(), &st), 0);
        EXPECT_EQ(st.st_mode & 0777, 0600u) << e.path();
        ++keys;
    }
    EXPECT_EQ(keys, 3);  // root, issuing, ra
}

TEST(hierarchy, loads_the_same_pki_on_the_next_start) {
    test::temp_dir dir;
    auto first = open_in(dir.path(), test::small_spec(3));
    ASSERT_TRUE(first) << first.message();
    auto second = open_in(dir.path(), test::small_spec(3));
    ASSERT_TRUE(second) << second.message();
    EXPECT_FALSE(second->generated_now());
    for (std::size_t i = 0; i < 3; ++i)
        EXPECT_EQ(X509_cmp(first->tiers()[i].cert.get(), second->tiers()[i].cert.get()), 0);
    EXPECT_EQ(X509_cmp(&first->ra_cert(), &second->ra_cert()), 0);
}

TEST(hierarchy, ra_usages_follow_pki_ra_and_a_changed_setting_reissues_the_ra_with_the_same_key) {
    test::temp_dir dir;
    auto spec = test::small_spec(2);
    auto first = open_in(dir.path(), spec);
    ASSERT_TRUE(first) << first.message();
    auto ku = [](const X509& c) { return X509_get_key_usage(const_cast<X509*>(&c)); };
    auto has_ext = [](const X509& c, int nid) { return X509_get_ext_by_NID(&c, nid, -1) >= 0; };
    EXPECT_EQ(ku(first->ra_cert()), unsigned(KU_DIGITAL_SIGNATURE | KU_KEY_ENCIPHERMENT));
    EXPECT_FALSE(has_ext(first->ra_cert(), NID_ext_key_usage));

    // An RA with only digitalSignature and an EKU: re-issued, same key and subject, still issued by the CA.
    spec.ra.key_usage = {"digitalSignature"};
    spec.ra.extended_key_usage = {"1.3.6.1.4.1.311.20.2.1"};
    std::vector<std::string> notes;
    auto second = hierarchy::open(spec, dir.path(), std::chrono::system_clock::now(),
                                  [&](const std::string& m) { notes.push_back(m); });
    ASSERT_TRUE(second) << second.message();
    EXPECT_EQ(ku(second->ra_cert()), unsigned(KU_DIGITAL_SIGNATURE));
    EXPECT_TRUE(has_ext(second->ra_cert(), NID_ext_key_usage));
    EXPECT_EQ(EVP_PKEY_eq(X509_get0_pubkey(&second->ra_cert()), X509_get0_pubkey(&first->ra_cert())), 1);
    EXPECT_EQ(X509_NAME_cmp(X509_get_subject_name(&second->ra_cert()), X509_get_subject_name(&first->ra_cert())), 0);
    EXPECT_TRUE(verifies(*second, second->ra_cert()));
    ASSERT_EQ(notes.size(), 1u);
    EXPECT_NE(notes[0].find("re-issued the RA certificate"), std::string::npos) << notes[0];
    // Unchanged settings: not re-issued again.
    notes.clear();
    auto third = hierarchy::open(spec, dir.path(), std::chrono::system_clock::now(),
                                 [&](const std::string& m) { notes.push_back(m); });
    ASSERT_TRUE(third);
    EXPECT_TRUE(notes.empty());
    EXPECT_EQ(X509_cmp(&third->ra_cert(), &second->ra_cert()), 0);

    // No key usage at all: the extension is left out.
    spec.ra.key_usage.clear();
    spec.ra.extended_key_usage.clear();
    auto bare = open_in(dir.path(), spec);
    ASSERT_TRUE(bare) << bare.message();
    EXPECT_FALSE(has_ext(bare->ra_cert(), NID_key_usage));
    EXPECT_FALSE(has_ext(bare->ra_cert(), NID_ext_key_usage));
}

TEST(hierarchy, ca_key_usage_applies_when_generated_and_a_later_change_is_reported_not_applied) {
    test::temp_dir dir;
    auto spec = test::small_spec(2, true);  // the issuing CA is its own RA
    spec.tiers.back().key_usage = std::vector<std::string>{"keyCertSign", "cRLSign"};
    auto h = open_in(dir.path(), spec);
    ASSERT_TRUE(h) << h.message();
    EXPECT_EQ(X509_get_key_usage(h->issuing().cert.get()), unsigned(KU_KEY_CERT_SIGN | KU_CRL_SIGN));
    EXPECT_EQ(X509_get_key_usage(const_cast<X509*>(&h->root_cert())),
              unsigned(KU_KEY_CERT_SIGN | KU_CRL_SIGN | KU_DIGITAL_SIGNATURE));  // the default
    spec.tiers.back().key_usage = std::vector<std::string>{"keyCertSign", "cRLSign", "digitalSignature"};
    std::vector<std::string> notes;
    auto again = hierarchy::open(spec, dir.path(), std::chrono::system_clock::now(),
                                 [&](const std::string& m) { notes.push_back(m); });
    ASSERT_TRUE(again) << again.message();
    EXPECT_EQ(X509_cmp(again->issuing().cert.get(), h->issuing().cert.get()), 0);
    ASSERT_EQ(notes.size(), 1u);
    EXPECT_NE(notes[0].find("keeps its key usage"), std::string::npos) << notes[0];
    spec.tiers.back().key_usage = std::vector<std::string>{"keyCertSign", "magic"};
    auto bad = validate(spec);
    ASSERT_FALSE(bad);
    EXPECT_NE(bad.message().find("pki.tiers[1].key_usage"), std::string::npos) << bad.message();
}

TEST(hierarchy, unknown_ra_usages_are_refused_with_the_setting_named) {
    auto spec = test::small_spec(2);
    spec.ra.key_usage = {"digitalSignature", "teleportation"};
    auto v = validate(spec);
    ASSERT_FALSE(v);
    EXPECT_NE(v.message().find("pki.ra.key_usage"), std::string::npos) << v.message();
    EXPECT_NE(v.message().find("teleportation"), std::string::npos) << v.message();
    spec.ra.key_usage = {"digitalSignature,keyEncipherment"};  // one per entry
    EXPECT_FALSE(validate(spec));
    spec.ra.key_usage = {"digitalSignature"};
    spec.ra.extended_key_usage = {"not an oid"};
    auto e = validate(spec);
    ASSERT_FALSE(e);
    EXPECT_NE(e.message().find("pki.ra.extended_key_usage"), std::string::npos) << e.message();
}

TEST(hierarchy, refuses_a_changed_hierarchy_instead_of_regenerating) {
    test::temp_dir dir;
    ASSERT_TRUE(open_in(dir.path(), test::small_spec(2)));
    auto h = open_in(dir.path(), test::small_spec(3));
    ASSERT_FALSE(h);
    EXPECT_NE(h.message().find("never regenerated silently"), std::string::npos) << h.message();
    EXPECT_NE(h.message().find("[root, issuing]"), std::string::npos) << h.message();
}

TEST(hierarchy, names_the_file_of_a_key_that_does_not_match_its_certificate) {
    test::temp_dir dir;
    ASSERT_TRUE(open_in(dir.path(), test::small_spec(2)));
    fs::copy_file(dir.path() / "root.key", dir.path() / "issuing.key", fs::copy_options::overwrite_existing);
    auto h = open_in(dir.path(), test::small_spec(2));
    ASSERT_FALSE(h);
    EXPECT_NE(h.message().find("issuing.key: private key does not match its certificate"), std::string::npos)
        << h.message();
}

TEST(hierarchy, names_the_file_of_a_broken_chain) {
    test::temp_dir a, b;
    ASSERT_TRUE(open_in(a.path(), test::small_spec(2)));
    ASSERT_TRUE(open_in(b.path(), test::small_spec(2)));
    // An issuing CA (with its key) from another lab: it pairs, but does not chain.
    fs::copy_file(b.path() / "issuing.crt", a.path() / "issuing.crt", fs::copy_options::overwrite_existing);
    fs::copy_file(b.path() / "issuing.key", a.path() / "issuing.key", fs::copy_options::overwrite_existing);
    auto h = open_in(a.path(), test::small_spec(2));
    ASSERT_FALSE(h);
    EXPECT_NE(h.message().find("issuing.crt"), std::string::npos) << h.message();
    EXPECT_NE(h.message().find("broken chain"), std::string::npos) << h.message();
}

TEST(hierarchy, names_an_unreadable_file) {
    test::temp_dir dir;
    ASSERT_TRUE(open_in(dir.path(), test::small_spec(2)));
    std::ofstream(dir.path() / "root.crt") << "not a certificate";
    auto h = open_in(dir.path(), test::small_spec(2));
    ASSERT_FALSE(h);
    EXPECT_NE(h.message().find("root.crt"), std::string::npos) << h.message();
}

TEST(hierarchy, refuses_an_ecdsa_ca_acting_as_ra) {
    test::temp_dir dir;
    auto h = open_in(dir.path(), test::small_spec(2, true, key_type::ec_p256));
    ASSERT_FALSE(h);
    EXPECT_NE(h.message().find("must be RSA"), std::string::npos) << h.message();
    EXPECT_TRUE(fs::is_empty(dir.path()));
}

TEST(hierarchy, ecdsa_cas_work_with_a_separate_rsa_ra) {
    test::temp_dir dir;
    auto h = open_in(dir.path(), test::small_spec(3, false, key_type::ec_p384));
    ASSERT_TRUE(h) << h.message();
    EXPECT_TRUE(key_is_ec(*h->issuing().key));
    EXPECT_TRUE(key_is_rsa(h->ra_key()));
    EXPECT_TRUE(verifies(*h, h->ra_cert()));
}

TEST(hierarchy, refuses_zero_or_five_tiers) {
    for (int n : {0, 5}) {
        test::temp_dir dir;
        auto spec = test::small_spec(4);
        if (n == 0) spec.tiers.clear();
        else spec.tiers.push_back({"extra", "CN=Extra", key_type::rsa2048, std::chrono::hours(24)});
        auto h = open_in(dir.path(), spec);
        ASSERT_FALSE(h);
        EXPECT_NE(h.message().find("1 to 4 tiers"), std::string::npos) << h.message();
    }
}

TEST(hierarchy, loads_a_customer_chain_from_pem_files) {
    test::temp_dir customer, lab;
    auto made = open_in(customer.path(), test::small_spec(3));
    ASSERT_TRUE(made) << made.message();
    hierarchy_spec spec;
    spec.bring_your_own = true;
    spec.byo.chain = {customer.path() / "issuing.crt", customer.path() / "intermediate.crt",
                      customer.path() / "root.crt"};
    spec.byo.issuing_key = customer.path() / "issuing.key";
    auto h = open_in(lab.path(), spec);
    ASSERT_TRUE(h) << h.message();
    ASSERT_EQ(h->tiers().size(), 3u);
    EXPECT_EQ(X509_cmp(&h->root_cert(), &made->root_cert()), 0);
    EXPECT_TRUE(verifies(*h, h->ra_cert()));  // an RA was issued from the customer's issuing CA
    EXPECT_TRUE(fs::exists(lab.path() / "ra.crt"));
}

TEST(hierarchy, byo_chain_in_the_wrong_order_names_the_file) {
    test::temp_dir customer, lab;
    ASSERT_TRUE(open_in(customer.path(), test::small_spec(3)));
    hierarchy_spec spec;
    spec.bring_your_own = true;
    spec.byo.chain = {customer.path() / "issuing.crt", customer.path() / "root.crt"};  // intermediate missing
    spec.byo.issuing_key = customer.path() / "issuing.key";
    auto h = open_in(lab.path(), spec);
    ASSERT_FALSE(h);
    EXPECT_NE(h.message().find("issuing.crt"), std::string::npos) << h.message();
    EXPECT_NE(h.message().find("broken chain"), std::string::npos) << h.message();
}

TEST(subject, parses_both_notations_and_rejects_nonsense) {
    auto a = parse_subject("CN=Lab Root,O=scep-lab");
    ASSERT_TRUE(a);
    EXPECT_EQ(name_to_string(**a), "CN=Lab Root,O=scep-lab");
    auto b = parse_subject("/O=scep-lab/CN=Lab\\, Root");
    ASSERT_TRUE(b);
    EXPECT_EQ(X509_NAME_entry_count(b->get()), 2);
    EXPECT_FALSE(parse_subject(""));
    EXPECT_FALSE(parse_subject("CN"));
    auto bad = parse_subject("XX=1");
    ASSERT_FALSE(bad);
    EXPECT_NE(bad.message().find("XX"), std::string::npos);
}

}  // namespace
}  // namespace scep

namespace scep {
namespace {

TEST(hierarchy, encrypts_keys_with_a_passphrase_and_needs_it_to_load_them) {
    test::temp_dir dir;
    auto spec = test::small_spec(2);
    spec.key_passphrase = "correct horse battery";
    auto made = hierarchy::open(spec, dir.path(), std::chrono::system_clock::now(), [](auto&) {});
    ASSERT_TRUE(made) << made.message();
    for (const char* stem : {"root", "issuing", "ra"}) {
        auto text = read_file(dir.path() / (std::string(stem) + ".key"));
        ASSERT_TRUE(text);
        EXPECT_NE(text->find("BEGIN ENCRYPTED PRIVATE KEY"), std::string::npos) << stem;
        // PKCS#8 with PBES2 and AES-256-CBC.
        EXPECT_EQ(text->find("BEGIN RSA PRIVATE KEY"), std::string::npos);
    }
    auto again = hierarchy::open(spec, dir.path(), std::chrono::system_clock::now(), [](auto&) {});
    ASSERT_TRUE(again) << again.message();
    EXPECT_EQ(serial_hex(again->ra_cert()), serial_hex(made->ra_cert()));

    auto without = test::small_spec(2);
    auto refused = hierarchy::open(without, dir.path(), std::chrono::system_clock::now(), [](auto&) {});
    ASSERT_FALSE(refused);
    EXPECT_NE(refused.message().find("root.key"), std::string::npos) << refused.message();
    EXPECT_NE(refused.message().find("encrypted"), std::string::npos) << refused.message();
    EXPECT_NE(refused.message().find("SCEP_LAB_KEY_PASSPHRASE"), std::string::npos) << refused.message();

    auto wrong = spec;
    wrong.key_passphrase = "wrong horse battery";
    auto bad = hierarchy::open(wrong, dir.path(), std::chrono::system_clock::now(), [](auto&) {});
    ASSERT_FALSE(bad);
    EXPECT_NE(bad.message().find("does not open with the configured passphrase"), std::string::npos) << bad.message();
    EXPECT_EQ(bad.message().find("wrong horse"), std::string::npos);
}

}  // namespace
}  // namespace scep
