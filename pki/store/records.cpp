// Record conversion shared by both stores: times as stored, a certificate
// as a row, the rows of `scep-lab store seed`.
#include "pki/store/store.hpp"

#include <cstdio>
#include <ctime>

#include "pki/crypto/x509_build.hpp"

namespace scep {

std::string unix_time_iso8601(std::int64_t t) {
    const std::time_t tt = static_cast<std::time_t>(t);
    std::tm tm{};
    gmtime_r(&tt, &tm);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return buf;
}

std::string iso8601(std::chrono::system_clock::time_point t) {
    return unix_time_iso8601(std::chrono::system_clock::to_time_t(t));
}

std::string now_iso8601() { return unix_time_iso8601(std::time(nullptr)); }

cert_record make_record(const X509& cert) {
    cert_record r;
    r.serial = serial_hex(cert);
    r.subject = name_to_string(*X509_get_subject_name(&cert));
    r.sans = subject_alt_names(cert);
    r.issuer = name_to_string(*X509_get_issuer_name(&cert));
    r.not_before = time_to_iso8601(*X509_get0_notBefore(&cert));
    r.not_after = time_to_iso8601(*X509_get0_notAfter(&cert));
    r.public_key_sha256 = to_hex(public_key_sha256(*X509_get_X509_PUBKEY(&cert)));
    r.der = x509_to_der(cert);
    if (const ASN1_OCTET_STRING* aki = X509_get0_authority_key_id(const_cast<X509*>(&cert)))
        r.authority_key_id = to_hex(byte_view(ASN1_STRING_get0_data(aki), static_cast<std::size_t>(ASN1_STRING_length(aki))));
    return r;
}

cert_record seed_row(const cert_record& tmpl, const std::string& tag, std::size_t i) {
    cert_record r = tmpl;
    char num[24];
    std::snprintf(num, sizeof num, "%016zX", i);
    r.serial = "5EED" + tag + num;
    r.subject = "CN=seed-" + tag + "-" + std::to_string(i) + ",O=scep-lab seed";
    r.transaction_id = "seed-" + tag + "-" + std::to_string(i);
    r.requester = "seed";
    r.status = "valid";
    return r;
}

}  // namespace scep
