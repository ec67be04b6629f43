// Device personas: what a real SCEP client (an iPhone, a Windows Intune
// client, an Android agent on jscep, a Cisco router, a plain RFC 8894 client)
// sends and accepts, as data. Each persona is a TOML file of rules
// (pki/persona/personas/*.toml, compiled in); each rule has a value the probe
// acts on, what it means, its public source and a confidence mark.
// docs/personas.md is generated from the same files (`scep-lab personas
// --markdown`). No I/O here: `scep-lab probe` (client/probe) drives a server
// with them, the inspector compares recorded requests with them (match.hpp).
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "pki/crypto/result.hpp"
#include "pki/crypto/x509_build.hpp"
#include "pki/scep/message.hpp"

namespace scep::persona {

// One rule as its file states it, for the generated documentation.
struct rule {
    std::string id;          // "order", "ciphers", ...
    std::string value_text;  // the value as TOML-ish text: ["GetCACert", "GetCACaps"]
    std::string says;        // what the device does
    std::string source;      // public sources, readable by anyone
    std::string confidence;  // "high", "medium", "low"
    std::string disagree;    // where sources disagree ("" when they do not)
    bool inherited = false;  // not stated by this persona: taken from based_on
};

// A choice that depends on GetCACaps: use `name` when the server advertises
// `capability` ("*": always).
struct conditional {
    std::string name;
    std::string capability;
};

enum class method_rule { post_if_advertised, always_get, always_post };
enum class ra_rule {
    key_usage,         // by key usage: DS+KE combined, KE-only encryption, DS-only signing; several
                       // certificates need the CA and RA roles or the device gives up
    key_usage_or_ca,   // by key usage when an RA has it, otherwise the CA does both
};
enum class ca_rule { top_of_chain, issuer_of_ra };
enum class id_rule { sha1_key_hex_upper, sha1_key_hex, sha256_key_hex, random_hex };
enum class renewal_rule { reenroll, pkcsreq_old_cert, renewalreq_if_advertised };

struct persona {
    std::string name;     // "ios"
    std::string title;    // "Apple iOS, iPadOS and macOS"
    std::string summary;  // a paragraph
    std::string confidence;
    std::string based_on;  // "" for the base persona
    std::string device_name;  // {device} in subject templates

    // HTTP
    std::vector<std::string> order;  // GetCACaps, GetCACert: the order of the first two
    std::string path_suffix;         // "/pkiclient.exe" appended to the URL's path, or ""
    std::string message;             // message= of GetCACaps/GetCACert ("" = not sent)
    std::string user_agent;          // "" = no User-Agent header
    std::vector<std::string> user_agents;  // prefixes that identify the device ("" = none sent); empty: any
    std::string message_match = "any";     // exact, present, any: how the inspector compares message=
    int http_version = 11;           // 10 or 11
    method_rule method = method_rule::post_if_advertised;
    bool get_line_breaks = false;  // GET base64 with %0A every 64 characters
    int redirects = 0;             // redirects followed (0 = a redirect is an error)
    // GetCACaps
    bool caps_crlf_only = false;   // only "\r\n" ends a capability
    bool caps_need_digest = false;  // a list without any SHA-* makes it give up
    std::vector<conditional> ciphers;  // first whose capability is advertised
    std::vector<conditional> digests;
    // GetCACert
    std::vector<std::string> cacert_content_types;
    ra_rule ra = ra_rule::key_usage_or_ca;
    ca_rule ca = ca_rule::issuer_of_ra;
    bool ca_pin = false;  // the profile's CA thumbprint must match a CA in the chain
    // Request
    key_type key = key_type::rsa2048;
    std::string subject;             // "CN={device}-{uuid}"
    std::vector<std::string> sans;   // "DNS:{device}.example"
    std::string challenge_type;      // "PrintableString" or "UTF8String"
    bool challenge_printable_only = false;  // a challenge outside PrintableString fails on the device
    std::string signer_subject;      // "uuid" (CN = random UUID) or "csr"
    std::vector<std::string> signer_key_usage;  // "digitalSignature", "keyEncipherment"
    // CMS
    bool ber_indefinite = false;
    key_transport transport = key_transport::rsa_pkcs1;
    bool recipient_by_key_id = false;  // KTRI v2, subjectKeyIdentifier
    id_rule transaction_id = id_rule::random_hex;
    int nonce_bytes = 16;
    // Reply
    std::vector<std::string> reply_content_types;
    std::vector<std::string> reply_required_attributes;
    bool status_printable_short = false;  // pkiStatus must be a PrintableString, short-form length
    bool first_cert_is_issued = false;
    bool check_nonce = true;
    bool check_transaction_id = true;
    // Polling and retries
    int poll_interval_s = 10;
    int poll_count = 3;
    int retries = 0;
    int retry_delay_s = 0;
    bool retry_on_server_error = false;
    // Renewal and other operations
    renewal_rule renewal = renewal_rule::reenroll;
    bool renewal_challenge = true;
    bool get_cert = false, get_crl = false, get_next_ca_cert = false;
    // The device's own error for each way it gives up ("cacert-content-type" -> "22002 ...").
    std::map<std::string, std::string> errors;
    std::string errors_source, errors_confidence;

    std::vector<rule> rules;  // in the documentation's order, inherited ones marked
    std::string file;         // "pki/persona/personas/ios.toml"

    // "22003 (MCSCEPErrorDomain: invalid RA response)"; "" when the persona
    // has no documented code for it. `http_status` fills {http_hresult}.
    std::string error(std::string_view kind, int http_status = 0) const;
};

// The rule ids in the documentation's order, with the aspect each belongs to.
struct rule_spec {
    std::string_view id;
    std::string_view aspect;
    std::string_view meaning;  // what the value says, for the docs' key
};
const std::vector<rule_spec>& rule_specs();

// The ways a device gives up, each a key of `errors`.
const std::vector<std::pair<std::string_view, std::string_view>>& error_kinds();

// Every persona compiled in, base ones resolved, in file-name order with the
// generic RFC 8894 client first. A bad file is a build-time mistake, so this
// throws (tests load all of them).
const std::vector<persona>& all();
const persona* find(std::string_view name);
std::string names(std::string_view separator = ", ");

// Parses persona files (name -> TOML text); `based_on` resolved among them.
result<std::vector<persona>> load(const std::vector<std::pair<std::string, std::string>>& files);

// docs/personas.md.
std::string markdown(const std::vector<persona>& personas);

// A digest by name as persona files write it ("sha256", "md5": old Cisco IOS).
std::optional<digest_alg> digest_named(std::string_view name);

// Whether GetCACaps listed `keyword` (keywords compare without case, RFC 8894 §3.5.2).
bool advertises(const std::vector<std::string>& words, std::string_view keyword);

// The choices a persona makes from a GetCACaps answer.
struct caps_choice {
    std::vector<std::string> words;  // as the device split them
    std::optional<content_cipher> cipher;
    std::optional<digest_alg> digest;
    bool post = false;
    std::string stop;  // non-empty: the device gives up here (an error kind)
    std::string why;
};
caps_choice choose(const persona& p, int http_status, std::string_view body);

}  // namespace scep::persona
