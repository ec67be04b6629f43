// Which device a recorded request looks like: each persona's request rules
// compared with what the inspector saw of one exchange (docs/inspector.md,
// "Which device sent it"). No I/O; the server's recorder fills `observed`.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "pki/persona/persona.hpp"

namespace scep::persona {

// What one exchange showed of its client.
struct observed {
    std::string operation;  // GetCACaps, GetCACert, PKIOperation, ...
    std::string method, path, user_agent;
    bool has_user_agent = false;
    bool http_known = true;  // false: a captured message alone (User-Agent, version, URL not compared)
    int http_version = 0;                // 10, 11; 0 unknown
    std::optional<std::string> message;  // GetCACaps/GetCACert: message=, decoded
    std::string first_operation;         // the client's first GetCACaps/GetCACert before this request ("" unknown)
    std::vector<std::string> capabilities;  // what the client was told (or the configuration's)
    bool capabilities_known = true;         // false: a captured message alone (method, digest, cipher not compared)
    // PKIOperation, from the decoded request ("" where it could not be read):
    bool get_line_breaks = false;
    bool ber_indefinite = false;
    std::string digest;         // "sha256"
    std::string cipher;         // "aes-128-cbc"
    std::string key_transport;  // "rsaEncryption", "rsaesOaep"
    std::string transaction_id;
    std::size_t nonce_length = 0;
    std::string signer_subject, csr_subject;
    std::string challenge_type;  // "PrintableString", "absent"
    std::string key;             // "RSA 2048", "EC 256 (prime256v1)"
};

struct rule_difference {
    std::string rule, expected, observed;
};

struct device_match {
    const persona* p = nullptr;
    int matched = 0, compared = 0;
    std::vector<rule_difference> differs;
    bool consistent() const { return compared > 0 && differs.empty(); }
    // "consistent with ios (9 of 9 rules)" or "nearest ios (7 of 9 rules): user_agent ..."
    std::string text() const;
};

device_match match(const persona& p, const observed& o);
// The device personas (not the generic RFC 8894 client) compared; the one
// that matches every compared rule, else the nearest. nullopt when no rule
// could be compared.
std::optional<device_match> identify(const observed& o);

}  // namespace scep::persona
