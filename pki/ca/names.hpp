// Names that arrive from clients, parsed and checked before they reach a
// certificate: the subjectAltName entries of a CSR (rebuilt from the parsed
// values, never copied as bytes) and the subject's RDNs. docs/security.md
// states the policy.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "pki/crypto/ossl.hpp"

namespace scep {

enum class san_kind { dns, ip, email, uri, upn };

// One subjectAltName entry. `value` is the text form (IP addresses printed
// as OpenSSL prints them); `ip` holds the 4 or 16 address octets.
struct san_entry {
    san_kind kind = san_kind::dns;
    std::string value;
    bytes ip;
};

// "DNS:a.example", "IP:192.0.2.1", "email:x@y", "URI:...", "UPN:user@domain".
std::string to_string(const san_entry& e);

struct name_limits {
    bool allow_wildcards = false;        // "*.example.com" (leftmost label only)
    std::size_t max_sans = 20;           // entries in one subjectAltName
    std::size_t max_cn_length = 64;      // characters (RFC 5280 ub-common-name)
    std::size_t max_subject_rdns = 16;   // attributes in the subject
    // The encoded subject, whole, and attributes RFC 5280 gives no bound (docs/security.md).
    static constexpr std::size_t max_subject_bytes = 4096;
    static constexpr std::size_t other_attribute_chars = 256;
};

// The subjectAltName the CSR requests; empty when it has none. Refused (the
// error names the entry and why): an extension that does not decode, two
// subjectAltName extensions, an entry with NUL or control characters, a DNS
// name that is not a host name (or a wildcard the limits do not allow), an
// IP address that is not 4 or 16 octets, name types other than DNS, IP,
// email, URI and the Microsoft UPN otherName, more than max_sans entries.
result<std::vector<san_entry>> requested_sans(const X509_REQ& csr, const name_limits& limits);

// The subjectAltName entries of a certificate this lab issued (renewal:
// which names the old certificate had).
std::vector<san_entry> certificate_sans(const X509& cert);

// A fresh subjectAltName extension from parsed entries. RFC 5280 §4.2.1.6:
// critical when the subject is empty.
result<x509_ext_ptr> build_san_extension(const std::vector<san_entry>& sans, bool critical);

// Entries of `requested` that `allowed` lacks (DNS and email domains compare
// case-insensitively), as text; empty when every one is allowed.
std::vector<std::string> names_not_in(const std::vector<san_entry>& requested, const std::vector<san_entry>& allowed);

// The subject's attributes: at most max_subject_rdns of them, each readable
// as UTF-8 without NUL or control characters, CN no longer than
// max_cn_length, every other attribute within RFC 5280's upper bound
// (Appendix A.1), the whole encoded subject within max_subject_bytes.
result<void> check_subject_name(const X509_NAME& subject, const name_limits& limits);
// The subject as printed (RFC 4514) for patterns to match, or "" when its
// encoding is over max_subject_bytes (such a request is refused anyway).
std::string subject_for_matching(const X509_NAME& subject);
// The most characters an attribute may have (max_cn_length for the CN).
std::size_t subject_attribute_bound(int nid, const name_limits& limits);

// A DNS host name in preferred name syntax (RFC 1034 §3.5, RFC 5280
// §4.2.1.6): letters, digits and hyphens in labels of 1-63 characters;
// with `wildcard`, "*" may be the whole leftmost label of a name with at
// least two more labels (RFC 6125 §6.4.3). The error says what is wrong.
result<void> check_dns_name(std::string_view name, bool wildcard);

}  // namespace scep
