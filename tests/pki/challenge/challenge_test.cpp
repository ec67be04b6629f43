#include "pki/challenge/challenge.hpp"

#include <gtest/gtest.h>

#include <regex>

#include "support/test_support.hpp"

namespace scep {
namespace {

std::optional<challenge_attr> attr(const std::string& v) { return challenge_attr{v, V_ASN1_PRINTABLESTRING}; }

using kind = challenge_refusal::kind;
// The refusal's kind and text, for comparisons.
std::pair<kind, std::string> seen(const std::optional<challenge_refusal>& r) {
    if (!r) return {kind::missing, "(accepted)"};
    return {r->why, r->text};
}

TEST(static_challenge, accepts_the_secret_only) {
    static_challenge c("secret");
    EXPECT_FALSE(c.verify(attr("secret")));
    EXPECT_EQ(seen(c.verify(attr("nope"))), std::make_pair(kind::wrong, std::string("wrong challenge password")));
    EXPECT_EQ(seen(c.verify(challenge_context{})), std::make_pair(kind::missing, std::string("the CSR has no challengePassword")));
    static_challenge open("");
    EXPECT_FALSE(open.verify(challenge_context{}));  // NDES EnforcePassword = 0
}

TEST(one_time_passwords, are_upper_case_hex_single_use_and_expire) {
    auto now = std::chrono::system_clock::now();
    one_time_passwords otp(std::chrono::minutes(60), 5, 8, [&] { return now; });
    auto p = otp.issue();
    ASSERT_TRUE(p);
    EXPECT_TRUE(std::regex_match(*p, std::regex("[A-F0-9]{16}"))) << *p;
    EXPECT_FALSE(otp.verify(attr(*p)));
    auto reused = otp.verify(attr(*p));
    ASSERT_TRUE(reused);
    EXPECT_EQ(reused->why, kind::used);
    EXPECT_NE(reused->text.find("already been used"), std::string::npos);

    auto late = otp.issue();
    ASSERT_TRUE(late);
    now += std::chrono::minutes(61);
    auto expired = otp.verify(attr(*late));
    ASSERT_TRUE(expired);
    EXPECT_EQ(expired->why, kind::expired);
    EXPECT_NE(expired->text.find("expired"), std::string::npos) << expired->text;
    EXPECT_EQ(seen(otp.verify(attr("0123456789ABCDEF"))), std::make_pair(kind::wrong, std::string("unknown challenge password")));
    EXPECT_EQ(seen(otp.verify(challenge_context{})), std::make_pair(kind::missing, std::string("the CSR has no challengePassword")));
}

TEST(one_time_passwords, cache_fills_up_and_frees_as_passwords_expire_or_are_used) {
    auto now = std::chrono::system_clock::now();
    one_time_passwords otp(std::chrono::minutes(60), 5, 8, [&] { return now; });
    std::vector<std::string> issued;
    for (int i = 0; i < 5; ++i) issued.push_back(*otp.issue());
    EXPECT_FALSE(otp.issue());  // "The password cache is full."
    EXPECT_FALSE(otp.verify(attr(issued[0])));
    EXPECT_TRUE(otp.issue());  // using one frees a place
    EXPECT_FALSE(otp.issue());
    now += std::chrono::minutes(61);
    EXPECT_EQ(otp.unused(), 0u);
    EXPECT_TRUE(otp.issue());
}

struct api_lab {
    test::temp_dir dir;
    time_point now = std::chrono::system_clock::now();
    std::unique_ptr<challenge_store> store = [this] {
        auto s = challenge_store::open(dir.path() / "challenges.db");
        if (!s) throw std::runtime_error(s.message());
        return std::move(*s);
    }();
    api_challenges api{*store, [this] { return now; }};

