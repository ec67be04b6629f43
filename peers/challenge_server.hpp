// `scep-lab challenge-server`: a small reference server for both webhook
// contracts of docs/challenges.md — the challenge webhook (this project's
// JSON or step-ca's SCEPCHALLENGE body) and the NDES policy module calls
// (Initialize, GetTemplate, VerifyRequest, Notify, Uninitialize). It decides
// from an allow-list and per-challenge forced outcomes, checks the HMAC
// signature, and logs every call as a JSON line. Tests and demos use it;
// it is also a starting point for writing one's own.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "pki/crypto/result.hpp"

namespace scep {

// What the server answers for one challenge.
struct forced_outcome {
    enum class kind { allow, deny, unverified, timeout, malformed, status, hresult } what = kind::allow;
    std::string reason;             // deny, unverified
    std::chrono::milliseconds delay{30000};  // timeout: how long it waits before answering
    int status = 500;               // status
    std::uint32_t hresult = 0;      // hresult
};
// "allow", "deny[:reason]", "unverified[:reason]", "timeout[:seconds]",
// "malformed", "status:CODE", "hresult:0x8XXXXXXX" (VerifyRequest's answer;
// deny is "verified": false there).
result<forced_outcome> parse_outcome(const std::string& text);

struct challenge_server_options {
    std::string listen = "127.0.0.1";
    std::uint16_t port = 0;
    std::string port_file;       // the port, written once listening
    std::string secret;          // HMAC key; empty = signatures not checked
    std::vector<std::string> allow;               // challenges allowed
    std::map<std::string, forced_outcome> rules;  // challenge -> outcome (before the allow-list)
    std::string deny_reason = "the challenge is not on the allow-list";
    std::string template_name;   // GetTemplate's answer; empty = keep NDES's choice
    std::string log_file;        // JSON lines, appended
    // Signed calls (a secret is set) must carry a "timestamp" this close to
    // the server's clock, and are refused when seen before (replay).
    std::chrono::seconds max_skew{300};
    std::chrono::seconds read_timeout{10};  // for the whole request
    std::size_t max_connections = 64;       // calls served at once; more are closed
};

struct challenge_server_reply {
    int status = 200;
    std::string body;
    std::chrono::milliseconds delay{0};  // wait before answering (forced timeout)
    std::string log_line;                // JSON, one line
};
// The decision for one POST (no network): tests call it directly.
challenge_server_reply answer_webhook_call(const challenge_server_options& o,
                                           const std::map<std::string, std::string>& headers, const std::string& body);

// Serves until the process is stopped; `ready` gets the port once listening.
result<void> run_challenge_server(const challenge_server_options& o, const std::function<void(std::uint16_t)>& ready);

}  // namespace scep
