// scep-lab challenge-server's decisions, without a network: each contract
// (challenge webhook in both formats, the policy module's calls) answered
// from the allow-list and the forced outcomes, signatures checked.
#include <gtest/gtest.h>

#include "pki/scep/challenge_webhook.hpp"
#include "server/challenge_server.hpp"

namespace scep {
namespace {

TEST(challenge_server, answers_each_contract_from_its_rules_and_checks_signatures) {
    challenge_server_options o;
    o.secret = "k";
    o.allow = {"good"};
    o.rules["bad"] = *parse_outcome("deny:not enrolled");
    o.rules["hr"] = *parse_outcome("hresult:0x80070490");
    o.template_name = "IntuneWiFi";
    auto call = [&](const std::string& body, bool sign = true) {
        std::map<std::string, std::string> h;
        if (sign) h["x-scep-lab-signature"] = "sha256=" + webhook_hmac_hex("k", body);
        return answer_webhook_call(o, h, body);
    };
    EXPECT_EQ(call(R"({"challenge":"good","transaction_id":"t"})").body, R"({"allow":true})");
    EXPECT_EQ(call(R"({"challenge":"bad"})").body, R"({"allow":false,"reason":"not enrolled"})");
    EXPECT_EQ(call(R"({"challenge":"other"})").body,
              R"({"allow":false,"reason":"the challenge is not on the allow-list"})");
    auto unsigned_call = call(R"({"challenge":"good"})", false);
    EXPECT_EQ(unsigned_call.status, 401);
    EXPECT_EQ(call(R"({"scep_lab_policy":1,"method":"VerifyRequest","challenge":"hr"})").body,
              R"({"hresult":"0x80070490","reason":"forced HRESULT"})");
    EXPECT_EQ(call(R"({"scep_lab_policy":1,"method":"GetTemplate","challenge":"good"})").body,
              R"({"template":"IntuneWiFi"})");
    auto step = R"({"scepChallenge":"good","scepTransactionID":"t"})";
    std::map<std::string, std::string> h{{"X-Smallstep-Signature", webhook_hmac_hex("\x91\xe4", step)}};
    o.secret = "keQ=";  // base64 of 0x91 0xe4
    EXPECT_EQ(answer_webhook_call(o, h, step).body, R"({"allow":true})");
    EXPECT_FALSE(parse_outcome("sometimes"));
    EXPECT_FALSE(parse_outcome("hresult:0x00000001"));
    EXPECT_FALSE(parse_outcome("status:999"));
}

}  // namespace
}  // namespace scep
