// The request analysis: a pkiMessage decoded field by field and checked
// against the catalogue (analysis.hpp).
#include "pki/inspect/analysis.hpp"

#include <openssl/err.h>
#include <openssl/objects.h>
#include <openssl/pkcs7.h>
#include <openssl/x509v3.h>

#include <algorithm>

#include "pki/ca/names.hpp"
#include "pki/crypto/der.hpp"
#include "pki/crypto/encoding.hpp"
#include "pki/inspect/asn1_view.hpp"
#include "pki/challenge/challenge.hpp"
#include "pki/scep/message.hpp"

namespace scep::inspect {

using namespace detail;

namespace {

bool issued_by(X509* c, const X509* ca) {
    X509* issuer = const_cast<X509*>(ca);
    bool ok = X509_NAME_cmp(X509_get_issuer_name(c), X509_get_subject_name(issuer)) == 0 &&
              X509_verify(c, X509_get0_pubkey(issuer)) == 1;
    ERR_clear_error();
    return ok;
}

bool matches(const PKCS7_ISSUER_AND_SERIAL* ias, const X509* cert) {
    return ias && X509_NAME_cmp(ias->issuer, X509_get_issuer_name(cert)) == 0 &&
           ASN1_INTEGER_cmp(ias->serial, X509_get0_serialNumber(cert)) == 0;
}

// Keywords compared without case: a client that reads "postpkioperation" as
// POSTPKIOperation is what the caps-lowercase conformance case expects.
bool advertised(const std::vector<std::string>& caps, std::string_view word) {
    return std::any_of(caps.begin(), caps.end(), [&](const std::string& c) { return ascii_iequals(c, word); });
}

void read_signer(request_report& r, X509* signer, const lab_view& lab, const decoded_request* pre) {
    r.signer.subject = clean(name_to_string(*X509_get_subject_name(signer)));
    r.signer.issuer = clean(name_to_string(*X509_get_issuer_name(signer)));
    r.signer.serial = serial_hex(*signer);
    r.signer.key = key_description(X509_get0_pubkey(signer));
    r.signer.not_after = time_to_iso8601(*X509_get0_notAfter(signer));
    if (pre && pre->signer_self_signed ? *pre->signer_self_signed : is_self_signed(*signer)) {
        r.signer.kind = "self-signed";
        return;
    }
    for (const X509* ca : lab.cas)
        if (issued_by(signer, ca)) {
            r.signer.kind = "issued by this lab";
            return;
        }
    r.signer.kind = "unknown";
}

void read_csr(request_report& r, byte_view data, const lab_view& lab, X509* signer, const decoded_request* pre) {
    x509_req_ptr own;
    X509_REQ* csr = pre && pre->csr ? const_cast<X509_REQ*>(pre->csr) : nullptr;
    csr_view v;
    if (!csr) {
        auto parsed = x509_req_from_der(data);
        if (!parsed) {
            ERR_clear_error();
            raise(r.findings, "csr.invalid", "messageData is not a PKCS#10 request");
            return;
        }
        own = std::move(*parsed);
        csr = own.get();
    }
    EVP_PKEY* key = X509_REQ_get0_pubkey(csr);
    v.signature_valid = key && ((pre && pre->csr && pre->csr_verified) || X509_REQ_verify(csr, key) == 1);
    ERR_clear_error();
    if (!v.signature_valid) raise(r.findings, "csr.invalid", "the CSR's own signature does not verify");
    v.subject = clean(name_to_string(*X509_REQ_get_subject_name(csr)));
    if (auto sans = requested_sans(*csr, name_limits{})) {
        for (const auto& s : *sans) v.sans.push_back(clean(to_string(s)));
    } else {
        v.sans.push_back("refused: " + clean(sans.message()));
    }
    v.key = key_description(key);
    if (key) {
        const int bits = EVP_PKEY_get_bits(key), id = EVP_PKEY_get_base_id(key);
        if (id == EVP_PKEY_RSA && bits < lab.min_rsa_bits)
            raise(r.findings, "csr.key-too-small", v.key + " < " + std::to_string(lab.min_rsa_bits));
        if (id == EVP_PKEY_EC && bits < lab.min_ec_bits)
            raise(r.findings, "csr.key-too-small", v.key + " < " + std::to_string(lab.min_ec_bits));
    }
    if (x509_ext_stack_ptr exts{X509_REQ_get_extensions(csr)}) {
        for (int i = 0; i < sk_X509_EXTENSION_num(exts.get()); ++i)
            v.extensions.push_back(algorithm_name(X509_EXTENSION_get_object(sk_X509_EXTENSION_value(exts.get(), i))));
    }
    ERR_clear_error();
    v.signature_algorithm = OBJ_nid2ln(X509_REQ_get_signature_nid(csr));
    auto challenge = csr_challenge(*csr);
    v.challenge = challenge ? string_type_name(challenge->asn1_type) : "absent";
    const bool first_enrollment = r.message_type == 19 && r.signer.kind == "self-signed";
    if (challenge && challenge->asn1_type != V_ASN1_PRINTABLESTRING)
        raise(r.findings, "challenge.not-printable", v.challenge);
    if (!challenge && lab.challenge_required && first_enrollment) raise(r.findings, "challenge.missing");
    if (first_enrollment && signer) {
        if (X509_NAME_cmp(X509_get_subject_name(signer), X509_REQ_get_subject_name(csr)) != 0)
            raise(r.findings, "signer.subject-mismatch", "signer " + r.signer.subject + ", CSR " + v.subject);
        if (key && public_key_sha256(*X509_get_X509_PUBKEY(signer)) != public_key_sha256(*X509_REQ_get_X509_PUBKEY(csr)))
            raise(r.findings, "signer.key-mismatch");
    }
    r.csr = std::move(v);
}

// CertPoll's messageData: SEQUENCE { issuer Name, subject Name } (RFC 8894
// §3.3.3); nullopt when it is not one.
std::optional<std::pair<x509_name_ptr, x509_name_ptr>> issuer_and_subject(byte_view data) {
    auto outer = read_der_tlv(data, 0);
    if (!outer || outer->tag != 0x30 || outer->end() != data.size()) return std::nullopt;
    x509_name_ptr names[2];
    std::size_t at = outer->content();
    for (auto& name : names) {
        auto tlv = read_der_tlv(data, at);
        if (!tlv || tlv->end() > outer->end()) return std::nullopt;
        const unsigned char* p = data.data() + at;
        name.reset(d2i_X509_NAME(nullptr, &p, static_cast<long>(tlv->end() - at)));
        ERR_clear_error();
        if (!name) return std::nullopt;
        at = tlv->end();
    }
    return std::make_pair(std::move(names[0]), std::move(names[1]));
}

// GetCert, GetCRL and CertPoll name the CA that issued (or will issue) the
// certificate (RFC 8894 §3.3.2–§3.3.4). Some clients name the RA instead,
// the first certificate of GetCACert: a server answers badCertId unless it
// maps the RA to its CA (this lab's scep.ra_as_issuer, NDES).
void check_issuer(request_report& r, const X509_NAME& issuer, const lab_view& lab) {
    for (const X509* ca : lab.cas)
        if (X509_NAME_cmp(X509_get_subject_name(ca), &issuer) == 0) return;
    for (const X509* ra : lab.ras)
        if (X509_NAME_cmp(X509_get_subject_name(ra), &issuer) == 0) {
            raise(r.findings, "query.issuer-is-ra", r.message_type_name + " names " + clean(name_to_string(issuer)));
            return;
        }
}

void read_message_data(request_report& r, byte_view data, const lab_view& lab, X509* signer,
                       const decoded_request* pre = nullptr) {
    switch (r.message_type.value_or(0)) {
        case 17:
        case 19: read_csr(r, data, lab, signer, pre); break;
        case 20: {
            auto ias = issuer_and_subject(data);
            r.message_data = ias ? "issuer " + clean(name_to_string(*ias->first)) + ", subject " +
                                       clean(name_to_string(*ias->second))
                                 : "not an IssuerAndSubject";
            if (ias) check_issuer(r, *ias->first, lab);
            break;
        }
        case 21:
        case 22: {
            auto ias = decode_issuer_and_serial(data);
            ERR_clear_error();
            r.message_data = ias ? "issuer " + clean(name_to_string(*ias->issuer)) + ", serial " + ias->serial
                                 : "not an IssuerAndSerialNumber";
            if (ias) check_issuer(r, *ias->issuer, lab);
            break;
        }
        default: break;
    }
}

void read_envelope(request_report& r, byte_view content, const lab_view& lab, const bytes* opened, X509* signer) {
    const unsigned char* p = content.data();
    pkcs7_ptr env(d2i_PKCS7(nullptr, &p, static_cast<long>(content.size())));
    if (!env || !PKCS7_type_is_enveloped(env.get())) {
        ERR_clear_error();
        raise(r.findings, "envelope.unreadable", "the signed content is not an EnvelopedData");
        return;
    }
    const int cipher = OBJ_obj2nid(env->d.enveloped->enc_data->algorithm->algorithm);
    r.content_cipher = algorithm_name(env->d.enveloped->enc_data->algorithm->algorithm);
    const auto& caps = lab.capabilities;
    const bool aes = advertised(caps, "AES") || advertised(caps, "SCEPStandard");
    // What the server advertised is unknown (evidence without its GetCACaps): nothing is "not advertised".
    const bool known = lab.capabilities_known;
    switch (cipher) {
        case NID_des_cbc:
            raise(r.findings, "envelope.single-des");
            if (known) raise(r.findings, "envelope.cipher-not-advertised", r.content_cipher);
            break;
        case NID_des_ede3_cbc:
            raise(r.findings, "envelope.des3");
            if (known && !advertised(caps, "DES3")) raise(r.findings, "envelope.cipher-not-advertised", r.content_cipher);
            break;
        case NID_aes_128_cbc:
        case NID_aes_192_cbc:
        case NID_aes_256_cbc:
            if (known && !aes) raise(r.findings, "envelope.cipher-not-advertised", r.content_cipher);
            break;
        default:
            if (known) raise(r.findings, "envelope.cipher-not-advertised", r.content_cipher);
    }
    STACK_OF(PKCS7_RECIP_INFO)* ris = env->d.enveloped->recipientinfo;
    bool to_ra = false;
    for (int i = 0; i < sk_PKCS7_RECIP_INFO_num(ris); ++i) {
        PKCS7_RECIP_INFO* ri = sk_PKCS7_RECIP_INFO_value(ris, i);
        if (r.key_transport.empty()) r.key_transport = algorithm_name(ri->key_enc_algor->algorithm);
        if (OBJ_obj2nid(ri->key_enc_algor->algorithm) == NID_rsaesOaep) raise(r.findings, "envelope.rsaes-oaep");
        std::string name;
        if (lab.ra_encryption_cert && matches(ri->issuer_and_serial, lab.ra_encryption_cert)) {
            name = "RA";
            to_ra = true;
        }
        for (const auto& [label, cert] : lab.published)
            if (name.empty() && matches(ri->issuer_and_serial, cert)) name = label;
        if (name.empty() && ri->issuer_and_serial) {
            bignum_ptr bn(ASN1_INTEGER_to_BN(ri->issuer_and_serial->serial, nullptr));
            ossl_string_ptr hex(bn ? BN_bn2hex(bn.get()) : nullptr);
            name = "unknown (issuer " + clean(name_to_string(*ri->issuer_and_serial->issuer)) + ", serial " +
                   (hex ? std::string(hex.get()) : "?") + ")";
        }
        r.encrypted_to += (r.encrypted_to.empty() ? "" : "; ") + name;
    }
    if (lab.ra_encryption_cert && !to_ra) raise(r.findings, "envelope.not-to-ra", r.encrypted_to);
    if (opened) {
        r.opened = true;
        return;
    }
    if (!lab.ra_key || !lab.ra_encryption_cert || !to_ra) return;
    // CMS opens every key transport PKCS#7 does and RSAES-OAEP besides.
    auto data = decrypt_envelope(content, *lab.ra_encryption_cert, *lab.ra_key);
    if (!data) {
        ERR_clear_error();
        raise(r.findings, "envelope.unreadable", "the RA key does not decrypt it");
        return;
    }
    r.opened = true;
    read_message_data(r, *data, lab, signer);
}

}  // namespace

std::optional<finding> unescaped_base64(std::string_view raw) {
    // RFC 3986 §3.4: '/', '?', '=' and the other sub-delimiters are legal in
    // a query, and every server reads them as themselves. What changes the
    // message: a raw '+', which servers that decode the query as a form
    // (application/x-www-form-urlencoded: Go's url.ParseQuery, ASP.NET) read as
    // a space; and line breaks inside the base64 (raw, or percent-encoded),
    // which lenient decoders skip and strict ones refuse.
    std::size_t plus = 0, breaks = 0;
    for (std::size_t i = 0; i < raw.size(); ++i) {
        if (raw[i] == '+') ++plus;
        else if (raw[i] == '\r' || raw[i] == '\n') ++breaks;
        else if (raw[i] == '%' && i + 2 < raw.size() && raw[i + 1] == '0' &&
                 (raw[i + 2] == 'A' || raw[i + 2] == 'a' || raw[i + 2] == 'D' || raw[i + 2] == 'd'))
            ++breaks;
    }
    if (plus == 0 && breaks == 0) return std::nullopt;
    std::string detail;
    if (plus)
        detail = "raw '+' " + std::to_string(plus) + (plus == 1 ? " time" : " times") +
                 " (servers that decode the query as a form read a space; send %2B)";
    if (breaks)
        detail += std::string(detail.empty() ? "" : "; ") + std::to_string(breaks) + " line break" +
                  (breaks == 1 ? "" : "s") + " in the base64 (lenient decoders skip them, strict ones refuse)";
    finding f{"http.get-unescaped", std::move(detail)};
    // A '+' garbles the message for many servers; line breaks alone only for strict decoders.
    if (!plus) f.level = severity::note;
    return f;
}

std::vector<finding> http_findings(const http_view& http, const std::vector<std::string>& caps) {
    std::vector<finding> out;
    bool known = false, exact = false;
    for (std::string_view op : scep_operations) {
        if (http.operation == op) exact = true;
        if (ascii_iequals(http.operation, op)) known = true;
    }
    if (known && !exact) raise(out, "http.operation-case", clean(http.operation));
    if (!ascii_iequals(http.operation, "PKIOperation")) return out;
    if (http.method == "GET") {
        if (advertised(caps, "POSTPKIOperation") || advertised(caps, "SCEPStandard"))
            raise(out, "http.get-despite-post");
        if (http.get_unescaped) out.push_back(*http.get_unescaped);
        if (http.query_length > 2048) raise(out, "http.get-too-long", std::to_string(http.query_length) + " characters");
    }
    if (http.method == "POST") {
        const std::string_view ct = media_type(http.content_type);
        if (!ascii_iequals(ct, "application/x-pki-message"))
            raise(out, "http.post-content-type", ct.empty() ? "none" : clean(ct));
        if (http.post_base64) raise(out, "http.post-base64");
    }
    return out;
}

request_report analyze_request(byte_view der, const lab_view& lab, const bytes* opened,
                               const decoded_request* decoded) {
    request_report r;
    r.size = der.size();
    pkcs7_ptr own;
    PKCS7* p7 = decoded && decoded->p7 ? const_cast<PKCS7*>(decoded->p7) : nullptr;
    if (!p7 && !der.empty()) {
        if (auto parsed = pkcs7_from_der(der)) own = std::move(*parsed);
        p7 = own.get();
    }
    ERR_clear_error();
    if (!p7 || !PKCS7_type_is_signed(p7)) {
        r.error = !p7 ? "not a DER/BER PKCS#7 ContentInfo" : "not a SignedData";
        raise(r.findings, "http.not-pkimessage", r.error);
        return r;
    }
    STACK_OF(PKCS7_SIGNER_INFO)* sis = PKCS7_get_signer_info(p7);
    PKCS7_SIGNER_INFO* si = sis && sk_PKCS7_SIGNER_INFO_num(sis) > 0 ? sk_PKCS7_SIGNER_INFO_value(sis, 0) : nullptr;
    if (!si) {
        r.error = "the SignedData has no signerInfo";
        raise(r.findings, "http.not-pkimessage", r.error);
        return r;
    }
    r.decoded = true;

    // Signed attributes, in the order received, and whether that is DER order.
    STACK_OF(X509_ATTRIBUTE)* attrs = si->auth_attr;
    bytes previous;
    for (int i = 0; i < sk_X509_ATTRIBUTE_num(attrs); ++i) {
        X509_ATTRIBUTE* a = sk_X509_ATTRIBUTE_value(attrs, i);
        r.signed_attributes.push_back(attribute_name(oid_text(X509_ATTRIBUTE_get0_object(a))));
        if (auto cur = der_encode(*a, i2d_X509_ATTRIBUTE, "signed attribute")) {
            if (i > 0 && !der_set_less_or_equal(previous, *cur)) r.attributes_der_sorted = false;
            previous = std::move(*cur);
        }
    }
    if (!r.attributes_der_sorted) raise(r.findings, "attr.not-der-sorted");
    if (!attr_value(attrs, oid_content_type)) raise(r.findings, "attr.content-type-missing");

    r.message_type = int_value(attr_value(attrs, oid_message_type));
    if (!r.message_type) {
        raise(r.findings, "attr.message-type-missing");
    } else {
        r.message_type_name = message_type_name(*r.message_type);
        if (*r.message_type != 17 && !(*r.message_type >= 19 && *r.message_type <= 22))
            raise(r.findings, "attr.message-type-unknown", r.message_type_name);
        if (*r.message_type == 17 && lab.capabilities_known && !advertised(lab.capabilities, "Renewal"))
            raise(r.findings, "renewal.not-advertised");
    }
    if (const ASN1_TYPE* t = attr_value(attrs, oid_transaction_id); auto txid = string_value(t)) {
        r.transaction_id = clean(*txid);
        r.transaction_id_type = string_type_name(t->type);
        if (t->type != V_ASN1_PRINTABLESTRING) raise(r.findings, "attr.transaction-id-type", r.transaction_id_type);
    } else {
        raise(r.findings, "attr.transaction-id-missing");
    }
    if (auto nonce = octet_value(attr_value(attrs, oid_sender_nonce))) {
        r.sender_nonce = to_hex(byte_view(nonce->data(), std::min<std::size_t>(nonce->size(), 64)));
        r.sender_nonce_length = nonce->size();
        if (nonce->size() != 16) raise(r.findings, "attr.nonce-length", std::to_string(nonce->size()) + " bytes");
    } else {
        raise(r.findings, "attr.sender-nonce-missing");
    }

    // Digest and signature algorithm.
    const int digest = OBJ_obj2nid(si->digest_alg->algorithm);
    r.digest = algorithm_name(si->digest_alg->algorithm);
    r.signature_algorithm = algorithm_name(si->digest_enc_alg->algorithm);
    const auto& caps = lab.capabilities;
    bool digest_advertised = false;
    switch (digest) {
        case NID_md5: raise(r.findings, "digest.md5"); break;
        case NID_sha1:
            raise(r.findings, "digest.sha1");
            digest_advertised = advertised(caps, "SHA-1");
            break;
        case NID_sha256: digest_advertised = advertised(caps, "SHA-256") || advertised(caps, "SCEPStandard"); break;
        case NID_sha512: digest_advertised = advertised(caps, "SHA-512"); break;
        default: break;
    }
    if (!digest_advertised && lab.capabilities_known) raise(r.findings, "digest.not-advertised", r.digest);

    // The signer certificate: the one the signerInfo names.
    X509* signer = nullptr;
    STACK_OF(X509)* certs = p7->d.sign->cert;
    for (int i = 0; certs && i < sk_X509_num(certs); ++i) {
        X509* c = sk_X509_value(certs, i);
        if (X509_NAME_cmp(X509_get_issuer_name(c), si->issuer_and_serial->issuer) == 0 &&
            ASN1_INTEGER_cmp(X509_get0_serialNumber(c), si->issuer_and_serial->serial) == 0)
            signer = c;
    }
    if (!signer) {
        r.signer.kind = "none";
        raise(r.findings, "signer.missing");
    } else {
        read_signer(r, signer, lab, decoded);
        // A key OpenSSL cannot decode (an unknown algorithm, a broken encoding) has no EVP_PKEY.
        const EVP_PKEY* signer_key = X509_get0_pubkey(signer);
        ERR_clear_error();
        if (!signer_key || !key_is_rsa(*signer_key)) raise(r.findings, "signer.not-rsa", r.signer.key);
        if (opened) {
            r.signature_valid = true;  // the server verified it before decrypting
        } else {
            r.signature_valid = verify_signed_content(der, *signer).has_value();
            ERR_clear_error();
            if (!*r.signature_valid) raise(r.findings, "signer.signature-invalid");
        }
        const bool renewal_like = r.message_type == 17 || (r.message_type == 19 && r.signer.kind == "issued by this lab");
        if (r.message_type == 17 && r.signer.kind != "issued by this lab")
            raise(r.findings, "renewal.signer-unknown", r.signer.kind);
        if (renewal_like && r.signer.kind == "issued by this lab" &&
            asn1_time_point(*X509_get0_notAfter(signer)) <= lab.now)
            raise(r.findings, "renewal.signer-expired", "expired " + r.signer.not_after);
    }

    // The pkcsPKIEnvelope inside the signed id-data content.
    PKCS7* inner = p7->d.sign->contents;
    if (inner && PKCS7_type_is_data(inner) && inner->d.data && ASN1_STRING_length(inner->d.data) > 0) {
        byte_view content(ASN1_STRING_get0_data(inner->d.data), static_cast<std::size_t>(ASN1_STRING_length(inner->d.data)));
        read_envelope(r, content, lab, opened, signer);
    } else {
        raise(r.findings, "envelope.unreadable", "the SignedData carries no content");
    }
    if (opened) read_message_data(r, *opened, lab, signer, decoded);
    return r;
}

}  // namespace scep::inspect
