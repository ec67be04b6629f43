#include "pki/persona/device.hpp"

#include <openssl/err.h>
#include <openssl/objects.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <cstdio>

#include "pki/crypto/der.hpp"
#include "pki/crypto/encoding.hpp"
#include "pki/crypto/x509_build.hpp"
#include "pki/scep/attributes.hpp"

namespace scep::persona {

namespace {

refusal refuse(const persona& p, std::string kind, std::string why, int http_status = 0) {
    std::string code = p.error(kind, http_status);
    return refusal{std::move(kind), std::move(why), std::move(code)};
}

bool accepted(const std::vector<std::string>& types, std::string_view content_type) {
    const std::string_view t = media_type(content_type);
    return std::any_of(types.begin(), types.end(), [&](const std::string& a) { return ascii_iequals(a, t); });
}

bool is_ca(const X509& c) { return X509_check_ca(const_cast<X509*>(&c)) != 0; }
std::uint32_t key_usage(const X509& c) {
    std::uint32_t ku = X509_get_key_usage(const_cast<X509*>(&c));
    return ku;  // UINT32_MAX when absent
}
bool has_key_usage(const X509& c) { return key_usage(c) != UINT32_MAX; }
bool self_issued(const X509& c) {
    return X509_NAME_cmp(X509_get_subject_name(&c), X509_get_issuer_name(&c)) == 0;
}
std::string ku_text(const X509& c) {
    if (!has_key_usage(c)) return "no key usage";
    std::uint32_t ku = key_usage(c);
    std::string out;
    if (ku & KU_DIGITAL_SIGNATURE) out += "digitalSignature";
    if (ku & KU_KEY_ENCIPHERMENT) out += std::string(out.empty() ? "" : "+") + "keyEncipherment";
    if (ku & KU_KEY_CERT_SIGN) out += std::string(out.empty() ? "" : "+") + "keyCertSign";
    return out.empty() ? "other key usage" : out;
}
std::string short_name(const X509& c) { return name_to_string(*X509_get_subject_name(&c)); }

std::string thumbprint(const X509& c) { return to_hex(digest(EVP_sha1(), x509_to_der(c)), false); }

}  // namespace

std::string describe(const X509& cert) {
    const EVP_PKEY* key = X509_get0_pubkey(&cert);
    std::string kind = key ? (key_is_rsa(*key) ? "RSA " : key_is_ec(*key) ? "EC " : "key ") + std::to_string(key_bits(*key))
                           : "no key";
    return short_name(cert) + " (serial " + serial_hex(cert) + ", " + kind + ", " +
           ku_text(cert) + ")";
}

bool advertises(const std::vector<std::string>& words, std::string_view keyword) {
    return std::any_of(words.begin(), words.end(), [&](const std::string& w) { return ascii_iequals(w, keyword); });
}

caps_choice choose(const persona& p, int http_status, std::string_view body) {
    caps_choice c;
    std::string why;
    if (http_status == 200) {
        // Each keyword ends at a line end; a device that splits only on CRLF
        // keeps bare LFs inside one "keyword" (RFC 8894 §3.5.2 uses <LF>).
        std::size_t start = 0;
        while (start <= body.size()) {
            std::size_t end = p.caps_crlf_only ? body.find("\r\n", start) : body.find_first_of("\r\n", start);
            std::string_view word = body.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start);
            while (!word.empty() && (word.back() == ' ' || word.back() == '\t')) word.remove_suffix(1);
            while (!word.empty() && (word.front() == ' ' || word.front() == '\t')) word.remove_prefix(1);
            if (!word.empty()) c.words.emplace_back(word);
            if (end == std::string_view::npos) break;
            start = end + (p.caps_crlf_only ? 2 : 1);
        }
    } else {
        why = "GetCACaps answered HTTP " + std::to_string(http_status) + ": read as an empty list; ";
    }
    auto advertised = [&](const std::string& cap) { return cap == "*" || advertises(c.words, cap); };
    static const char* digest_words[] = {"SHA-1", "SHA-224", "SHA-256", "SHA-384", "SHA-512", "SCEPStandard"};
    bool any_digest = std::any_of(std::begin(digest_words), std::end(digest_words),
                                  [&](const char* w) { return advertised(w); });
    if (p.caps_need_digest && !c.words.empty() && !any_digest) {
        c.stop = "caps-insufficient";
        c.why = why + "GetCACaps lists " + std::to_string(c.words.size()) + " keyword(s) and no SHA-1, SHA-256 or "
                "SHA-512: " + p.name + " gives up";
        return c;
    }
    for (const auto& d : p.digests)
        if (advertised(d.capability)) {
            c.digest = digest_named(d.name);
            why += "digest " + d.name + (d.capability == "*" ? " (its fallback)" : " (" + d.capability + " advertised)");
            break;
        }
    for (const auto& e : p.ciphers)
        if (advertised(e.capability)) {
            c.cipher = content_cipher_from_name(e.name);
            why += ", cipher " + e.name + (e.capability == "*" ? " (its fallback)" : " (" + e.capability + " advertised)");
            break;
        }
    switch (p.method) {
        case method_rule::always_get: c.post = false; break;
        case method_rule::always_post: c.post = true; break;
        case method_rule::post_if_advertised: c.post = advertised("POSTPKIOperation"); break;
    }
    why += c.post ? ", POST" : ", GET";
    c.why = why;
    return c;
}

