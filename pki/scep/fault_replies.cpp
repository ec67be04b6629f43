#include "pki/scep/fault_replies.hpp"

#include "pki/crypto/der.hpp"

#include <algorithm>
#include <ctime>
#include <mutex>
#include <optional>

namespace scep {

namespace {

result<x509_name_ptr> name(const char* text) { return parse_subject(text); }

result<foreign_identity> make_foreign(time_point now) {
    foreign_identity f;
    auto ca_key = generate_key(key_type::rsa2048);
    auto ra_key = generate_key(key_type::rsa2048);
    if (!ca_key || !ra_key) return make_error("cannot generate the foreign keys");
    f.ca_key = std::move(*ca_key);
    f.ra_key = std::move(*ra_key);
    auto ca_name = name("CN=scep-lab foreign CA (fault injection),O=scep-lab");
    auto ra_name = name("CN=scep-lab foreign RA (fault injection),O=scep-lab");
    if (!ca_name || !ra_name) return make_error("cannot build the foreign names");
    cert_request ca;
    ca.subject = ca_name->get();
    ca.public_key = f.ca_key.get();
    ca.not_before = now - std::chrono::hours(24);
    ca.not_after = now + std::chrono::hours(24 * 3650);
    ca.extensions = {{NID_basic_constraints, "critical,CA:TRUE"}, {NID_key_usage, "critical,keyCertSign,cRLSign"}};
    auto ca_cert = sign_certificate(ca, nullptr, *f.ca_key);
    if (!ca_cert) return ca_cert.err();
    f.ca_cert = std::move(*ca_cert);
    cert_request ra = ca;
    ra.subject = ra_name->get();
    ra.public_key = f.ra_key.get();
    ra.extensions = {{NID_basic_constraints, "critical,CA:FALSE"},
                     {NID_key_usage, "critical,digitalSignature,keyEncipherment"}};
    auto ra_cert = sign_certificate(ra, f.ca_cert.get(), *f.ca_key);
    if (!ra_cert) return ra_cert.err();
    f.ra_cert = std::move(*ra_cert);
    return f;
}

// A copy of `issued` with one thing changed, signed again.
result<x509_ptr> rebuilt(fault_kind kind, const X509& issued, const ca_entry& issuing, const foreign_identity& other,
                         time_point now) {
    x509_ptr c(X509_dup(const_cast<X509*>(&issued)));
    if (!c) return make_error(ossl_error("X509_dup"));
    const EVP_PKEY* signer = issuing.key.get();
    using namespace std::chrono;
    auto set_times = [&](time_point from, time_point to) {
        std::time_t a = system_clock::to_time_t(from), b = system_clock::to_time_t(to);
        return X509_time_adj_ex(X509_getm_notBefore(c.get()), 0, 0, &a) &&
               X509_time_adj_ex(X509_getm_notAfter(c.get()), 0, 0, &b);
    };
    switch (kind) {
        case fault_kind::certificate_other_key:
            if (X509_set_pubkey(c.get(), other.ra_key.get()) != 1) return make_error(ossl_error("X509_set_pubkey"));
            break;
        case fault_kind::certificate_other_subject: {
            auto subject = name("CN=scep-lab-other-subject,O=scep-lab fault injection");
            if (!subject || X509_set_subject_name(c.get(), subject->get()) != 1)
                return make_error("cannot set the other subject");
            break;
        }
        case fault_kind::certificate_expired:
            if (!set_times(now - hours(48), now - hours(24))) return make_error(ossl_error("setting the validity"));
            break;
        case fault_kind::certificate_not_yet_valid:
            if (!set_times(now + hours(24), now + hours(24 * 366))) return make_error(ossl_error("setting the validity"));
            break;
        case fault_kind::certificate_foreign_ca: {
            if (X509_set_issuer_name(c.get(), X509_get_subject_name(other.ca_cert.get())) != 1)
                return make_error(ossl_error("X509_set_issuer_name"));
            // The authority key identifier would still name the lab's CA.
            int at = X509_get_ext_by_NID(c.get(), NID_authority_key_identifier, -1);
            if (at >= 0) x509_ext_ptr(X509_delete_ext(c.get(), at));
            signer = other.ca_key.get();
            break;
        }
        default: return make_error("not a certificate fault");
    }
    if (!signer) return make_error("the issuing CA's key is not held here");
    if (X509_sign(c.get(), const_cast<EVP_PKEY*>(signer), signing_md(*signer)) <= 0)
        return make_error(ossl_error("signing the rebuilt certificate"));
    return c;
}

}  // namespace

result<const foreign_identity*> foreign(time_point now) {
    static std::mutex mu;
    static std::optional<foreign_identity> made;
    std::lock_guard lock(mu);
    if (!made) {
        auto f = make_foreign(now);
        if (!f) return f.err();
        made = std::move(*f);
    }
    return &*made;
}

result<void> apply_certrep_fault(const fault_rule& rule, cert_rep_params& p, x509_ptr& holder, const ca_entry& issuing,
                                 const std::vector<const X509*>& chain, time_point now) {
    auto& f = p.fault;
    switch (rule.kind) {
        case fault_kind::wrong_recipient_nonce: f.wrong_recipient_nonce = true; break;
        case fault_kind::missing_recipient_nonce: f.omit_recipient_nonce = true; break;
        case fault_kind::wrong_transaction_id: f.wrong_transaction_id = true; break;
        case fault_kind::missing_transaction_id: f.omit_transaction_id = true; break;
        case fault_kind::missing_sender_nonce: f.omit_sender_nonce = true; break;
        case fault_kind::wrong_message_type: f.message_type = static_cast<int>(message_type::pkcs_req); break;
        case fault_kind::undefined_pki_status: f.pki_status = 9; break;
        case fault_kind::no_signing_time: f.omit_signing_time = true; break;
        case fault_kind::extra_attribute: f.extra_attribute = true; break;
        case fault_kind::bad_signature: f.corrupt_signature = true; break;
        case fault_kind::signature_algorithm_with_digest: f.signature_algorithm_with_digest = true; break;
        case fault_kind::digest_algorithm_mismatch: f.digest_algorithm_mismatch = true; break;
        case fault_kind::attributes_out_of_order: f.attributes_out_of_order = true; break;
        case fault_kind::forced_cipher: f.cipher = content_cipher_from_name(rule.cipher); break;
        case fault_kind::no_envelope: f.no_envelope = true; break;
        case fault_kind::chain_in_degenerate: f.extra_certs = chain; break;
        case fault_kind::empty_degenerate: f.empty_degenerate = true; break;
        case fault_kind::pending:
            // RFC 8894 §3.3.2: a PENDING CertRep carries no content.
            p.status = pki_status::pending;
            p.failure.reset();
            p.fail_info_text.clear();
            p.issued = nullptr;
            p.crl = nullptr;
            break;
        case fault_kind::unknown_signer:
        case fault_kind::envelope_other_key: {
            auto other = foreign(now);
            if (!other) return other.err();
            if (rule.kind == fault_kind::unknown_signer) {
                f.signer_cert = (*other)->ra_cert.get();
                f.signer_key = (*other)->ra_key.get();
            } else {
                p.recipient = (*other)->ra_cert.get();
            }
            break;
        }
        case fault_kind::certificate_other_key:
        case fault_kind::certificate_other_subject:
        case fault_kind::certificate_expired:
        case fault_kind::certificate_not_yet_valid:
        case fault_kind::certificate_foreign_ca: {
            if (!p.issued) return {};  // not a reply with a certificate: nothing to change
            auto other = foreign(now);
            if (!other) return other.err();
            auto c = rebuilt(rule.kind, *p.issued, issuing, **other, now);
            if (!c) return c.err();
            holder = std::move(*c);
            p.issued = holder.get();
            break;
        }
        default: break;
    }
    return {};
}

result<std::vector<const X509*>> faulty_ca_certs(fault_kind kind, const std::vector<const X509*>& ras,
                                                 const std::vector<const X509*>& chain, time_point now) {
    std::vector<const X509*> certs;
    if (kind == fault_kind::getcacert_other_ra) {
        auto other = foreign(now);
        if (!other) return other.err();
        certs.push_back((*other)->ra_cert.get());
        certs.insert(certs.end(), chain.begin(), chain.end());
        return certs;
    }
    // getcacert-issuing-only
    certs = ras;
    if (!chain.empty()) certs.push_back(chain.front());
    return certs;
}

// Fault injection: the SignerInfo's signed attributes in reverse DER order
// (X.690 §11.6 sorts a SET OF), signed again over the bytes as sent, which
// is what RFC 5652 §5.4 says the signature covers.
result<bytes> reorder_signed_attributes(bytes der, const EVP_PKEY& key, digest_alg digest) {
    auto p7 = pkcs7_from_der(der);
    if (!p7) return p7.err();
    auto* infos = PKCS7_get_signer_info(p7->get());
    if (!infos || sk_PKCS7_SIGNER_INFO_num(infos) != 1) return make_error("no single SignerInfo to reorder");
    PKCS7_SIGNER_INFO* si = sk_PKCS7_SIGNER_INFO_value(infos, 0);
    unsigned char* raw = nullptr;
    const int raw_len = ASN1_item_i2d(reinterpret_cast<ASN1_VALUE*>(si->auth_attr), &raw, ASN1_ITEM_rptr(PKCS7_ATTR_SIGN));
    const ossl_buffer_ptr owned(raw);
    if (raw_len <= 0) return make_error(ossl_error("encoding the signed attributes"));
    bytes sorted(raw, raw + raw_len);
    auto set = read_der_tlv(sorted, 0);
    if (!set) return make_error("the signed attributes do not encode");
    std::vector<byte_view> children;
    for (std::size_t at = set->content(); at < set->end();) {
        auto child = read_der_tlv(sorted, at);
        if (!child) return make_error("a signed attribute does not encode");
        children.emplace_back(sorted.data() + at, child->end() - at);
        at = child->end();
    }
    if (children.size() < 2) return make_error("fewer than two signed attributes: no order to break");
    bytes reversed(sorted.begin(), sorted.begin() + static_cast<std::ptrdiff_t>(set->content()));
    for (auto it = children.rbegin(); it != children.rend(); ++it) reversed.insert(reversed.end(), it->begin(), it->end());
    if (reversed == sorted) return make_error("the signed attributes are all equal: no order to break");
    // Where the attributes ([0] IMPLICIT, same content) and the signature sit in `der`.
    const byte_view content(sorted.data() + set->content(), set->length);
    auto at_attrs = std::search(der.begin(), der.end(), content.begin(), content.end());
    const auto* old_sig = ASN1_STRING_get0_data(si->enc_digest);
    const auto old_sig_len = static_cast<std::size_t>(ASN1_STRING_length(si->enc_digest));
    auto at_sig = std::search(der.begin(), der.end(), old_sig, old_sig + old_sig_len);
    if (at_attrs == der.end() || at_sig == der.end()) return make_error("cannot find the signed attributes in the reply");
    const auto attrs_offset = at_attrs - der.begin(), sig_offset = at_sig - der.begin();
    std::copy(reversed.begin() + static_cast<std::ptrdiff_t>(set->content()), reversed.end(), der.begin() + attrs_offset);
    // ECDSA signatures vary in length; the reply's lengths must not change.
    for (int attempt = 0; attempt < 32; ++attempt) {
        evp_md_ctx_ptr ctx(EVP_MD_CTX_new());
        std::size_t len = 0;
        if (!ctx ||
            EVP_DigestSignInit(ctx.get(), nullptr, evp_md(digest), nullptr, const_cast<EVP_PKEY*>(&key)) != 1 ||
            EVP_DigestSign(ctx.get(), nullptr, &len, reversed.data(), reversed.size()) != 1)
            return make_error(ossl_error("signing the reordered attributes"));
        bytes sig(len);
        if (EVP_DigestSign(ctx.get(), sig.data(), &len, reversed.data(), reversed.size()) != 1)
            return make_error(ossl_error("signing the reordered attributes"));
        sig.resize(len);
        if (sig.size() != old_sig_len) continue;
        std::copy(sig.begin(), sig.end(), der.begin() + sig_offset);
        return der;
    }
    return make_error("the new signature never had the old one's length");
}

result<bytes> finish_certrep_fault(bytes der, const cert_rep_params& p, const EVP_PKEY& ra_key) {
    if (!p.fault.attributes_out_of_order) return der;
    return reorder_signed_attributes(std::move(der), p.fault.signer_key ? *p.fault.signer_key : ra_key, p.digest);
}

}  // namespace scep
