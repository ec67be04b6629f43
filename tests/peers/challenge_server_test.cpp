// scep-lab challenge-server's decisions, without a network: each contract
// (challenge webhook in both formats, the policy module's calls) answered
// from the allow-list and the forced outcomes, signatures checked.
#include <gtest/gtest.h>

#include "pki/crypto/encoding.hpp"
#include "pki/crypto/ossl.hpp"
#include "pki/challenge/challenge_webhook.hpp"
#include "pki/store/store.hpp"
#include "peers/challenge_server.hpp"

namespace scep {
namespace {

TEST(challenge_server, answers_each_contract_from_its_rules_and_checks_signatures) {
    challenge_server_options o;
    o.secret = "k";
    o.allow = {"good"};
    o.rules["bad"] = *parse_outcome("deny:not enrolled");
    o.rules["hr"] = *parse_outcome("hresult:0x80070490");
    o.template_name = "IntuneWiFi";
    // Signed calls carry a fresh timestamp and a nonce, as scep-lab sends them.
    auto call = [&](const std::string& fields, bool sign = true) {
        const std::string body = "{" + fields + R"(,"timestamp":")" + now_iso8601() + R"(","nonce":")" +
                                 to_hex(random_bytes(8)) + "\"}";
        std::map<std::string, std::string> h;
        if (sign) h["x-scep-lab-signature"] = "sha256=" + webhook_hmac_hex("k", body);
        return answer_webhook_call(o, h, body);
    };
    EXPECT_EQ(call(R"("challenge":"good","transaction_id":"t")").body, R"({"allow":true})");
    EXPECT_EQ(call(R"("challenge":"bad")").body, R"({"allow":false,"reason":"not enrolled"})");
    EXPECT_EQ(call(R"("challenge":"other")").body,
              R"({"allow":false,"reason":"the challenge is not on the allow-list"})");
    auto unsigned_call = call(R"("challenge":"good")", false);
    EXPECT_EQ(unsigned_call.status, 401);
    EXPECT_EQ(call(R"("scep_lab_policy":1,"method":"VerifyRequest","challenge":"hr")").body,
              R"({"hresult":"0x80070490","reason":"forced HRESULT"})");
    EXPECT_EQ(call(R"("scep_lab_policy":1,"method":"GetTemplate","challenge":"good")").body,
              R"({"template":"IntuneWiFi"})");
    const std::string step = R"({"scepChallenge":"good","scepTransactionID":"t","timestamp":")" + now_iso8601() + "\"}";
    std::map<std::string, std::string> h{{"X-Smallstep-Signature", webhook_hmac_hex("\x91\xe4", step)}};
    o.secret = "keQ=";  // base64 of 0x91 0xe4
    EXPECT_EQ(answer_webhook_call(o, h, step).body, R"({"allow":true})");
    EXPECT_FALSE(parse_outcome("sometimes"));
    EXPECT_FALSE(parse_outcome("hresult:0x00000001"));
    EXPECT_FALSE(parse_outcome("status:999"));
}

// Hardening round two: a captured signed GenerateChallenge minted a new valid
// challenge at every replay.
TEST(challenge_server, refuses_replayed_and_stale_signed_calls) {
    challenge_server_options o;
    o.secret = "k";
    auto signed_call = [&](const std::string& body) {
        std::map<std::string, std::string> h{{"X-Scep-Lab-Signature", "sha256=" + webhook_hmac_hex("k", body)}};
        return answer_webhook_call(o, h, body);
    };
    const std::string generate = R"({"scep_lab_policy":1,"method":"GenerateChallenge","timestamp":")" + now_iso8601() +
                                 R"(","nonce":")" + to_hex(random_bytes(16)) + "\"}";
    auto first = signed_call(generate);
    EXPECT_EQ(first.status, 200) << first.body;
    EXPECT_NE(first.body.find("challenge"), std::string::npos);
    auto replay = signed_call(generate);
    EXPECT_EQ(replay.status, 401);
    EXPECT_NE(replay.body.find("replay"), std::string::npos) << replay.body;
    const std::string stale = R"({"scep_lab_policy":1,"method":"GenerateChallenge","timestamp":"2020-01-01T00:00:00Z"})";
    auto old = signed_call(stale);
    EXPECT_EQ(old.status, 401);
    EXPECT_NE(old.body.find("from this server's clock"), std::string::npos) << old.body;
    auto none = signed_call(R"({"scep_lab_policy":1,"method":"GenerateChallenge"})");
    EXPECT_EQ(none.status, 401);
    EXPECT_NE(none.body.find("timestamp"), std::string::npos) << none.body;
    // step-ca's RFC 3339 timestamps carry fractions.
    o.allow = {"good"};
    const std::string step = R"({"scepChallenge":"good","timestamp":")" + now_iso8601().substr(0, 19) + ".123456789Z\"}";
    EXPECT_EQ(signed_call(step).status, 200);
}

}  // namespace
}  // namespace scep
