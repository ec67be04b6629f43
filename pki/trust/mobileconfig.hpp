// Apple configuration profiles (.mobileconfig): the trust material and the
// SCEP enrollment an iPhone, iPad or Mac needs, and optionally the Wi-Fi
// network (WPA2/WPA3-Enterprise, EAP-TLS) that uses the enrolled identity.
// Apple's Device Management reference names every key used here
// (com.apple.security.root / .pkcs1 / .scep, com.apple.wifi.managed).
#pragma once

#include <chrono>
#include <filesystem>
#include <string>
#include <vector>

#include "pki/ca/hierarchy.hpp"
#include "pki/crypto/ossl.hpp"
#include "pki/ca/server_certs.hpp"

namespace scep {

struct apple_profile_options {
    std::string scep_url;   // the URL devices enroll at
    std::string challenge;  // empty: no Challenge key
    std::string ca_name = "scep-lab";  // SCEP "Name" (CA instance name)
    // Requested subject, "CN=...,O=..." (Apple variables like %SerialNumber% pass through).
    std::string subject = "CN=scep-lab device,O=scep-lab";
    int key_size = 2048;
    int key_usage = 5;  // 1 signing, 4 encryption, 5 both
    int retries = 3;
    int retry_delay = 10;
    // CAFingerprint: the digest and the CA tier it is of. SHA-1 is what every
    // iOS and macOS release accepts; "sha256" for newer ones.
    std::string fingerprint_digest = "sha1";
    std::string fingerprint_ca = "issuing";
    // CA tiers (by name: root, intermediate, issuing, ...) left out, to
    // reproduce "incomplete chain" reports.
    std::vector<std::string> omit;
    // Wi-Fi: empty SSID means no Wi-Fi payload.
    std::string wifi_ssid;
    std::string wifi_security = "WPA2";  // WPA2 | WPA3 (Enterprise, EAP-TLS)
    std::vector<std::string> radius_names;  // TLSTrustedServerNames
    std::string identifier = "lab.scep-lab";  // PayloadIdentifier prefix
    std::string display_name = "scep-lab";
};

// Checks the options (subject, sizes, names, omit list against the tiers).
result<void> validate(const apple_profile_options& o, const hierarchy& pki);

// The profile as an XML property list. `tls_chain` is the HTTPS server chain
// (server certificate first): its CA certificates that are not lab CAs (your
// own HTTPS certificate) get certificate payloads too.
result<std::string> build_apple_profile(const hierarchy& pki, const std::vector<const X509*>& tls_chain,
                                        const apple_profile_options& o);

// A stable UUID (version 5 layout) derived from `seed`: the same lab and
// options give the same payload UUIDs, so a re-installed profile replaces
// its payloads instead of adding new ones.
std::string stable_uuid(std::string_view seed);

// CMS SignedData over the profile (what Apple devices accept as a signed
// .mobileconfig), signer certificate and chain included.
result<bytes> sign_profile(std::string_view xml, const X509& signer, const EVP_PKEY& key,
                           const std::vector<const X509*>& chain);

// The lab's profile-signing certificate (digitalSignature, issued by the
// issuing CA), kept in `dir` as profile-signer.crt/.key and issued again when
// missing, unreadable, from another issuing CA or expiring within 30 days.
result<https_identity> ensure_profile_signer(const hierarchy& pki, const std::filesystem::path& dir,
                                             const std::string& key_passphrase, time_point now);

// "CN=a,O=b" (RFC 4514) or "/O=b/CN=a" -> the Subject pairs Apple expects,
// in X.500 order (O before CN), as the CSR will carry them.
result<std::vector<std::pair<std::string, std::string>>> subject_pairs(std::string_view subject);

}  // namespace scep