    std::optional<challenge_refusal> enroll(const std::string& secret, const test::requester& dev,
                                            const std::string& client = "192.0.2.10") {
        challenge_context ctx(challenge_attr{secret, V_ASN1_PRINTABLESTRING});
        ctx.csr = dev.csr.get();
        ctx.client = client;
        return api.verify(ctx);
    }
};

TEST(api_challenges, single_use_expiry_and_revocation) {
    api_lab lab;
    auto dev = test::make_requester({.challenge = ""});
    auto one = lab.api.issue(std::chrono::minutes(10), 1, {}, "device-1");
    ASSERT_TRUE(one) << one.message();
    EXPECT_TRUE(std::regex_match(one->secret, std::regex("[0-9A-F]{32}")));
    EXPECT_FALSE(lab.enroll(one->secret, dev));
    auto again = lab.enroll(one->secret, dev);
    ASSERT_TRUE(again);
    EXPECT_EQ(again->why, kind::used);

    auto two = lab.api.issue(std::chrono::minutes(10), 2, {}, "");
    ASSERT_TRUE(two);
    EXPECT_FALSE(lab.enroll(two->secret, dev));
    EXPECT_FALSE(lab.enroll(two->secret, dev));
    EXPECT_EQ(lab.enroll(two->secret, dev)->why, kind::used);

    auto soon = lab.api.issue(std::chrono::seconds(30), 1, {}, "");
    ASSERT_TRUE(soon);
    lab.now += std::chrono::seconds(31);
    EXPECT_EQ(lab.enroll(soon->secret, dev)->why, kind::expired);

    auto revoked = lab.api.issue(std::chrono::minutes(10), 1, {}, "");
    ASSERT_TRUE(revoked);
    ASSERT_TRUE(*lab.store->revoke(revoked->row.handle));
    auto r = lab.enroll(revoked->secret, dev);
    ASSERT_TRUE(r);
    EXPECT_NE(r->text.find("revoked"), std::string::npos) << r->text;
    EXPECT_EQ(lab.enroll("0123456789ABCDEF0123456789ABCDEF", dev)->text, "unknown challenge password");
    EXPECT_EQ(lab.api.verify(challenge_context{})->why, kind::missing);
    // Nothing on disk holds a secret.
    auto raw = read_file(lab.dir.path() / "challenges.db");
    ASSERT_TRUE(raw);
    for (const auto* s : {&one->secret, &two->secret, &revoked->secret}) EXPECT_EQ(raw->find(*s), std::string::npos);
}

TEST(api_challenges, each_binding_refuses_a_request_that_does_not_fit_without_spending_the_challenge) {
    api_lab lab;
    auto dev = test::make_requester({.subject = "CN=dev-1,O=Org", .challenge = "", .dns_names = {"dev-1.example"}});
    struct case_t {
        const char* what;
        challenge_bindings b;
        bool fits;
    };
    const std::vector<case_t> cases = {
        {"subject exact", {.subject = "CN=dev-1,O=Org", .sans = {"DNS:dev-1.example"}}, true},
        {"subject exact, SANs not named", {.subject = "CN=dev-1,O=Org"}, false},
        {"subject other", {.subject = "CN=dev-2,O=Org", .sans = {"DNS:dev-1.example"}}, false},
        {"subject regex", {.subject_regex = "CN=dev-[0-9]+,O=Org", .sans = {"DNS:dev-1.example"}}, true},
        {"subject regex, SANs not named", {.subject_regex = "CN=dev-[0-9]+,O=Org"}, false},
        {"subject regex no", {.subject_regex = "CN=printer-.*", .sans = {"DNS:dev-1.example"}}, false},
        {"sans allowed", {.sans = {"DNS:dev-1.example", "DNS:other.example"}}, true},
        {"sans not allowed", {.sans = {"DNS:other.example"}}, false},
        {"key rsa", {.key_type = "rsa", .min_key_bits = 2048}, true},
        {"key ec", {.key_type = "ec"}, false},
        {"key too small", {.min_key_bits = 3072}, false},
        {"client", {.client = "192.0.2.10"}, true},
        {"client other", {.client = "192.0.2.99"}, false},
    };
    for (const auto& c : cases) {
        auto ch = lab.api.issue(std::chrono::minutes(10), 1, c.b, c.what);
        ASSERT_TRUE(ch) << c.what << ": " << ch.message();
        auto r = lab.enroll(ch->secret, dev);
        EXPECT_EQ(!r.has_value(), c.fits) << c.what << ": " << (r ? r->text : "accepted");
        if (!c.fits) {
            EXPECT_EQ(r->why, kind::wrong) << c.what;
            EXPECT_NE(r->text.find("does not fit"), std::string::npos) << r->text;
            auto row = lab.store->find(challenge_hash(ch->secret));
            ASSERT_TRUE(row && *row);
            EXPECT_EQ((*row)->uses_left, 1) << c.what << ": a refused request must not spend the challenge";
        }
    }
}

// Hardening round two: the documented '.*CN=laptop-42.*' accepted
// CN=attacker,O=xCN=laptop-42 and CN=laptop-420; a subject-only binding
// left the SANs free (UPN administrator@corp was issued).
TEST(api_challenges, subject_bindings_compare_names_as_names_and_bind_the_sans) {
    api_lab lab;
    auto refused = [&](const challenge_bindings& b, const test::requester& dev) {
        auto ch = lab.api.issue(std::chrono::minutes(10), 1, b, "");
        EXPECT_TRUE(ch) << ch.message();
        return lab.enroll(ch->secret, dev).has_value();
    };
    const auto laptop = test::make_requester({.subject = "CN=laptop-42,O=Org", .challenge = ""});
    const auto injected = test::make_requester({.subject = "CN=attacker,O=xCN=laptop-42", .challenge = ""});
    const auto longer = test::make_requester({.subject = "CN=laptop-420,O=Org", .challenge = ""});
    const auto only_cn = test::make_requester({.subject = "CN=laptop-42", .challenge = ""});
    const challenge_bindings anchored{.subject_regex = "CN=laptop-42(,.*)?"};
    EXPECT_FALSE(refused(anchored, laptop));
    EXPECT_FALSE(refused(anchored, only_cn));
    EXPECT_TRUE(refused(anchored, injected));
    EXPECT_TRUE(refused(anchored, longer));
    // A pattern is matched whole, anchored or not: "laptop-42" alone matches no subject.
    EXPECT_TRUE(refused({.subject_regex = "laptop-42"}, laptop));
    // Exact binding: attribute by attribute.
    EXPECT_FALSE(refused({.subject = "CN=laptop-42,O=Org"}, laptop));
    EXPECT_TRUE(refused({.subject = "CN=laptop-42,O=Org"}, longer));
    // Bound to a subject, the CSR may name no SAN the binding does not.
    auto key = generate_key(key_type::rsa2048);
    auto with_upn = test::requester_with_key(std::move(*key), "CN=laptop-42,O=Org", "");
    with_upn.csr = test::make_csr(*with_upn.key, "CN=laptop-42,O=Org",
                                  {{NID_subject_alt_name, test::general_names_der({{GEN_EMAIL, "administrator@corp"}})}});
    auto ch = lab.api.issue(std::chrono::minutes(10), 1, {.subject = "CN=laptop-42,O=Org"}, "");
    ASSERT_TRUE(ch);
    auto r = lab.enroll(ch->secret, with_upn);
    ASSERT_TRUE(r);
    EXPECT_NE(r->text.find("allows only the SANs its binding names"), std::string::npos) << r->text;
    EXPECT_FALSE(refused({.subject = "CN=laptop-42,O=Org", .sans = {"email:administrator@corp"}}, with_upn));
    // Patterns are RE2: a catastrophic-backtracking pattern is linear, a long subject harmless.
    const auto many_a = test::make_requester({.subject = "CN=" + std::string(60, 'a'), .challenge = ""});
    EXPECT_TRUE(refused({.subject_regex = "CN=(a+)+b"}, many_a));
}

TEST(api_challenges, bad_bindings_and_options_are_refused_with_the_field_named) {
    api_lab lab;
    EXPECT_NE(lab.api.issue(std::chrono::minutes(1), 1, {.subject = "no equals sign"}, "").message().find("subject"),
              std::string::npos);
    EXPECT_NE(lab.api.issue(std::chrono::minutes(1), 1, {.subject_regex = "([unclosed"}, "").message().find("subject_regex"),
              std::string::npos);
    EXPECT_NE(lab.api.issue(std::chrono::minutes(1), 1, {.sans = {"dev.example"}}, "").message().find("sans"),
              std::string::npos);
    EXPECT_NE(lab.api.issue(std::chrono::minutes(1), 1, {.key_type = "dsa"}, "").message().find("key_type"),
              std::string::npos);
    EXPECT_FALSE(lab.api.issue(std::chrono::seconds(0), 1, {}, ""));
    EXPECT_FALSE(lab.api.issue(std::chrono::minutes(1), 0, {}, ""));
    EXPECT_FALSE(lab.api.issue(std::chrono::minutes(1), 1, {}, "line\nbreak"));
    EXPECT_FALSE(lab.api.issue(std::chrono::minutes(1), 1, {.client = "1.2.3.4\nsan=DNS:evil"}, ""));
    // The stored text form round-trips, and a forged line is refused when read.
    challenge_bindings b{.subject = "CN=a", .sans = {"DNS:a", "IP:192.0.2.1"}, .key_type = "ec", .min_key_bits = 256};
    auto back = challenge_bindings::from_text(b.to_text());
    ASSERT_TRUE(back) << back.message();
    EXPECT_EQ(back->to_text(), b.to_text());
    EXPECT_FALSE(challenge_bindings::from_text("owner=me\n"));
}

}  // namespace
}  // namespace scep
