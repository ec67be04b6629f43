#include "pki/inspect/findings.hpp"

#include <algorithm>
#include <stdexcept>

namespace scep::inspect {

namespace {

using enum severity;

// Stable IDs: never rename or reuse one (reports and metrics refer to them).
// Public sources only: RFC sections, vendor documentation, public trackers.
constexpr finding_def table[] = {
    // --- transport (HTTP) ---
    {"http.not-pkimessage", error,
     "The PKIOperation body or message parameter is not a SCEP pkiMessage (not DER/BER PKCS#7 SignedData with the "
     "SCEP attributes), so no server can read it; it is answered HTTP 400.",
     "RFC 8894 §3.2, §4.3"},
    {"http.get-despite-post", warning,
     "PKIOperation was sent with GET although GetCACaps advertised POSTPKIOperation; GET puts the whole message in "
     "the URL, which IIS refuses beyond maxQueryString (404.15).",
     "RFC 8894 §4.1, §3.5.2; micromdm/scep #238"},
    {"http.get-unescaped", error,
     "The GET message parameter carries a raw '+', which servers that decode the query as a form read as a space, "
     "or line breaks inside the base64, which strict decoders refuse (a note when only line breaks): base64 must be "
     "URL-encoded ('+' as %2B). '/' and '=' are legal in a query and not reported.",
     "RFC 8894 §4.1; RFC 3986 §3.4; smallstep/certificates #846, #917"},
    {"http.get-too-long", warning,
     "The GET query string is longer than 2048 characters, IIS's default maxQueryString: NDES answers 404.15 and "
     "Windows clients report 0x80190194.",
     "IIS request filtering (maxQueryString); micromdm/scep #238"},
    {"http.post-content-type", warning,
     "The PKIOperation POST has no Content-Type or not application/x-pki-message; strict servers and proxies refuse "
     "or mangle it.",
     "RFC 8894 §4.3"},
    {"http.post-base64", warning,
     "The PKIOperation POST body is base64 text, not binary DER; this lab accepts it, NDES and micromdm/scep do not.",
     "RFC 8894 §4.3"},
    {"http.operation-case", warning,
     "The operation name differs in case from the RFC's (e.g. getcacaps); this lab accepts it, servers that compare "
     "exactly answer 400.",
     "RFC 8894 §4.1"},
    // --- flow ---
    {"flow.no-getcacaps", warning,
     "PKIOperation from a client that did not ask GetCACaps in the 10 minutes before: it cannot know which "
     "algorithms and methods this server supports and is guessing.",
     "RFC 8894 §3.5.1"},
    {"flow.stopped-after-getcacaps", warning,
     "The client asked GetCACaps and then nothing for 5 seconds: it did not go on to GetCACert. The detail says what "
     "it was sent (an HTTP error, an empty list, capabilities it may require and did not get).",
     "RFC 8894 §3.5.1, §4.1"},
    {"flow.stopped-after-getcacert", warning,
     "The client fetched the CA certificates and then nothing for 5 seconds: no enrollment followed. Clients stop "
     "here when they refuse the chain; the detail names what in the reply it may have refused (no certificate with "
     "a key usage for encryption to pick as recipient, a chain without its CA, a content type that does not fit "
     "the number of certificates, an injected fault).",
     "RFC 8894 §3.2.2, §4.2.1"},
    {"query.issuer-is-ra", warning,
     "GetCert, GetCRL or CertPoll names the RA as issuer instead of the CA: servers answer badCertId unless they "
     "map the RA to its CA (NDES does; here scep.ra_as_issuer).",
     "RFC 8894 §3.3.2, §3.3.3, §3.3.4"},
    {"flow.poll-unknown", error,
     "CertPoll for a transactionID this server never saw: the client polls a request it did not send here (another "
     "server, a lost store, or a new transactionID per poll) and gets badCertId.",
     "RFC 8894 §3.3.3"},
    // --- the SignedData and its attributes ---
    {"attr.message-type-missing", error,
     "The signed attributes have no (or no readable) messageType; the server cannot tell what is asked.",
     "RFC 8894 §3.2.1.2"},
    {"attr.message-type-unknown", error,
     "The messageType is not one RFC 8894 defines for a request (PKCSReq 19, RenewalReq 17, CertPoll 20, GetCert "
     "21, GetCRL 22).",
     "RFC 8894 §3.2.1.2"},
    {"attr.transaction-id-missing", error,
     "The signed attributes have no transactionID; the server cannot match polls and retransmissions to the request.",
     "RFC 8894 §3.2.1.1"},
    {"attr.transaction-id-type", note,
     "The transactionID is not a PrintableString; most servers echo it as received, some re-encode it and the "
     "client's comparison then fails.",
     "RFC 8894 §3.2.1.1"},
    {"attr.sender-nonce-missing", error,
     "The signed attributes have no senderNonce; the reply cannot carry a recipientNonce the client can check.",
     "RFC 8894 §3.2.1.5"},
    {"attr.nonce-length", warning,
     "The senderNonce is not 16 bytes; RFC 8894 specifies 16 random bytes and some servers check the length.",
     "RFC 8894 §3.2.1.5"},
    {"attr.content-type-missing", error,
     "The signed attributes have no contentType attribute, which CMS requires whenever signed attributes are "
     "present; OpenXPKI and other strict verifiers refuse the signature.",
     "RFC 5652 §5.3, §11.1; openxpki #789"},
    {"attr.not-der-sorted", warning,
     "The signed attributes are not in DER (sorted SET OF) order; verifiers that re-encode them before checking the "
     "signature compute another digest and refuse it.",
     "RFC 5652 §5.4; smallstep/certificates #1723"},
    // --- signer and signature ---
    {"signer.missing", error,
     "The SignedData does not include the signer's certificate, so the signature cannot be checked and the reply "
     "has no key to be encrypted to (badMessageCheck).",
     "RFC 8894 §3.2"},
    {"signer.signature-invalid", error,
     "The signature over the signed attributes does not verify with the signer certificate the request carries "
     "(badMessageCheck).",
     "RFC 8894 §3.2; RFC 5652 §5.6"},
    {"signer.not-rsa", warning,
     "The request is signed with a non-RSA key: every reply is encrypted to the signer's key, so an EC signer's reply "
     "needs CMS key agreement (KeyAgreeRecipientInfo). NDES and this lab send it (scep.ec_requesters); servers and "
     "clients built on PKCS#7 key transport (micromdm/scep, sscep) cannot.",
     "RFC 8894 §3.2.2, §3.3.2; RFC 5753 §3"},
    {"signer.subject-mismatch", warning,
     "The self-signed signer certificate's subject differs from the CSR's; OpenXPKI and Cisco devices expect them "
     "to match.",
     "RFC 8894 §2.3; OpenXPKI SCEP documentation"},
    {"signer.key-mismatch", warning,
     "The self-signed signer certificate uses another key than the CSR; RFC 8894 says it SHOULD be the same and "
     "strict servers refuse it.",
     "RFC 8894 §2.3"},
    // --- digest ---
    {"digest.md5", error,
     "The message is signed with an MD5 digest; RFC 8894 forbids it and servers refuse it (badAlg).",
     "RFC 8894 §2.9; smallstep/certificates #2100"},
    {"digest.sha1", warning,
     "The message is signed with SHA-1: legacy, refused by servers whose crypto policy forbids SHA-1 signatures "
     "(RHEL 9 DEFAULT).",
     "RFC 8894 §2.9, §8.9"},
    {"digest.not-advertised", warning,
     "The digest is one the server's GetCACaps did not advertise (SHA-1, SHA-256, SHA-512 or SCEPStandard); a "
     "server may refuse it with badAlg.",
     "RFC 8894 §3.5.2"},
    // --- envelope ---
    {"envelope.single-des", error,
     "The pkcsPKIEnvelope is encrypted with single DES, which RFC 8894 forbids; current servers and OpenSSL 3 "
     "without its legacy provider refuse it.",
     "RFC 8894 §2.9; micromdm/scep #244"},
    {"envelope.des3", note,
     "The pkcsPKIEnvelope is encrypted with triple DES: accepted by NDES and this lab, but AES is the mandatory "
     "cipher and FIPS-minded servers refuse 3DES.",
     "RFC 8894 §2.9"},
    {"envelope.rsaes-oaep", note,
     "The content-encryption key is wrapped with RSAES-OAEP: this lab and CMS-based servers decrypt it, but servers "
     "built on PKCS#7 (which knows only PKCS#1 v1.5 key transport) cannot.",
     "RFC 8894 §3.2.2; RFC 8017 §7.1"},
    {"envelope.cipher-not-advertised", warning,
     "The content cipher is one the server's GetCACaps did not advertise (AES, DES3 or SCEPStandard); a server may "
     "refuse it with badAlg.",
     "RFC 8894 §3.5.2"},
    {"envelope.not-to-ra", error,
     "The envelope is encrypted to a certificate other than the RA's encryption certificate (often the CA), so the "
     "server cannot decrypt it; NDES logs 0x80090005.",
     "RFC 8894 §3.2.2; certnanny/sscep #60"},
    {"envelope.unreadable", error,
     "The signed content is not an EnvelopedData this server can open (not PKCS#7, or no recipient it has the key "
     "for).",
     "RFC 8894 §3.2.2"},
    // --- the CSR and the challenge ---
    {"csr.invalid", error,
     "The decrypted messageData is not a PKCS#10 request whose signature verifies (badRequest).",
     "RFC 8894 §3.3.1; RFC 2986"},
    {"csr.key-too-small", error,
     "The CSR's key is smaller than the issuance policy requires (issuance.min_rsa_bits / min_ec_bits); NDES "
     "templates refuse it the same way.",
     "NDES certificate template minimum key size"},
    {"challenge.missing", error,
     "The CSR has no challengePassword attribute but the server requires one (badMessageCheck).",
     "RFC 8894 §2.3, §3.3.1"},
    {"challenge.wrong", error,
     "The challengePassword does not match (wrong, expired or already used); the server answers badMessageCheck.",
     "RFC 8894 §2.3; RFC 8894 §8.3"},
    {"challenge.not-printable", warning,
     "The challengePassword is not a PrintableString (often a UTF8String); NDES refuses it and Windows reports "
     "\"non-printable character\" (0x2ab0003).",
     "RFC 2985 §5.4.1; fleetdm/fleet #46990"},
    // --- renewal ---
    {"renewal.not-advertised", warning,
     "A RenewalReq was sent although GetCACaps did not advertise Renewal; servers without it refuse the message "
     "type.",
     "RFC 8894 §3.5.2, §3.3.1.2"},
    {"renewal.signer-unknown", error,
     "The renewal is signed with a certificate this CA did not issue (or a self-signed one), so it proves nothing "
     "(badMessageCheck).",
     "RFC 8894 §3.3.1.2"},
    {"renewal.signer-expired", error,
     "The renewal is signed with a certificate that has already expired; it must be renewed before expiry or "
     "enrolled anew (badCertId).",
     "RFC 8894 §3.3.1.2"},
    {"renewal.signer-revoked", error,
     "The renewal is signed with a revoked certificate (badCertId).",
     "RFC 8894 §3.3.1.2"},
    {"transaction-id.reused-key", error,
     "The transactionID was already used with a different public key; the server cannot tell the two requests "
     "apart and refuses the second (badRequest).",
     "RFC 8894 §3.2.1.1"},
};

}  // namespace

std::string_view to_string(severity s) {
    switch (s) {
        case severity::note: return "note";
        case severity::warning: return "warning";
        case severity::error: return "error";
    }
    return "?";
}

std::span<const finding_def> catalogue() { return table; }

const finding_def* find_finding(std::string_view id) {
    for (const auto& f : table)
        if (f.id == id) return &f;
    return nullptr;
}

void raise(std::vector<finding>& out, std::string_view id, std::string detail) {
    if (!find_finding(id)) throw std::logic_error("finding not in the catalogue: " + std::string(id));
    for (const auto& f : out)
        if (f.id == id) return;
    out.push_back({std::string(id), std::move(detail)});
}

severity severity_of(const finding& f) {
    if (f.level) return *f.level;
    const auto* def = find_finding(f.id);
    return def ? def->level : severity::note;
}

void order_by_severity(std::vector<finding>& found) {
    std::stable_sort(found.begin(), found.end(),
                     [](const finding& a, const finding& b) { return severity_of(a) > severity_of(b); });
}

std::optional<severity> worst(const std::vector<finding>& found) {
    std::optional<severity> w;
    for (const auto& f : found)
        if (!w || severity_of(f) > *w) w = severity_of(f);
    return w;
}

std::string catalogue_markdown() {
    std::string out = "| ID | severity | what happened and why it matters | reference |\n|---|---|---|---|\n";
    for (const auto& f : table) {
        out += "| `" + std::string(f.id) + "` | " + std::string(to_string(f.level)) + " | ";
        for (char c : f.summary) out += c == '|' ? std::string("\\|") : std::string(1, c);
        out += " | " + std::string(f.reference) + " |\n";
    }
    return out;
}

}  // namespace scep::inspect
