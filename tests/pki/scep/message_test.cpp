#include "pki/scep/message.hpp"

#include <gtest/gtest.h>

#include "pki/crypto/der.hpp"

#include "pki/ca/hierarchy.hpp"
#include "pki/ca/issuer.hpp"
#include "support/test_support.hpp"

namespace scep {
namespace {

using test::make_pkcs_req;
using test::make_requester;

// Re-encodes every constructed element with indefinite length, as Apple
// devices and jscep send BER (micromdm/scep#79).
bytes to_indefinite_ber(byte_view der) {
    bytes out;
    std::size_t i = 0;
    while (i < der.size()) {
        std::uint8_t tag = der[i++];
        std::size_t len = der[i++];
        if (len & 0x80) {
            int n = len & 0x7f;
            len = 0;
            while (n--) len = (len << 8) | der[i++];
        }
        out.push_back(tag);
        if (tag & 0x20) {
            out.push_back(0x80);
            bytes inner = to_indefinite_ber(der.subspan(i, len));
            out.insert(out.end(), inner.begin(), inner.end());
            out.push_back(0);
            out.push_back(0);
        } else {
            // Primitive: copy with a definite length as it was.
            append_der_length(out, len);
            out.insert(out.end(), der.begin() + static_cast<long>(i), der.begin() + static_cast<long>(i + len));
        }
        i += len;
    }
    return out;
}

class message_test : public ::testing::Test {
protected:
    static void SetUpTestSuite() {
        load_providers();
        dir_ = new test::temp_dir;
        auto h = hierarchy::open(test::small_spec(2), dir_->path(), std::chrono::system_clock::now(), [](auto&) {});
        ASSERT_TRUE(h) << h.message();
        pki_ = new hierarchy(std::move(*h));
    }
    static void TearDownTestSuite() {
        delete pki_;
        delete dir_;
    }
    static inline test::temp_dir* dir_ = nullptr;
    static inline hierarchy* pki_ = nullptr;
    const bytes nonce_ = bytes(16, 0xAB);
};

TEST_F(message_test, pkcs_req_round_trips_for_every_cipher_and_digest) {
    auto dev = make_requester();
    for (auto cipher : all_content_ciphers) {
        for (auto digest : all_digest_algs) {
            SCOPED_TRACE(std::string(to_string(cipher)) + "/" + std::string(to_string(digest)));
            auto der = make_pkcs_req(dev, pki_->ra_cert(), "TX-1", nonce_, cipher, digest);
            auto req = decode_pki_request(der);
            ASSERT_TRUE(req) << req.message();
            EXPECT_EQ(req->type, 19);
            EXPECT_EQ(req->transaction_id, "TX-1");
            EXPECT_EQ(req->sender_nonce, nonce_);
            EXPECT_EQ(req->digest, digest);
            auto fail = open_pki_request(*req, pki_->ra_cert(), pki_->ra_key(), cipher_policy{true});
            ASSERT_FALSE(fail) << fail->text;
            EXPECT_EQ(req->cipher, cipher);
            EXPECT_EQ(req->message_data, x509_req_to_der(*dev.csr));
        }
    }
}

TEST_F(message_test, accepts_ber_with_indefinite_lengths) {
    auto dev = make_requester();
    auto der = make_pkcs_req(dev, pki_->ra_cert(), "TX-BER", nonce_);
    auto ber = to_indefinite_ber(der);
    ASSERT_NE(ber, der);
    ASSERT_EQ(ber[1], 0x80);
    auto req = decode_pki_request(ber);
    ASSERT_TRUE(req) << req.message();
    EXPECT_EQ(req->transaction_id, "TX-BER");
    auto fail = open_pki_request(*req, pki_->ra_cert(), pki_->ra_key(), {});
    ASSERT_FALSE(fail) << fail->text;
    EXPECT_EQ(req->message_data, x509_req_to_der(*dev.csr));
}

TEST_F(message_test, decode_rejects_input_that_is_not_scep) {
    struct case_t {
        const char* name;
        bytes input;
        const char* expect;
    };
    auto dev = make_requester();
    auto good = make_pkcs_req(dev, pki_->ra_cert(), "TX", nonce_);
    bytes truncated(good.begin(), good.begin() + static_cast<long>(good.size() / 2));
    bytes degenerate = build_degenerate({&pki_->ra_cert()});
    std::vector<case_t> cases{
        {"empty", {}, "empty"},
        {"garbage", bytes{'h', 'e', 'l', 'l', 'o'}, "not a DER/BER PKCS#7"},
        {"truncated", truncated, "not a DER/BER PKCS#7"},
        {"certificate instead of pkiMessage", x509_to_der(pki_->ra_cert()), "not a DER/BER PKCS#7"},
        {"degenerate without signer", degenerate, "no signerInfo"},
    };
    for (const auto& c : cases) {
        SCOPED_TRACE(c.name);
        auto r = decode_pki_request(c.input);
        ASSERT_FALSE(r);
        EXPECT_NE(r.message().find(c.expect), std::string::npos) << r.message();
    }
}

TEST_F(message_test, open_fails_with_bad_message_check_on_a_broken_signature) {
    auto dev = make_requester();
    auto der = make_pkcs_req(dev, pki_->ra_cert(), "TX", nonce_);
    der.back() ^= 0x01;  // the signature value is the last element
    auto req = decode_pki_request(der);
    ASSERT_TRUE(req) << req.message();
    auto fail = open_pki_request(*req, pki_->ra_cert(), pki_->ra_key(), {});
    ASSERT_TRUE(fail);
    EXPECT_EQ(fail->info, fail_info::bad_message_check);
    EXPECT_NE(fail->text.find("signature"), std::string::npos);
}

TEST_F(message_test, open_fails_with_bad_message_check_when_encrypted_to_another_certificate) {
    auto dev = make_requester();
    auto other = make_requester();
    auto der = make_pkcs_req(dev, *other.signer, "TX", nonce_);
    auto req = decode_pki_request(der);
    ASSERT_TRUE(req);
    auto fail = open_pki_request(*req, pki_->ra_cert(), pki_->ra_key(), {});
    ASSERT_TRUE(fail);
    EXPECT_EQ(fail->info, fail_info::bad_message_check);
    EXPECT_NE(fail->text.find("decrypt"), std::string::npos);
}

TEST_F(message_test, open_fails_with_bad_alg_on_single_des_unless_allowed) {
    auto dev = make_requester();
    auto der = make_pkcs_req(dev, pki_->ra_cert(), "TX", nonce_, content_cipher::des_cbc);
    auto req = decode_pki_request(der);
    ASSERT_TRUE(req);
    auto fail = open_pki_request(*req, pki_->ra_cert(), pki_->ra_key(), cipher_policy{false});
    ASSERT_TRUE(fail);
    EXPECT_EQ(fail->info, fail_info::bad_alg);
    EXPECT_NE(fail->text.find("single DES"), std::string::npos);
}

TEST_F(message_test, open_fails_with_bad_alg_on_an_unsupported_cipher) {
    // AES-128-CFB is a valid OpenSSL cipher but not a SCEP one.
    auto dev = make_requester();
    x509_stack_ptr recips(sk_X509_new_null());
    sk_X509_push(recips.get(), dup(pki_->ra_cert()).release());
    auto csr = x509_req_to_der(*dev.csr);
    bio_ptr in(BIO_new_mem_buf(csr.data(), static_cast<int>(csr.size())));
    pkcs7_ptr env(PKCS7_encrypt(recips.get(), in.get(), EVP_aes_128_cfb128(), PKCS7_BINARY));
    ASSERT_TRUE(env);
    bytes env_der = *der_encode(*env, i2d_PKCS7, "envelope");
    // build_pki_request encrypts message_data itself, so the outer layer is built by hand.
    pkcs7_ptr p7(PKCS7_sign(nullptr, nullptr, nullptr, nullptr, PKCS7_PARTIAL | PKCS7_BINARY));
    PKCS7_SIGNER_INFO* si = PKCS7_sign_add_signer(p7.get(), dev.signer.get(), dev.key.get(), EVP_sha256(), 0);
    ASSERT_TRUE(si);
    auto add = [&](const char* oid, int type, const std::string& v) {
        ASN1_STRING* s = ASN1_STRING_type_new(type);
        ASN1_STRING_set(s, v.data(), static_cast<int>(v.size()));
        // This test may run first in its process, before the codec registered the OIDs.
        int nid = OBJ_txt2nid(oid);
        if (nid == NID_undef) nid = OBJ_create(oid, nullptr, nullptr);
        ASSERT_EQ(PKCS7_add_signed_attribute(si, nid, type, s), 1);
    };
    add("2.16.840.1.113733.1.9.2", V_ASN1_PRINTABLESTRING, "19");
    add("2.16.840.1.113733.1.9.7", V_ASN1_PRINTABLESTRING, "TX");
    add("2.16.840.1.113733.1.9.5", V_ASN1_OCTET_STRING, std::string(16, 'n'));
    bio_ptr content(BIO_new_mem_buf(env_der.data(), static_cast<int>(env_der.size())));
    ASSERT_EQ(PKCS7_final(p7.get(), content.get(), PKCS7_BINARY), 1);
    bytes der = *der_encode(*p7, i2d_PKCS7, "pkiMessage");

    auto req = decode_pki_request(der);
    ASSERT_TRUE(req) << req.message();
    auto fail = open_pki_request(*req, pki_->ra_cert(), pki_->ra_key(), cipher_policy{true});
    ASSERT_TRUE(fail);
    EXPECT_EQ(fail->info, fail_info::bad_alg);
    EXPECT_NE(fail->text.find("unsupported content encryption"), std::string::npos) << fail->text;
}

TEST_F(message_test, success_cert_rep_carries_only_the_issued_certificate_encrypted_as_requested) {
    auto dev = make_requester();
    issuer iss(*pki_, {}, {}, system_clock_fn());
    auto cert = iss.issue(*dev.csr);
    ASSERT_TRUE(cert) << cert.message();
    for (auto cipher : all_content_ciphers) {
        for (auto digest : {digest_alg::sha1, digest_alg::sha256, digest_alg::sha512}) {
            SCOPED_TRACE(std::string(to_string(cipher)) + "/" + std::string(to_string(digest)));
            cert_rep_params p;
            p.transaction_id = "TX-9";
            p.recipient_nonce = nonce_;
            p.digest = digest;
            p.issued = cert->get();
            p.recipient = dev.signer.get();
            p.cipher = cipher;
            auto der = build_cert_rep(p, pki_->ra_cert(), pki_->ra_key());
            ASSERT_TRUE(der) << der.message();
            auto rep = parse_cert_rep(*der, pki_->ra_cert());
            ASSERT_TRUE(rep) << rep.message();
            EXPECT_EQ(rep->type, 3);
            EXPECT_EQ(rep->status, pki_status::success);
            EXPECT_EQ(rep->transaction_id, "TX-9");
            EXPECT_EQ(rep->recipient_nonce, nonce_);
            EXPECT_EQ(rep->sender_nonce.size(), 16u);
            EXPECT_EQ(rep->digest, digest);
            EXPECT_EQ(rep->envelope_cipher, cipher);
            auto certs = decrypt_cert_rep(*rep, *dev.signer, *dev.key);
            ASSERT_TRUE(certs) << certs.message();
            ASSERT_EQ(certs->size(), 1u);
            EXPECT_EQ(X509_cmp(certs->front().get(), cert->get()), 0);
        }
    }
}

TEST_F(message_test, failure_cert_rep_carries_each_fail_info_and_its_text) {
    for (auto info : {fail_info::bad_alg, fail_info::bad_message_check, fail_info::bad_request, fail_info::bad_time,
                      fail_info::bad_cert_id}) {
        SCOPED_TRACE(std::string(to_string(info)));
        cert_rep_params p;
        p.transaction_id = "TX-F";
        p.recipient_nonce = nonce_;
        p.status = pki_status::failure;
        p.failure = info;
        p.fail_info_text = "because " + std::string(to_string(info));
        auto der = build_cert_rep(p, pki_->ra_cert(), pki_->ra_key());
        ASSERT_TRUE(der) << der.message();
        auto rep = parse_cert_rep(*der, pki_->ra_cert());
        ASSERT_TRUE(rep) << rep.message();
        EXPECT_EQ(rep->status, pki_status::failure);
        EXPECT_EQ(rep->failure, info);
        EXPECT_EQ(rep->fail_info_text, p.fail_info_text);
        EXPECT_TRUE(rep->envelope.empty());
        EXPECT_EQ(rep->recipient_nonce, nonce_);
    }
}

TEST_F(message_test, cert_rep_signed_by_another_key_is_rejected_by_the_client) {
    cert_rep_params p;
    p.transaction_id = "TX";
    p.recipient_nonce = nonce_;
    p.status = pki_status::failure;
    p.failure = fail_info::bad_request;
    auto der = build_cert_rep(p, pki_->ra_cert(), pki_->ra_key());
    ASSERT_TRUE(der);
    auto rep = parse_cert_rep(*der, *pki_->issuing().cert);
    EXPECT_FALSE(rep);
}

TEST_F(message_test, degenerate_keeps_certificate_order) {
    // DER SET OF sorting would reorder these; Apple pairs the first one with its key.
    std::vector<const X509*> order{&pki_->ra_cert(), pki_->issuing().cert.get(), &pki_->root_cert()};
    auto der = build_degenerate(order);
    auto certs = parse_degenerate(der);
    ASSERT_TRUE(certs);
    ASSERT_EQ(certs->size(), 3u);
    for (std::size_t i = 0; i < 3; ++i) EXPECT_EQ(X509_cmp(certs->at(i).get(), order[i]), 0) << i;
    std::reverse(order.begin(), order.end());
    auto reversed = parse_degenerate(build_degenerate(order));
    ASSERT_TRUE(reversed);
    for (std::size_t i = 0; i < 3; ++i) EXPECT_EQ(X509_cmp(reversed->at(i).get(), order[i]), 0) << i;
}

TEST(message_names, names_and_parsers_agree) {
    EXPECT_EQ(message_type_name(19), "PKCSReq");
    EXPECT_EQ(message_type_name(99), "unknown(99)");
    for (auto c : all_content_ciphers) EXPECT_EQ(content_cipher_from_name(to_string(c)), c);
    for (auto d : all_digest_algs) EXPECT_EQ(digest_alg_from_name(to_string(d)), d);
    EXPECT_EQ(digest_alg_from_name("SHA-256"), digest_alg::sha256);
    EXPECT_FALSE(digest_alg_from_name("md5"));
    EXPECT_FALSE(content_cipher_from_name("rc2"));
}

}  // namespace
}  // namespace scep