ca_view read_ca_certs(const persona& p, int http_status, std::string_view content_type, std::string_view body,
                      const std::string& pin, const std::vector<const X509*>& trusted) {
    ca_view v;
    if (http_status != 200) {
        v.stop = refuse(p, "http-error", "GetCACert answered HTTP " + std::to_string(http_status), http_status);
        return v;
    }
    const std::string type = ascii_lower(media_type(content_type));
    if (!accepted(p.cacert_content_types, content_type)) {
        v.stop = refuse(p, "cacert-content-type",
                        "GetCACert came as \"" + printable_text(content_type, 80, '?') + "\"; " + p.name + " reads " +
                            [&] {
                                std::string all;
                                for (const auto& t : p.cacert_content_types) all += (all.empty() ? "" : " or ") + t;
                                return all;
                            }());
        return v;
    }
    bytes der(body.begin(), body.end());
    if (type == "application/x-x509-ca-cert") {
        auto c = x509_from_der(der);
        if (!c) {
            v.stop = refuse(p, "cacert-unreadable", "GetCACert: not a DER certificate (" + c.message() + ")");
            return v;
        }
        v.certs.push_back(std::move(*c));
    } else {
        auto certs = parse_degenerate(der);
        if (!certs) {
            v.stop = refuse(p, "cacert-unreadable", "GetCACert: not a degenerate PKCS#7 (" + certs.message() + ")");
            return v;
        }
        v.certs = std::move(*certs);
    }
    if (v.certs.empty()) {
        v.stop = refuse(p, "cacert-no-ca", "GetCACert carries no certificate");
        return v;
    }
    std::vector<const X509*> all;
    for (const auto& c : v.certs) all.push_back(c.get());

    // The CA (RFC 8894 §4.2.1.2: the RA certificates and the CA's).
    auto issuer_in_set = [&](const X509& c) -> const X509* {
        for (const X509* o : all)
            if (o != &c && X509_NAME_cmp(X509_get_subject_name(o), X509_get_issuer_name(&c)) == 0) return o;
        return nullptr;
    };
    if (all.size() == 1) {
        v.ca = all.front();
        v.encrypt_to = v.verify_with = all.front();
        v.layout = "one certificate (the CA does both RA roles)";
    } else {
        std::vector<const X509*> ras;
        for (const X509* c : all)
            if (!is_ca(*c)) ras.push_back(c);
        if (p.ca == ca_rule::top_of_chain) {
            // The top: a certificate whose issuer is not in the set, or self-issued.
            for (const X509* c : all)
                if (is_ca(*c) && (self_issued(*c) || !issuer_in_set(*c))) {
                    v.ca = c;
                    break;
                }
        } else {
            for (const X509* ra : ras)
                if (const X509* i = issuer_in_set(*ra); i && is_ca(*i)) {
                    v.ca = i;
                    break;
                }
            if (!v.ca)
                for (const X509* c : all)
                    if (is_ca(*c)) {
                        v.ca = c;
                        break;
                    }
        }
        if (!v.ca) {
            v.stop = refuse(p, "cacert-no-ca",
                            std::to_string(all.size()) + " certificates and none is a CA (basicConstraints cA)");
            return v;
        }
        const X509 *combined = nullptr, *enc = nullptr, *sign = nullptr;
        std::string seen;
        for (const X509* c : ras) {
            seen += (seen.empty() ? "" : "; ") + short_name(*c) + ": " + ku_text(*c);
            if (!has_key_usage(*c)) {
                v.notes.push_back(short_name(*c) + " has no key usage: " + p.name + " cannot tell its role");
                continue;
            }
            std::uint32_t ku = key_usage(*c);
            bool ds = ku & KU_DIGITAL_SIGNATURE, ke = ku & KU_KEY_ENCIPHERMENT;
            if (ds && ke && !combined) combined = c;
            else if (ke && !ds && !enc) enc = c;
            else if (ds && !ke && !sign) sign = c;
        }
        if (combined) {
            v.encrypt_to = enc ? enc : combined;
            v.verify_with = sign ? sign : combined;
        } else {
            v.encrypt_to = enc;
            v.verify_with = sign;
        }
        if (p.ra == ra_rule::key_usage) {
            if (!v.encrypt_to || !v.verify_with) {
                v.stop = refuse(p, "cacert-no-ra",
                                "GetCACert has " + std::to_string(all.size()) + " certificates but no " +
                                    (!v.encrypt_to && !v.verify_with ? std::string("RA")
                                     : !v.encrypt_to                  ? std::string("certificate with keyEncipherment")
                                                                      : std::string("certificate with digitalSignature")) +
                                    " besides the CA (" + (seen.empty() ? "no RA certificate" : seen) + "): " + p.name +
                                    " needs a combined RA or a signing and an encryption RA");
                return v;
            }
        } else {
            if (!v.encrypt_to) v.encrypt_to = v.ca;
            if (!v.verify_with) v.verify_with = v.encrypt_to;
        }
        if (v.encrypt_to == v.ca && v.verify_with == v.ca)
            v.layout = "CA and " + std::to_string(all.size() - 1) + " other certificate(s); the CA does both RA roles";
        else if (v.encrypt_to == v.verify_with)
            v.layout = "CA + combined RA";
        else
            v.layout = "CA + signing RA + encryption RA";
    }
    // RSA key transport only: an EC recipient needs key agreement.
    const EVP_PKEY* rk = X509_get0_pubkey(v.encrypt_to);
    if (!rk || !key_is_rsa(*rk)) {
        v.stop = refuse(p, "cacert-no-ra",
                        "the certificate to encrypt to (" + short_name(*v.encrypt_to) + ") has no RSA key: " + p.name +
                            " encrypts with RSA key transport only");
        return v;
    }
    if (p.ca_pin) {
        if (pin.empty()) {
            v.notes.push_back(p.name + " checks the CA thumbprint its profile names; none given (--ca-thumbprint), not checked");
        } else {
            std::string want = ascii_lower(pin);
            want.erase(std::remove(want.begin(), want.end(), ':'), want.end());
            bool found = false;
            for (const X509* c : all) found = found || thumbprint(*c) == want;
            for (const X509* c : trusted) found = found || thumbprint(*c) == want;
            if (!found)
                v.stop = refuse(p, "cacert-pin",
                                "no certificate in GetCACert or the trusted roots has SHA-1 thumbprint " + want);
        }
    }
    return v;
}

