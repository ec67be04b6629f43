// Trust material for devices and relying parties, as files: each CA of the
// lab hierarchy, the RA, the whole chain (PEM bundle or PKCS#7 .p7b), and any
// issued certificate by serial. Served at stable URLs by the router and
// written by `scep-lab export`. No I/O here.
#pragma once

#include <string>

#include "pki/ca/hierarchy.hpp"
#include "pki/store/store.hpp"

namespace scep {

struct exported {
    std::string content_type;
    std::string body;
    std::string filename;  // suggested, e.g. "root.crt"
};

// `name`: a tier name ("root", "issuing", ...), "ra", or "chain".
// `format`: "der" (also "crt", "cer"), "pem", or "p7b" (certs-only PKCS#7).
// "chain" is issuing CA first up to the root (pem or p7b).
result<exported> export_ca(const hierarchy& pki, const std::string& name, const std::string& format);

// An issued certificate by serial (any spelling, see normalize_serial).
// A list of certificates as one PEM bundle or one certs-only PKCS#7 (the
// TLS server chain); one certificate also as DER.
result<exported> export_certs(const std::vector<const X509*>& certs, const std::string& stem, const std::string& format);

result<exported> export_certificate(cert_store& store, const std::string& serial, const std::string& format);

// Upper-case hex as the store keeps it (BN_bn2hex: no colons, even length,
// no leading zero byte): "07:04:b5", "704B5" and "0704B5" are the same serial.
std::string normalize_serial(const std::string& text);

}  // namespace scep
