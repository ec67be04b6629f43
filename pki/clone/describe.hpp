// What describe.cpp reads out of certificates, GetCACaps and the admin page,
// shared with plan.cpp (the configuration a clone writes).
#pragma once

#include <string>
#include <vector>

#include "pki/clone/clone.hpp"

namespace scep::clone {

// "C=DE (PrintableString), CN=XY (BMPString)" in DER order, " + " inside a
// multi-valued RDN.
std::string name_text(const X509_NAME& name);
std::string key_text(const X509& cert);        // "RSA 4096", "EC prime256v1"
std::string signature_text(const X509& cert);  // "sha1WithRSAEncryption", "rsassaPss (SHA384, MGF1 SHA384)"
long long validity_seconds(const X509& cert);  // notAfter - notBefore; -1 when unreadable
std::string length_text(long long seconds);    // "3650d", "30d 300s"
std::string extension_name(const X509_EXTENSION& ext);  // "keyUsage" or the dotted OID
std::string extension_text(const X509_EXTENSION& ext);  // as openssl x509 -text prints it, one line

struct caps_form {
    std::vector<std::string> words;
    std::string line_end;  // "CRLF", "LF", "none"
    bool final_line_end = false;
};
caps_form read_caps(const std::string& body);

// What NDES's admin page says (never the password itself).
struct admin_facts {
    std::string encoding;  // "utf-16le-bom", "utf-16le", "utf-8"
    std::string answer;    // "password", "single-password", "cache-full", "no-permission", "empty", "unrecognised page"
    std::size_t password_length = 0;
    bool password_hex = false;
    int validity_minutes = 0;
    std::string thumbprint;  // hex digits as shown
};
admin_facts read_admin_page(const std::string& raw);

// The certrep.* properties (describe's; also for a view with no certificate).
void describe_certrep(const server_view& view, std::vector<property>& out);

}  // namespace scep::clone