namespace {
// PrintableString (X.680 §41.4): A-Z a-z 0-9 space ' ( ) + , - . / : = ?
bool printable_char(char ch) {
    return (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
           std::string_view(" '()+,-./:=?").find(ch) != std::string_view::npos;
}
}  // namespace

std::optional<refusal> check_challenge(const persona& p, std::string_view challenge) {
    if (!p.challenge_printable_only) return std::nullopt;
    for (char ch : challenge) {
        if (!printable_char(ch))
            return refuse(p, "challenge-charset",
                          "the challenge has a character outside PrintableString ('" + printable_text(std::string(1, ch), 4, '?') +
                              "'): " + p.name + " fails before sending anything");
    }
    return std::nullopt;
}

namespace {

std::string uuid_text() {
    bytes b = random_bytes(16);
    b[6] = static_cast<std::uint8_t>((b[6] & 0x0f) | 0x40);
    b[8] = static_cast<std::uint8_t>((b[8] & 0x3f) | 0x80);
    std::string h = to_hex(b, true);
    return h.substr(0, 8) + "-" + h.substr(8, 4) + "-" + h.substr(12, 4) + "-" + h.substr(16, 4) + "-" + h.substr(20);
}

std::string fill(std::string t, const std::string& device, const std::string& uuid) {
    for (auto [key, value] : {std::pair<std::string, std::string>{"{device}", device}, {"{uuid}", uuid}}) {
        for (auto at = t.find(key); at != std::string::npos; at = t.find(key, at + value.size())) t.replace(at, key.size(), value);
    }
    return t;
}

std::string transaction_id_for(const persona& p, const EVP_PKEY& key) {
    unsigned char* der = nullptr;
    int len = i2d_PUBKEY(const_cast<EVP_PKEY*>(&key), &der);
    ossl_buffer_ptr owned(der);
    bytes spki(der, der + (len > 0 ? len : 0));
    switch (p.transaction_id) {
        case id_rule::sha1_key_hex_upper: return to_hex(digest(EVP_sha1(), spki), true);
        case id_rule::sha1_key_hex: return to_hex(digest(EVP_sha1(), spki), false);
        case id_rule::sha256_key_hex: return to_hex(sha256(spki), false);
        case id_rule::random_hex: break;
    }
    return to_hex(random_bytes(16), false);
}

}  // namespace

result<device_identity> make_identity(const persona& p, const identity_options& o) {
    device_identity id;
    if (o.reuse_key) {
        EVP_PKEY_up_ref(const_cast<EVP_PKEY*>(o.reuse_key));
        id.key.reset(const_cast<EVP_PKEY*>(o.reuse_key));
    } else {
        auto k = generate_key(p.key);
        if (!k) return k.err();
        id.key = std::move(*k);
    }
    const std::string device = o.device_name.empty() ? p.device_name : o.device_name;
    const std::string uuid = uuid_text();
    id.subject = o.subject.empty() ? fill(p.subject, device, uuid) : o.subject;
    auto subject = parse_subject(id.subject);
    if (!subject) return make_error("subject " + id.subject + ": " + subject.message());

    x509_req_ptr csr(X509_REQ_new());
    X509_REQ_set_version(csr.get(), 0);
    X509_REQ_set_subject_name(csr.get(), subject->get());
    X509_REQ_set_pubkey(csr.get(), id.key.get());
    if (!p.sans.empty()) {
        std::string list;
        for (const auto& s : p.sans) list += (list.empty() ? "" : ",") + fill(s, device, uuid);
        x509_ext_ptr ext(X509V3_EXT_conf_nid(nullptr, nullptr, NID_subject_alt_name, list.c_str()));
        if (!ext) return make_error(ossl_error("subjectAltName " + list));
        x509_ext_stack_ptr exts(sk_X509_EXTENSION_new_null());
        sk_X509_EXTENSION_push(exts.get(), ext.release());
        if (X509_REQ_add_extensions(csr.get(), exts.get()) != 1) return make_error(ossl_error("CSR extensions"));
    }
    if (o.include_challenge && !o.challenge.empty()) {
        bool printable = std::all_of(o.challenge.begin(), o.challenge.end(), printable_char);
        int type = (p.challenge_type == "UTF8String" || !printable) ? V_ASN1_UTF8STRING : V_ASN1_PRINTABLESTRING;
        X509_REQ_add1_attr_by_NID(csr.get(), NID_pkcs9_challengePassword, type,
                                  reinterpret_cast<const unsigned char*>(o.challenge.data()),
                                  static_cast<int>(o.challenge.size()));
    }
    if (X509_REQ_sign(csr.get(), id.key.get(), EVP_sha256()) <= 0) return make_error(ossl_error("CSR signing failed"));
    id.csr = std::move(csr);

    if (o.old_cert && o.old_key) {
        id.signer = dup(*o.old_cert);
        id.signer_key = o.old_key;
    } else {
        // The temporary self-signed signer (RFC 8894 §2.3).
        auto signer_subject = p.signer_subject == "uuid" ? parse_subject("CN=" + uuid) : parse_subject(id.subject);
        if (!signer_subject) return signer_subject.err();
        cert_request req;
        req.subject = signer_subject->get();
        req.public_key = id.key.get();
        auto now = std::chrono::system_clock::now();
        req.not_before = now - std::chrono::minutes(5);
        req.not_after = now + std::chrono::hours(24);
        if (!p.signer_key_usage.empty()) {
            std::string ku = "critical";
            for (const auto& k : p.signer_key_usage) ku += "," + k;
            req.extensions.emplace_back(NID_key_usage, ku);
        }
        auto signer = sign_certificate(req, nullptr, *id.key);
        if (!signer) return signer.err();
        id.signer = std::move(*signer);
        id.signer_key = id.key.get();
    }
    id.transaction_id = transaction_id_for(p, *id.key);
    id.nonce = random_bytes(static_cast<std::size_t>(p.nonce_bytes));
    return id;
}

device_identity signing_with(const device_identity& id, const X509& cert, std::size_t nonce_bytes) {
    device_identity q;
    EVP_PKEY_up_ref(id.key.get());
    q.key.reset(id.key.get());
    q.signer = dup(cert);
    q.signer_key = q.key.get();
    q.transaction_id = id.transaction_id;
    q.subject = id.subject;
    q.nonce = random_bytes(nonce_bytes);
    return q;
}

bytes to_indefinite_ber(byte_view der) {
    bytes same(der.begin(), der.end());
    // ContentInfo ::= SEQUENCE { contentType OID, [0] EXPLICIT SignedData }
    auto ci = read_der_tlv(der, 0);
    if (!ci || ci->tag != 0x30 || ci->end() != der.size()) return same;
    auto oid = read_der_tlv(der, ci->content());
    if (!oid || oid->tag != 0x06) return same;
    auto wrap = read_der_tlv(der, oid->end());
    if (!wrap || wrap->tag != 0xA0) return same;
    auto sd = read_der_tlv(der, wrap->content());
    if (!sd || sd->tag != 0x30) return same;
    auto piece = [&](std::size_t from, std::size_t to) {
        return bytes(der.begin() + static_cast<std::ptrdiff_t>(from), der.begin() + static_cast<std::ptrdiff_t>(to));
    };
    auto append = [](bytes& out, const bytes& more) { out.insert(out.end(), more.begin(), more.end()); };
    const bytes eoc{0x00, 0x00};

    bytes sd_body;
    for (std::size_t at = sd->content(); at < sd->end();) {
        auto child = read_der_tlv(der, at);
        if (!child) return same;
        bool encap = child->tag == 0x30 && [&] {
            auto first = read_der_tlv(der, child->content());
            return first && first->tag == 0x06 && first->end() < child->end();
        }();
        if (!encap) {
            append(sd_body, piece(child->start, child->end()));
        } else {
            // encapContentInfo ::= SEQUENCE { eContentType, [0] EXPLICIT OCTET STRING }
            auto type = read_der_tlv(der, child->content());
            auto econtent = read_der_tlv(der, type->end());
            if (!econtent || econtent->tag != 0xA0) return same;
            auto octets = read_der_tlv(der, econtent->content());
            if (!octets || octets->tag != 0x04) return same;
            bytes e{0x30, 0x80};
            append(e, piece(type->start, type->end()));
            append(e, bytes{0xA0, 0x80, 0x24, 0x80});
            // The octets as one definite primitive OCTET STRING inside the
            // constructed one: "24 80 04 82 ..." as the device sends it.
            append(e, piece(octets->start, octets->end()));
            append(e, eoc);  // constructed OCTET STRING
            append(e, eoc);  // [0]
            append(e, eoc);  // SEQUENCE
            append(sd_body, e);
        }
        at = child->end();
    }
    bytes out{0x30, 0x80};
    append(out, piece(oid->start, oid->end()));
    append(out, bytes{0xA0, 0x80, 0x30, 0x80});
    append(out, sd_body);
    append(out, eoc);  // SignedData
    append(out, eoc);  // [0]
    append(out, eoc);  // ContentInfo
    return out;
}

std::string get_message_value(const persona& p, byte_view der) {
    if (!p.get_line_breaks) return base64_query_value(der);
    std::string b64 = base64_encode(der);
    std::string out;
    for (std::size_t i = 0; i < b64.size(); i += 64) {
        if (i) out += "%0A";
        out += percent_encode(b64.substr(i, 64));
    }
    return out + "%0A";
}

result<bytes> build_request(const persona& p, const device_identity& id, message_type type, byte_view message_data,
                            const caps_choice& caps, const X509& recipient) {
    pki_request_params params;
    params.type = type;
    params.transaction_id = id.transaction_id;
    params.sender_nonce = id.nonce;
    params.message_data.assign(message_data.begin(), message_data.end());
    params.digest = caps.digest.value_or(digest_alg::sha1);
    params.cipher = caps.cipher.value_or(content_cipher::des_ede3_cbc);
    params.transport = p.transport;
    // KTRI v2 needs a subjectKeyIdentifier; without one the device would have
    // nothing to name, so issuer and serial are used.
    params.recipient_by_key_id = p.recipient_by_key_id && X509_get0_subject_key_id(const_cast<X509*>(&recipient)) != nullptr;
    auto der = build_pki_request(params, *id.signer, *id.signer_key, {&recipient});
    if (!der) return der.err();
    if (p.ber_indefinite) return to_indefinite_ber(*der);
    return der;
}

namespace {

}  // namespace

reply_view read_reply(const persona& p, int http_status, std::string_view content_type, std::string_view body,
                      const X509& verify_with, const device_identity& id, bool expect_certificate) {
    reply_view v;
    if (http_status != 200) {
        v.stop = refuse(p, "http-error", "PKIOperation answered HTTP " + std::to_string(http_status), http_status);
        return v;
    }
    if (!accepted(p.reply_content_types, content_type)) {
        v.stop = refuse(p, "reply-content-type", "the CertRep came as \"" + printable_text(content_type, 80, '?') + "\"");
        return v;
    }
    bytes der(body.begin(), body.end());
    auto p7 = pkcs7_from_der(der);
    if (!p7 || !PKCS7_type_is_signed(p7->get()) || !PKCS7_get_signer_info(p7->get()) ||
        sk_PKCS7_SIGNER_INFO_num(PKCS7_get_signer_info(p7->get())) == 0) {
        ERR_clear_error();
        v.stop = refuse(p, "reply-unreadable", "the reply is not a signed pkiMessage (" + std::to_string(body.size()) + " bytes)");
        return v;
    }
    PKCS7_SIGNER_INFO* si = sk_PKCS7_SIGNER_INFO_value(PKCS7_get_signer_info(p7->get()), 0);
    bytes previous;
    for (int i = 0; i < sk_X509_ATTRIBUTE_num(si->auth_attr); ++i) {
        X509_ATTRIBUTE* a = sk_X509_ATTRIBUTE_value(si->auth_attr, i);
        v.attributes.push_back(attributes::attribute_name(attributes::oid_text(X509_ATTRIBUTE_get0_object(a))));
        if (auto cur = der_encode(*a, i2d_X509_ATTRIBUTE, "signed attribute")) {
            if (i > 0 && !der_set_less_or_equal(previous, *cur)) v.attributes_der_sorted = false;
            previous = std::move(*cur);
        }
    }
    for (const auto& need : p.reply_required_attributes)
        if (std::find(v.attributes.begin(), v.attributes.end(), need) == v.attributes.end()) {
            v.stop = refuse(p, "reply-attribute", "the CertRep has no " + need + " signed attribute (RFC 8894 §3.2.1)");
            return v;
        }
    auto rep = parse_cert_rep(der, verify_with);
    if (!rep) {
        ERR_clear_error();
        v.stop = refuse(p, "reply-signature",
                        "the CertRep does not verify against " + short_name(verify_with) + ": " + rep.message());
        return v;
    }
    v.hresult = attributes::string_value(attributes::attr_value(si->auth_attr, attributes::oid_ms_hresult)).value_or("");
    if (const ASN1_TYPE* st = attributes::attr_value(si->auth_attr, attributes::oid_pki_status); st && p.status_printable_short &&
                                                                 st->type != V_ASN1_PRINTABLESTRING) {
        v.stop = refuse(p, "reply-status", "pkiStatus is not a PrintableString (ASN.1 type " + std::to_string(st->type) + ")");
        return v;
    }
    if (p.check_transaction_id && rep->transaction_id != id.transaction_id) {
        v.stop = refuse(p, "reply-transaction-id",
                        "transactionID " + printable_text(rep->transaction_id, 80, '?') + " is not the one sent");
        return v;
    }
    if (p.check_nonce && rep->recipient_nonce != id.nonce) {
        v.stop = refuse(p, "reply-nonce",
                        rep->recipient_nonce.empty() ? "no recipientNonce" : "recipientNonce is not the senderNonce sent");
        return v;
    }
    v.status = rep->status;
    v.failure = rep->failure;
    v.fail_info_text = rep->fail_info_text;
    if (rep->status != pki_status::success) return v;
    // The reply is encrypted to the certificate that signed the request (RFC 8894 §3.3.2):
    // renewing, the old one.
    auto contents = decrypt_cert_rep_contents(*rep, *id.signer, *id.signer_key);
    if (!contents) {
        ERR_clear_error();
        v.stop = refuse(p, "reply-decrypt", contents.message());
        return v;
    }
    v.certs = std::move(contents->certs);
    v.crls = std::move(contents->crls);
    if (!expect_certificate) return v;
    for (std::size_t i = 0; i < v.certs.size(); ++i) {
        if (EVP_PKEY_eq(X509_get0_pubkey(v.certs[i].get()), id.key.get()) == 1) {
            if (i != 0 && p.first_cert_is_issued) {
                v.stop = refuse(p, "reply-certificate",
                                "the certificate for the device's key is number " + std::to_string(i + 1) +
                                    " of the reply; " + p.name + " pairs the first one with its key");
                return v;
            }
            v.issued = dup(*v.certs[i]);
            return v;
        }
    }
    v.stop = refuse(p, "reply-certificate",
                    "SUCCESS with " + std::to_string(v.certs.size()) + " certificate(s), none for the device's key");
    return v;
}

}  // namespace scep::persona
