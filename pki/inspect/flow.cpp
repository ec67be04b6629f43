// What a client that stopped early was sent: the likely causes named in
// flow.stopped-after-getcacaps and flow.stopped-after-getcacert.
#include "pki/inspect/analysis.hpp"

#include <openssl/err.h>
#include <openssl/x509v3.h>

#include <algorithm>

#include "pki/ca/names.hpp"
#include "pki/crypto/encoding.hpp"
#include "pki/inspect/asn1_view.hpp"
#include "pki/scep/message.hpp"

namespace scep::inspect {

using namespace detail;

namespace {

bool has_word(const std::vector<std::string>& words, std::string_view w) {
    return std::any_of(words.begin(), words.end(), [&](const std::string& x) { return ascii_iequals(x, w); });
}

// The certificates of a GetCACert answer: one DER certificate, or a
// degenerate PKCS#7 (RFC 8894 §4.2.1.1, §4.2.1.2), whatever the content type says.
std::vector<x509_ptr> reply_certificates(std::string_view body) {
    byte_view der(reinterpret_cast<const std::uint8_t*>(body.data()), body.size());
    std::vector<x509_ptr> out;
    if (auto c = x509_from_der(der)) out.push_back(std::move(*c));
    else if (auto certs = parse_degenerate(der)) out = std::move(*certs);
    ERR_clear_error();
    return out;
}

}  // namespace

std::vector<std::string> capability_words(std::string_view body) {
    std::vector<std::string> out;
    while (!body.empty() && out.size() < 64) {
        auto nl = body.find('\n');
        std::string_view line = body.substr(0, nl);
        if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
        if (!line.empty()) out.push_back(clean(line));
        body = nl == std::string_view::npos ? std::string_view{} : body.substr(nl + 1);
    }
    return out;
}

std::string getcacaps_stop_causes(int http_status, std::string_view body, std::string_view content_type) {
    if (http_status != 200) return "GetCACaps was answered HTTP " + std::to_string(http_status);
    std::vector<std::string> causes;
    const auto words = capability_words(body);
    if (words.empty()) {
        causes.push_back("an empty capability list: a client that requires POSTPKIOperation, SHA-256 or AES has "
                         "nothing to go on");
    } else {
        const bool standard = has_word(words, "SCEPStandard");
        if (!standard && !has_word(words, "AES") && !has_word(words, "DES3"))
            causes.push_back("no cipher advertised (AES, DES3 or SCEPStandard)");
        if (!standard && !has_word(words, "SHA-256") && !has_word(words, "SHA-512") && !has_word(words, "SHA-1"))
            causes.push_back("no digest advertised (SHA-256, SHA-512, SHA-1 or SCEPStandard)");
    }
    const auto ct = media_type(content_type);
    if (!body.empty() && !ascii_iequals(ct, "text/plain"))
        causes.push_back("content type " + (ct.empty() ? std::string("none") : clean(ct)) + ", not text/plain");
    if (causes.empty())
        return "the list looked usable (" + std::to_string(words.size()) +
               " capabilities): the client stopped for a reason of its own, or meant only to ask";
    std::string out = causes.front();
    for (std::size_t i = 1; i < causes.size(); ++i) out += "; " + causes[i];
    return out;
}

std::string getcacert_stop_causes(int http_status, std::string_view body, std::string_view content_type) {
    if (http_status != 200) return "GetCACert was answered HTTP " + std::to_string(http_status);
    const auto certs = reply_certificates(body);
    if (certs.empty()) return "the reply holds no certificate a client can read";
    std::vector<std::string> causes;
    const auto ct = media_type(content_type);
    const std::size_t n = certs.size();
    if (n == 1 && ascii_iequals(ct, "application/x-x509-ca-ra-cert"))
        causes.push_back("content type application/x-x509-ca-ra-cert for one certificate");
    else if (n > 1 && !ascii_iequals(ct, "application/x-x509-ca-ra-cert"))
        causes.push_back("content type " + (ct.empty() ? std::string("none") : clean(ct)) + " for " +
                         std::to_string(n) + " certificates (RFC 8894 §4.2.1.2: application/x-x509-ca-ra-cert)");
    std::vector<const X509*> cas, others;
    for (const auto& c : certs) (X509_check_ca(c.get()) != 0 ? cas : others).push_back(c.get());
    ERR_clear_error();
    if (cas.empty()) causes.push_back("no CA certificate in the reply");
    // RFC 8894 §3.2.2: the request is encrypted to the RA (or the CA). Clients
    // that pick the recipient by key usage look for keyEncipherment (RSA key
    // transport) or keyAgreement/dataEncipherment.
    bool recipient = false;
    for (const auto& c : certs) {
        const std::uint32_t ku = X509_get_key_usage(c.get());
        if (ku == UINT32_MAX || (ku & (KU_KEY_ENCIPHERMENT | KU_DATA_ENCIPHERMENT | KU_KEY_AGREEMENT)) != 0)
            recipient = true;
    }
    ERR_clear_error();
    if (!recipient)
        causes.push_back("no certificate with a key usage for encryption (keyEncipherment, dataEncipherment or "
                         "keyAgreement): a client that picks the recipient by key usage finds none");
    for (const X509* ra : others) {
        bool issued = false;
        for (const X509* ca : cas)
            if (X509_check_issued(const_cast<X509*>(ca), const_cast<X509*>(ra)) == X509_V_OK &&
                X509_verify(const_cast<X509*>(ra), X509_get0_pubkey(ca)) == 1)
                issued = true;
        ERR_clear_error();
        if (!issued && !cas.empty()) {
            causes.push_back("the RA certificate " + clean(name_to_string(*X509_get_subject_name(ra))) +
                             " was not issued by a CA in the reply");
            break;
        }
    }
    if (causes.empty()) {
        // Without a self-signed root, a client that builds the chain from the
        // reply alone stops (NDES sends none either; most clients bring it).
        bool root = false;
        for (const X509* ca : cas)
            root = root || (X509_check_issued(const_cast<X509*>(ca), const_cast<X509*>(ca)) == X509_V_OK);
        ERR_clear_error();
        return "the reply looked right (" + std::to_string(n) + (n == 1 ? " certificate" : " certificates") +
               (root ? "" : ", no root: a client that needs the whole chain from the reply cannot build it") +
               "): the client may have meant only to fetch the CA, or refused the chain for a reason of its own (its "
               "trust store, a pinned fingerprint)";
    }
    std::string out = causes.front();
    for (std::size_t i = 1; i < causes.size(); ++i) out += "; " + causes[i];
    return out;
}

}  // namespace scep::inspect
