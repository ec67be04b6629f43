#include "pki/trust/exports.hpp"

#include <cctype>

#include "pki/scep/message.hpp"

namespace scep {

namespace {
std::string as_string(const bytes& b) { return std::string(b.begin(), b.end()); }

result<exported> one(const X509& cert, const std::string& stem, const std::string& format) {
    if (format == "der" || format == "crt" || format == "cer")
        return exported{"application/pkix-cert", as_string(x509_to_der(cert)), stem + ".crt"};
    if (format == "pem") return exported{"application/x-pem-file", x509_to_pem(cert), stem + ".pem"};
    if (format == "p7b") return exported{"application/pkcs7-mime", as_string(build_degenerate({&cert})), stem + ".p7b"};
    return make_error("unknown format \"" + format + "\" (der, pem or p7b)");
}
}  // namespace

std::string normalize_serial(const std::string& text) {
    std::string serial;
    for (char c : text)
        if (c != ':' && c != ' ') serial += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    while (serial.size() > 1 && serial.front() == '0') serial.erase(serial.begin());
    if (serial.size() % 2 == 1 && serial != "0") serial.insert(serial.begin(), '0');
    return serial;
}

result<exported> export_certs(const std::vector<const X509*>& certs, const std::string& stem, const std::string& format) {
    if (certs.empty()) return make_error("no certificates to export");
    if (certs.size() == 1) return one(*certs.front(), stem, format);
    if (format == "pem") {
        std::string pem;
        for (const X509* c : certs) pem += x509_to_pem(*c);
        return exported{"application/x-pem-file", pem, stem + ".pem"};
    }
    if (format == "p7b") return exported{"application/pkcs7-mime", as_string(build_degenerate(certs)), stem + ".p7b"};
    return make_error("a chain is exported as pem or p7b, not \"" + format + "\"");
}

result<exported> export_ca(const hierarchy& pki, const std::string& name, const std::string& format) {
    if (name == "chain") return export_certs(pki.chain(true), "ca-chain", format);
    if (name == "ra") {
        if (pki.ca_as_ra()) return make_error("this lab has no separate RA certificate (pki.ca_as_ra = true)");
        return one(pki.ra_cert(), "ra", format);
    }
    if (name == "ra-encryption") {
        if (!pki.ndes_pair()) return make_error("no NDES RA encryption certificate (ndes.ra_pair is off)");
        return one(pki.ra_encryption_cert(), "ra-encryption", format);
    }
    std::string known = "chain, ra";
    for (const auto& tier : pki.tiers()) {
        if (tier.name == name) return one(*tier.cert, name, format);
        known += ", " + tier.name;
    }
    return make_error("no CA named \"" + name + "\" (known: " + known + ")");
}

result<exported> export_certificate(cert_store& store, const std::string& serial_text, const std::string& format) {
    const std::string serial = normalize_serial(serial_text);
    if (serial.empty() || serial.find_first_not_of("0123456789ABCDEF") != std::string::npos)
        return make_error("\"" + serial_text + "\" is not a serial number in hex");
    auto row = store.find_by_serial(serial);
    if (!row) return row.err();
    if (!*row) return make_error("no certificate with serial " + serial);
    auto cert = x509_from_der((*row)->der);
    if (!cert) return make_error("the stored certificate " + serial + " is unreadable");
    return one(**cert, serial, format);
}

}  // namespace scep
