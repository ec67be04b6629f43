#include "pki/ca/crl.hpp"

#include <openssl/err.h>

namespace scep {

namespace {
constexpr int remove_from_crl = 8;
constexpr std::pair<int, std::string_view> reasons[] = {
    {0, "unspecified"},   {1, "keyCompromise"},        {2, "cACompromise"},    {3, "affiliationChanged"},
    {4, "superseded"},    {5, "cessationOfOperation"}, {6, "certificateHold"}, {8, "removeFromCRL"},
    {9, "privilegeWithdrawn"}, {10, "aACompromise"},
};

asn1_integer_ptr serial_from_hex(const std::string& hex) {
    BIGNUM* bn = nullptr;
    if (BN_hex2bn(&bn, hex.c_str()) == 0) return nullptr;
    bignum_ptr owned(bn);
    return asn1_integer_ptr(BN_to_ASN1_INTEGER(bn, nullptr));
}
}  // namespace

result<int> revocation_reason_from_name(std::string_view name) {
    std::string accepted;
    for (const auto& [code, n] : reasons) {
        if (code == remove_from_crl) continue;
        if (n == name) return code;
        accepted += (accepted.empty() ? "" : ", ") + std::string(n);
    }
    if (name == crl_reason_name(remove_from_crl))
        return make_error("removeFromCRL does not revoke: it only takes an entry off a delta CRL (RFC 5280 §5.3.1); "
                          "use one of " + accepted);
    return make_error("unknown reason \"" + std::string(name) + "\" (" + accepted + ")");
}

result<revocation> revoke_certificate(cert_store& store, const std::string& serial, int reason) {
    auto r = store.revoke(serial, reason, std::chrono::system_clock::now());
    if (!r) return r.err();
    revocation out;
    out.reason = reason;
    if (*r == revoke_outcome::not_found) return out;
    auto row = store.find_by_serial(serial);
    if (!row) return row.err();
    if (!*row) return out;
    out.revoked_at = (*row)->revoked_at;
    out.reason = (*row)->revocation_reason;
    out.result = *r == revoke_outcome::revoked ? revocation::outcome::revoked
                 : out.reason == reason        ? revocation::outcome::already_revoked
                                               : revocation::outcome::conflict;
    return out;
}

result<x509_crl_ptr> build_ca_crl(const ca_entry& ca, cert_store& store, time_point now,
                                  std::chrono::seconds validity) {
    if (!ca.key) return make_error("the key of CA \"" + ca.name + "\" is not available to sign its CRL");
    const ASN1_OCTET_STRING* ski = X509_get0_subject_key_id(ca.cert.get());
    const std::string aki =
        ski ? to_hex(byte_view(ASN1_STRING_get0_data(ski), static_cast<std::size_t>(ASN1_STRING_length(ski)))) : "";
    auto revoked = store.revoked_by(aki);
    if (!revoked) return revoked.err();
    const long number = static_cast<long>(std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()).count());
    return build_crl(*ca.cert, *ca.key, *revoked, now, validity, number);
}

std::string crl_reason_name(int reason) {
    for (const auto& [code, n] : reasons)
        if (code == reason) return std::string(n);
    return "unspecified";
}

result<x509_crl_ptr> build_crl(const X509& ca_cert, const EVP_PKEY& ca_key, const std::vector<revoked_entry>& revoked,
                               time_point this_update, std::chrono::seconds next_update_in, long crl_number) {
    x509_crl_ptr crl(X509_CRL_new());
    if (!crl || X509_CRL_set_version(crl.get(), X509_CRL_VERSION_2) != 1 ||
        X509_CRL_set_issuer_name(crl.get(), X509_get_subject_name(&ca_cert)) != 1)
        return make_error(ossl_error("X509_CRL_new"));
    auto set_time = [](auto setter, X509_CRL* c, time_point tp) {
        asn1_time_ptr t(
            ASN1_TIME_set(nullptr, std::chrono::system_clock::to_time_t(tp)));
        return t && setter(c, t.get()) == 1;
    };
    if (!set_time(X509_CRL_set1_lastUpdate, crl.get(), this_update) ||
        !set_time(X509_CRL_set1_nextUpdate, crl.get(), this_update + next_update_in))
        return make_error(ossl_error("CRL times"));

    for (const auto& e : revoked) {
        x509_revoked_ptr rev(X509_REVOKED_new());
        auto serial = serial_from_hex(e.serial);
        asn1_time_ptr when(ASN1_TIME_set(nullptr, std::chrono::system_clock::to_time_t(e.revoked_at)));
        if (!rev || !serial || !when || X509_REVOKED_set_serialNumber(rev.get(), serial.get()) != 1 ||
            X509_REVOKED_set_revocationDate(rev.get(), when.get()) != 1)
            return make_error(ossl_error("revoked entry " + e.serial));
        if (e.reason != 0) {  // RFC 5280 §5.3.1: omit rather than send unspecified
            asn1_enumerated_ptr reason(ASN1_ENUMERATED_new());
            if (!reason || ASN1_ENUMERATED_set(reason.get(), e.reason) != 1 ||
                X509_REVOKED_add1_ext_i2d(rev.get(), NID_crl_reason, reason.get(), 0, 0) != 1)
                return make_error(ossl_error("reason of revoked entry " + e.serial));
        }
        if (X509_CRL_add0_revoked(crl.get(), rev.get()) != 1) return make_error(ossl_error("CRL entry " + e.serial));
        (void)rev.release();  // owned by the CRL now
    }
    X509_CRL_sort(crl.get());

    X509V3_CTX ctx;
    X509V3_set_ctx(&ctx, const_cast<X509*>(&ca_cert), nullptr, nullptr, crl.get(), 0);
    x509_ext_ptr aki(X509V3_EXT_conf_nid(nullptr, &ctx, NID_authority_key_identifier, "keyid:always"));
    if (!aki || X509_CRL_add_ext(crl.get(), aki.get(), -1) != 1) return make_error(ossl_error("CRL AKI"));
    asn1_integer_ptr number(ASN1_INTEGER_new());
    ASN1_INTEGER_set(number.get(), crl_number);
    if (X509_CRL_add1_ext_i2d(crl.get(), NID_crl_number, number.get(), 0, 0) != 1)
        return make_error(ossl_error("CRL number"));
    if (X509_CRL_sign(crl.get(), const_cast<EVP_PKEY*>(&ca_key), signing_md(ca_key)) <= 0)
        return make_error(ossl_error("signing CRL"));
    return crl;
}

bytes crl_to_der(const X509_CRL& crl) {
    auto der = der_encode(crl, i2d_X509_CRL, "i2d_X509_CRL");
    if (!der) throw std::runtime_error(der.message());
    return std::move(*der);
}

}  // namespace scep
