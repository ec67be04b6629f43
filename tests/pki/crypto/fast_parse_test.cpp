#include "pki/crypto/fast_parse.hpp"

#include <gtest/gtest.h>
#include <openssl/err.h>

#include "pki/scep/message.hpp"
#include "tests/support/test_support.hpp"

namespace scep {
namespace {

bytes req_der(const X509_REQ& r) { return x509_req_to_der(r); }

x509_req_ptr standard_request(const bytes& der) {
    const unsigned char* p = der.data();
    return x509_req_ptr(d2i_X509_REQ(nullptr, &p, static_cast<long>(der.size())));
}

TEST(fast_parse, rsa_and_ec_requests_get_the_same_key_and_verify) {
    for (key_type k : {key_type::rsa2048, key_type::ec_p256, key_type::ec_p384}) {
        SCOPED_TRACE(static_cast<int>(k));
        auto dev = test::make_requester({.key = k});
        const bytes der = req_der(*dev.csr);
        x509_req_ptr fast = fast_parse::request(der);
        ASSERT_TRUE(fast);
        EVP_PKEY* key = X509_REQ_get0_pubkey(fast.get());
        ASSERT_TRUE(key);
        EXPECT_EQ(EVP_PKEY_eq(key, dev.key.get()), 1);
        EXPECT_EQ(X509_REQ_verify(fast.get(), key), 1);
        EXPECT_EQ(req_der(*fast), der);
        auto standard = standard_request(der);
        ASSERT_TRUE(standard);
        EXPECT_EQ(X509_NAME_cmp(X509_REQ_get_subject_name(fast.get()), X509_REQ_get_subject_name(standard.get())), 0);
        EXPECT_EQ(public_key_sha256(*X509_REQ_get_X509_PUBKEY(fast.get())),
                  public_key_sha256(*X509_REQ_get_X509_PUBKEY(standard.get())));
    }
}

TEST(fast_parse, a_tampered_request_parses_but_does_not_verify) {
    auto dev = test::make_requester();
    bytes der = req_der(*dev.csr);
    der[der.size() - 1] ^= 0x01;  // last byte of the signature
    x509_req_ptr fast = fast_parse::request(der);
    ASSERT_TRUE(fast);
    EXPECT_NE(X509_REQ_verify(fast.get(), X509_REQ_get0_pubkey(fast.get())), 1);
    ERR_clear_error();
}

TEST(fast_parse, other_keys_and_encodings_are_left_to_the_standard_parser) {
    // Ed25519: not a key type the fast path reads.
    evp_pkey_ptr ed(EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519"));
    ASSERT_TRUE(ed);
    auto ed_csr = test::make_csr(*ed, "CN=ed", {}, "", nullptr);
    ASSERT_TRUE(ed_csr);
    const bytes ed_der = req_der(*ed_csr);
    EXPECT_FALSE(fast_parse::request(ed_der));
    auto ed_parsed = x509_req_from_der(ed_der);
    ASSERT_TRUE(ed_parsed) << ed_parsed.message();
    EXPECT_EQ(X509_REQ_verify(ed_parsed->get(), X509_REQ_get0_pubkey(ed_parsed->get())), 1);

    // Explicit curve parameters: judged by the standard path (and refused by policy).
    auto explicit_key = test::ec_key_with_explicit_curve();
    auto explicit_csr = test::make_csr(*explicit_key, "CN=explicit");
    ASSERT_TRUE(explicit_csr);
    EXPECT_FALSE(fast_parse::request(req_der(*explicit_csr)));

    // A valid BER but non-DER length (long form with a leading zero) on the
    // outer SEQUENCE: OpenSSL accepts it, but the fields no longer encode back
    // to the same bytes, so the request is parsed the standard way and its
    // signature is still checked over the bytes that were signed.
    auto dev = test::make_requester();
    const bytes der = req_der(*dev.csr);
    ASSERT_EQ(der[0], 0x30);
    ASSERT_EQ(der[1], 0x82);
    bytes ber{0x30, 0x83, 0x00, der[2], der[3]};
    ber.insert(ber.end(), der.begin() + 4, der.end());
    EXPECT_FALSE(fast_parse::request(ber));
    auto parsed = x509_req_from_der(ber);
    ASSERT_TRUE(parsed) << parsed.message();
    EXPECT_EQ(X509_REQ_verify(parsed->get(), X509_REQ_get0_pubkey(parsed->get())), 1);
}

TEST(fast_parse, garbage_gives_nothing_and_the_usual_error) {
    for (const bytes& bad : {bytes{}, bytes{0x30}, bytes{0x30, 0x03, 0x02, 0x01, 0x00}, bytes(300, 0xff)}) {
        SCOPED_TRACE(to_hex(bad));
        EXPECT_FALSE(fast_parse::request(bad));
        EXPECT_FALSE(fast_parse::certificate(bad));
        EXPECT_FALSE(fast_parse::pkcs7(bad));
        auto r = x509_req_from_der(bad);
        ASSERT_FALSE(r);
        EXPECT_NE(r.message().find("not a DER PKCS#10 request"), std::string::npos);
        EXPECT_EQ(ERR_peek_error(), 0u);
    }
}

TEST(fast_parse, certificates_keep_their_bytes_and_verify) {
    auto dev = test::make_requester({.key = key_type::ec_p256});
    const bytes der = x509_to_der(*dev.signer);
    x509_ptr fast = fast_parse::certificate(der);
    ASSERT_TRUE(fast);
    EXPECT_EQ(x509_to_der(*fast), der);
    EXPECT_EQ(EVP_PKEY_eq(X509_get0_pubkey(fast.get()), dev.key.get()), 1);
    EXPECT_EQ(X509_verify(fast.get(), X509_get0_pubkey(fast.get())), 1);  // self-signed
}

TEST(fast_parse, a_pki_message_signer_gets_its_key_in_der_and_in_ber) {
    test::lab_fixture lab(2);
    auto dev = test::make_requester();
    const bytes der = test::make_pkcs_req(dev, lab.pki->ra_encryption_cert(), "tx-1", random_bytes(16));
    // i2d_PKCS7_NDEF writes indefinite lengths, as Apple devices send them.
    auto standard = pkcs7_from_der(der);
    ASSERT_TRUE(standard);
    unsigned char* ndef = nullptr;
    const int ndef_len = i2d_PKCS7_NDEF(standard->get(), &ndef);
    ossl_buffer_ptr owned(ndef);
    ASSERT_GT(ndef_len, 0);
    const bytes ber(ndef, ndef + ndef_len);
    ASSERT_NE(ber, der);
    for (const bytes* input : {&der, &ber}) {
        pkcs7_ptr p7 = fast_parse::pkcs7(*input);
        ASSERT_TRUE(p7);
        STACK_OF(X509)* certs = p7->d.sign->cert;
        ASSERT_EQ(sk_X509_num(certs), 1);
        X509* signer = sk_X509_value(certs, 0);
        EXPECT_EQ(EVP_PKEY_eq(X509_get0_pubkey(signer), dev.key.get()), 1);
        EXPECT_EQ(x509_to_der(*signer), x509_to_der(*dev.signer));
        auto decoded = decode_pki_request(*input);
        ASSERT_TRUE(decoded) << decoded.message();
        EXPECT_EQ(decoded->transaction_id, "tx-1");
    }
}

}  // namespace
}  // namespace scep
