// `scep-lab clone` (docs/clone.md): what a SCEP server shows any client
// (GetCACaps, GetCACert, GetNextCACert, its HTTP identity, NDES's admin page,
// a CertRep), read as hostile input, described property by property, compared
// with another server's, and turned into a lab configuration that looks the
// same in everything but keys, serials and dates.
#pragma once

#include <cstddef>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "pki/crypto/ossl.hpp"

namespace scep::clone {

// Inputs are refused above these (a GetCACert of a real server is a few KB).
inline constexpr std::size_t max_input_bytes = 1 << 20;
inline constexpr std::size_t max_certificates = 32;

// What one server showed. Filled from a live server (client/clone_fetch.cpp)
// or from files (read_files).
struct server_view {
    std::string source;  // the URL or the files it was read from, for reports
    // GetCACaps: the body as answered (line ends kept) and its Content-Type.
    std::optional<std::string> caps;
    std::string caps_content_type;
    // GetCACert: the certificates in the order served; `single` when the
    // answer was one DER certificate (application/x-x509-ca-cert).
    std::vector<x509_ptr> certs;
    bool single = false;
    std::string cacert_content_type;
    // GetNextCACert's HTTP status (0: not asked, e.g. from files).
    int next_status = 0;
    // HTTP identity: Server and X-Powered-By of the GetCACaps answer.
    std::string server_header, powered_by;
    // The URL path the SCEP requests went to ("/certsrv/mscep/mscep.dll").
    std::string scep_path;
    // NDES's admin page as answered (raw bytes), its status and Content-Type.
    std::optional<std::string> admin_page;
    int admin_status = 0;
    std::string admin_content_type;
    bool admin_needs_login = false;  // 401 without credentials
    // A CertRep the server sent (DER), e.g. a failed enrollment.
    std::optional<bytes> certrep;
};

// Reads a GetCACert answer: a degenerate PKCS#7 (DER or PEM), one
// certificate (DER or PEM) or a PEM bundle. `what` names the input in errors.
result<std::vector<x509_ptr>> read_certificates(const std::string& data, const std::string& what, bool* single = nullptr);
// Checks a GetCACaps answer: text of printable ASCII lines.
result<void> check_caps(const std::string& body, const std::string& what);

// Files a customer sent: GetCACaps text, GetCACert (p7b, DER, PEM), the
// admin page and a CertRep (DER, base64 or PEM); GetCACert or a CertRep at
// least. Each is read whole, within max_input_bytes; an error names the file.
struct input_files {
    std::string caps, cacert, admin_page, certrep;
};
result<server_view> read_files(const input_files& files);
// What a server showed in captures or HAR files (`clone --from-capture`):
// the answers of the first server that answered GetCACert.
result<server_view> read_evidence_view(const std::vector<std::string>& files);

// The certificates' roles: CA tiers root first (the top one is "root" only
// when it is self-signed), and the RA certificates.
struct roles {
    std::vector<const X509*> tiers;      // root (or the top-most CA sent) first, issuing CA last
    bool root_missing = false;           // the top CA is not self-signed: its issuer was not sent
    const X509* ra_signing = nullptr;    // the RA that signs (digitalSignature), or the only RA
    const X509* ra_encryption = nullptr; // the RA clients encrypt to (keyEncipherment), when a pair
    std::vector<const X509*> others;     // certificates that fit no role
    // "root", "intermediate", "issuing", "ra-signing", "ra-encryption", "ra" for a certificate.
    std::string role_of(const X509* cert) const;
};
result<roles> assign_roles(const std::vector<x509_ptr>& certs);
// Tier names for n CA tiers, root first: root, [intermediate, intermediate2,] issuing.
std::vector<std::string> tier_names(std::size_t n);

// One visible property. `uncopyable`: what a clone cannot copy (keys,
// serials, dates, fingerprints): a difference there is expected.
struct property {
    std::string name;   // "caps.list", "cert.issuing.subject", ...
    std::string value;
    bool uncopyable = false;
};
std::vector<property> describe(const server_view& view);

// The properties of two servers side by side, by name.
struct difference {
    std::string name;
    std::string a, b;  // "(absent)" when one side lacks the property
    bool uncopyable = false;
};
std::vector<difference> compare(const std::vector<property>& a, const std::vector<property>& b);

// The lab a clone writes: the configuration text and the fidelity report.
struct fidelity_row {
    std::string property;
    std::string verdict;  // "copied", "approximated", "generated", "unknown", "not copied"
    std::string detail;
};
struct clone_options {
    bool verbatim_urls = false;    // CDP/AIA as the customer's (default: rewritten to the lab's)
    bool original_dates = false;   // the certificates' own notBefore/notAfter
    std::string data_dir = "data"; // the lab's data directory, as written into the configuration
    bool ndes = false;             // NDES mode whatever the server showed (--ndes)
};

// The CertRep's signer as IssuerAndSerialNumber names it (RFC 8894 §3.2): the
// RA's issuer, all a lone CertRep says about the CA. Null when unreadable.
x509_name_ptr certrep_signer_issuer(const bytes& certrep);
struct lab_plan {
    std::string toml;
    std::vector<fidelity_row> fidelity;
};
result<lab_plan> plan_lab(const server_view& view, const clone_options& options);

// The fidelity report as a text table and as Markdown.
std::string fidelity_text(const std::vector<fidelity_row>& rows);
std::string fidelity_markdown(const std::vector<fidelity_row>& rows, const std::string& source);

// An extension as an x509v3_config line that rebuilds exactly its DER: a
// readable form where OpenSSL's would give the same bytes, "DER:" otherwise.
// `readable` says which.
std::string extension_line(const X509_EXTENSION& ext, bool* readable = nullptr);

}  // namespace scep::clone
