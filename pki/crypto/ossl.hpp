// RAII ownership for OpenSSL objects and small helpers that turn the OpenSSL
// error queue into readable error values. Logic code never calls *_free.
#pragma once

#include <openssl/bio.h>
#include <openssl/cms.h>
#include <openssl/evp.h>
#include <openssl/pkcs7.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <openssl/conf.h>
#include <openssl/x509v3.h>

#include <cstdint>
#include <filesystem>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <openssl/crypto.h>
#include <openssl/kdf.h>
#include <openssl/param_build.h>

#include "pki/crypto/result.hpp"

namespace scep {

template <auto Fn>
struct ossl_free {
    void operator()(auto* p) const noexcept { Fn(p); }
};

using x509_ptr = std::unique_ptr<X509, ossl_free<X509_free>>;
using x509_req_ptr = std::unique_ptr<X509_REQ, ossl_free<X509_REQ_free>>;
using x509_crl_ptr = std::unique_ptr<X509_CRL, ossl_free<X509_CRL_free>>;
using x509_name_ptr = std::unique_ptr<X509_NAME, ossl_free<X509_NAME_free>>;
using x509_ext_ptr = std::unique_ptr<X509_EXTENSION, ossl_free<X509_EXTENSION_free>>;
using x509_attribute_ptr = std::unique_ptr<X509_ATTRIBUTE, ossl_free<X509_ATTRIBUTE_free>>;
using x509_store_ptr = std::unique_ptr<X509_STORE, ossl_free<X509_STORE_free>>;
using x509_store_ctx_ptr = std::unique_ptr<X509_STORE_CTX, ossl_free<X509_STORE_CTX_free>>;
using evp_pkey_ptr = std::unique_ptr<EVP_PKEY, ossl_free<EVP_PKEY_free>>;
using evp_pkey_ctx_ptr = std::unique_ptr<EVP_PKEY_CTX, ossl_free<EVP_PKEY_CTX_free>>;
using evp_md_ctx_ptr = std::unique_ptr<EVP_MD_CTX, ossl_free<EVP_MD_CTX_free>>;
using evp_cipher_ctx_ptr = std::unique_ptr<EVP_CIPHER_CTX, ossl_free<EVP_CIPHER_CTX_free>>;
using evp_kdf_ptr = std::unique_ptr<EVP_KDF, ossl_free<EVP_KDF_free>>;
using evp_kdf_ctx_ptr = std::unique_ptr<EVP_KDF_CTX, ossl_free<EVP_KDF_CTX_free>>;
using bio_ptr = std::unique_ptr<BIO, ossl_free<BIO_free_all>>;
using pkcs7_ptr = std::unique_ptr<PKCS7, ossl_free<PKCS7_free>>;
using cms_ptr = std::unique_ptr<CMS_ContentInfo, ossl_free<CMS_ContentInfo_free>>;
using asn1_integer_ptr = std::unique_ptr<ASN1_INTEGER, ossl_free<ASN1_INTEGER_free>>;
using asn1_octet_string_ptr = std::unique_ptr<ASN1_OCTET_STRING, ossl_free<ASN1_OCTET_STRING_free>>;
using asn1_string_ptr = std::unique_ptr<ASN1_STRING, ossl_free<ASN1_STRING_free>>;
using asn1_object_ptr = std::unique_ptr<ASN1_OBJECT, ossl_free<ASN1_OBJECT_free>>;
using bignum_ptr = std::unique_ptr<BIGNUM, ossl_free<BN_free>>;
using general_names_ptr = std::unique_ptr<GENERAL_NAMES, ossl_free<GENERAL_NAMES_free>>;
using general_name_ptr = std::unique_ptr<GENERAL_NAME, ossl_free<GENERAL_NAME_free>>;
using asn1_type_ptr = std::unique_ptr<ASN1_TYPE, ossl_free<ASN1_TYPE_free>>;
using asn1_time_ptr = std::unique_ptr<ASN1_TIME, ossl_free<ASN1_TIME_free>>;
using asn1_enumerated_ptr = std::unique_ptr<ASN1_ENUMERATED, ossl_free<ASN1_ENUMERATED_free>>;
using asn1_bit_string_ptr = std::unique_ptr<ASN1_BIT_STRING, ossl_free<ASN1_BIT_STRING_free>>;
using x509_revoked_ptr = std::unique_ptr<X509_REVOKED, ossl_free<X509_REVOKED_free>>;
using basic_constraints_ptr = std::unique_ptr<BASIC_CONSTRAINTS, ossl_free<BASIC_CONSTRAINTS_free>>;
using extended_key_usage_ptr = std::unique_ptr<EXTENDED_KEY_USAGE, ossl_free<EXTENDED_KEY_USAGE_free>>;
using pkcs7_issuer_and_serial_ptr = std::unique_ptr<PKCS7_ISSUER_AND_SERIAL, ossl_free<PKCS7_ISSUER_AND_SERIAL_free>>;
using ossl_param_bld_ptr = std::unique_ptr<OSSL_PARAM_BLD, ossl_free<OSSL_PARAM_BLD_free>>;
using ossl_param_ptr = std::unique_ptr<OSSL_PARAM, ossl_free<OSSL_PARAM_free>>;
using rsa_pss_params_ptr = std::unique_ptr<RSA_PSS_PARAMS, ossl_free<RSA_PSS_PARAMS_free>>;
using x509_algor_ptr = std::unique_ptr<X509_ALGOR, ossl_free<X509_ALGOR_free>>;
using authority_keyid_ptr = std::unique_ptr<AUTHORITY_KEYID, ossl_free<AUTHORITY_KEYID_free>>;
using bn_ctx_ptr = std::unique_ptr<BN_CTX, ossl_free<BN_CTX_free>>;
using authority_info_access_ptr = std::unique_ptr<AUTHORITY_INFO_ACCESS, ossl_free<AUTHORITY_INFO_ACCESS_free>>;
using conf_ptr = std::unique_ptr<CONF, ossl_free<NCONF_free>>;
struct dist_point_stack_free {
    void operator()(STACK_OF(DIST_POINT) * s) const noexcept { sk_DIST_POINT_pop_free(s, DIST_POINT_free); }
};
// A decoded crlDistributionPoints extension.
using dist_point_stack_ptr = std::unique_ptr<STACK_OF(DIST_POINT), dist_point_stack_free>;

struct x509_stack_free {
    void operator()(STACK_OF(X509) * s) const noexcept { sk_X509_pop_free(s, X509_free); }
};
using x509_stack_ptr = std::unique_ptr<STACK_OF(X509), x509_stack_free>;

// Buffers OpenSSL allocates for the caller (ASN1_STRING_to_UTF8, i2d_*).
inline void openssl_free(void* p) noexcept { OPENSSL_free(p); }
using ossl_buffer_ptr = std::unique_ptr<unsigned char, ossl_free<openssl_free>>;
using ossl_string_ptr = std::unique_ptr<char, ossl_free<openssl_free>>;  // BN_bn2dec, BN_bn2hex

struct x509_ext_stack_free {
    void operator()(STACK_OF(X509_EXTENSION) * s) const noexcept { sk_X509_EXTENSION_pop_free(s, X509_EXTENSION_free); }
};
// What X509_REQ_get_extensions() returns: the CSR's requested extensions.
using x509_ext_stack_ptr = std::unique_ptr<STACK_OF(X509_EXTENSION), x509_ext_stack_free>;

// A stack that only borrows its certificates (sk_X509_push without up-ref):
// freeing it leaves them alone.
struct x509_borrowed_stack_free {
    void operator()(STACK_OF(X509) * s) const noexcept { sk_X509_free(s); }
};
using x509_borrowed_stack_ptr = std::unique_ptr<STACK_OF(X509), x509_borrowed_stack_free>;

using bytes = std::vector<std::uint8_t>;
using byte_view = std::span<const std::uint8_t>;

// Drains the OpenSSL error queue into one line, prefixed with what failed.
std::string ossl_error(std::string_view what);

// Loads the providers the SCEP codec needs once per process: "default", and
// "legacy" for single DES, which old clients still send (micromdm scepclient
// 2.x, Cisco IOS). Whether single DES is *accepted* is a policy decision made
// by the service, not here. Returns false when legacy is unavailable.
bool load_providers();
bool legacy_provider_loaded();

// Random bytes from the OpenSSL DRBG.
bytes random_bytes(std::size_t n);

std::string to_hex(byte_view data, bool upper = false);
bytes sha256(byte_view data);
bytes digest(const EVP_MD* md, byte_view data);

// DER encoding through an OpenSSL i2d function (i2d_X509, i2d_PKCS7, ...).
template <class T>
result<bytes> der_encode(const T& obj, int (*i2d)(const T*, unsigned char**), const char* what) {
    unsigned char* buf = nullptr;
    int len = i2d(&obj, &buf);
    if (len <= 0) return make_error(ossl_error(what));
    bytes out(buf, buf + len);
    OPENSSL_free(buf);
    return out;
}

// DER and PEM conversions. Parsing functions return errors; never throw.
// The DER readers skip OpenSSL 3.0's provider decoders where they can
// (pki/crypto/fast_parse.hpp), with the same results as d2i_*.
result<x509_ptr> x509_from_der(byte_view der);
result<x509_ptr> x509_from_pem(std::string_view pem);
bytes x509_to_der(const X509& cert);
std::string x509_to_pem(const X509& cert);
result<x509_req_ptr> x509_req_from_der(byte_view der);
bytes x509_req_to_der(const X509_REQ& req);
// A PKCS#7 ContentInfo, DER or BER.
result<pkcs7_ptr> pkcs7_from_der(byte_view der);
// PKCS#8 PEM; encrypted with AES-256-CBC when a passphrase is given.
std::string private_key_to_pem(const EVP_PKEY& key, const std::string& passphrase = "");
// Reads plain or encrypted PEM keys; never prompts on a terminal.
result<evp_pkey_ptr> private_key_from_pem(std::string_view pem, const std::string& passphrase = "");
x509_ptr dup(const X509& cert);
bytes bio_contents(BIO& bio);

// All certificates in a PEM bundle, in file order.
result<std::vector<x509_ptr>> x509_list_from_pem(std::string_view pem);

// Self-signed by name and signature. X509_check_issued() is not usable for
// SCEP signers: it also wants keyCertSign, which a device's throw-away signer
// certificate (RFC 8894 §2.3) has no reason to carry.
bool is_self_signed(const X509& cert);

// Subject in RFC 2253 form (CN=...,O=...), which is what logs and the store show.
std::string name_to_string(const X509_NAME& name);
std::string serial_hex(const X509& cert);
// SHA-256 of the DER SubjectPublicKeyInfo: identifies a key independent of certificates.
bytes public_key_sha256(const EVP_PKEY& key);
// The same, from the SubjectPublicKeyInfo already in a certificate or CSR:
// plain ASN.1 encoding, without OpenSSL 3.0's slow key encoder.
bytes public_key_sha256(const X509_PUBKEY& spki);
// Subject alternative names as "DNS:a,IP:1.2.3.4,email:x" (empty when absent).
std::string subject_alt_names(const X509& cert);
std::string time_to_iso8601(const ASN1_TIME& t);

// Reads/writes whole files; write_file_private creates the file with mode 0600.
result<std::string> read_file(const std::filesystem::path& p);
result<void> write_file(const std::filesystem::path& p, std::string_view data, bool private_key);

}  // namespace scep
