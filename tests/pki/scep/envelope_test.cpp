// Envelopes beyond RSA with PKCS#1 v1.5: EC requesters answered with a CMS
// KeyAgreeRecipientInfo (as NDES answers them), the scep.ec_requesters =
// "refuse" setting, RSAES-OAEP key transport in requests, and the hand-read
// content-encryption algorithm of an EnvelopedData.
#include <gtest/gtest.h>

#include "pki/scep/service.hpp"
#include "support/test_support.hpp"

namespace scep {
namespace {

test::requester ec_requester(const char* curve) {
    test::requester r;
    r.key.reset(EVP_EC_gen(curve));
    if (!r.key) throw std::runtime_error(ossl_error(std::string("EVP_EC_gen ") + curve));
    r.csr = test::make_csr(*r.key, std::string("CN=ec-") + curve + ",O=scep-lab tests", {}, "secret");
    auto name = parse_subject("CN=ec signer");
    auto signer = self_signed(*r.key, *name->get(), std::chrono::system_clock::now());
    if (!signer) throw std::runtime_error(signer.message());
    r.signer = std::move(*signer);
    return r;
}

service_config with_challenge() {
    service_config cfg;
    cfg.challenge = "secret";
    return cfg;
}

// The reply's envelope as OpenSSL's CMS parser sees it.
cms_ptr envelope_of(const cert_rep& rep) {
    const unsigned char* p = rep.envelope.data();
    cms_ptr cms(d2i_CMS_ContentInfo(nullptr, &p, static_cast<long>(rep.envelope.size())));
    EXPECT_TRUE(cms);
    return cms;
}

class ec_requester_curves : public ::testing::TestWithParam<const char*> {};

TEST_P(ec_requester_curves, are_issued_and_the_reply_is_enveloped_by_key_agreement) {
    test::service_lab lab(with_challenge());
    auto dev = ec_requester(GetParam());
    auto o = test::enroll_through(lab, dev);
    ASSERT_EQ(o.rep.status, pki_status::success) << o.rep.fail_info_text;
    ASSERT_TRUE(o.cert);
    EXPECT_EQ(EVP_PKEY_eq(X509_get0_pubkey(o.cert.get()), dev.key.get()), 1);
    EXPECT_EQ(o.rep.envelope_cipher, content_cipher::aes_128_cbc);

    auto cms = envelope_of(o.rep);
    ASSERT_TRUE(cms);
    STACK_OF(CMS_RecipientInfo)* ris = CMS_get0_RecipientInfos(cms.get());
    ASSERT_EQ(sk_CMS_RecipientInfo_num(ris), 1);
    CMS_RecipientInfo* ri = sk_CMS_RecipientInfo_value(ris, 0);
    ASSERT_EQ(CMS_RecipientInfo_type(ri), CMS_RECIPINFO_AGREE);
    X509_ALGOR* orig = nullptr;
    ASN1_BIT_STRING* orig_key = nullptr;
    ASSERT_EQ(CMS_RecipientInfo_kari_get0_orig_id(ri, &orig, &orig_key, nullptr, nullptr, nullptr), 1);
    const ASN1_OBJECT* orig_oid = nullptr;
    int orig_param_type = 0;
    X509_ALGOR_get0(&orig_oid, &orig_param_type, nullptr, orig);
    EXPECT_EQ(OBJ_obj2nid(orig_oid), NID_X9_62_id_ecPublicKey);
    EXPECT_EQ(orig_param_type, V_ASN1_NULL);  // as NDES writes it
    X509_ALGOR* kek = nullptr;
    ASSERT_EQ(CMS_RecipientInfo_kari_get0_alg(ri, &kek, nullptr), 1);
    const ASN1_OBJECT* kek_oid = nullptr;
    X509_ALGOR_get0(&kek_oid, nullptr, nullptr, kek);
    EXPECT_EQ(OBJ_obj2nid(kek_oid), NID_dhSinglePass_stdDH_sha1kdf_scheme);

    auto rows = lab.store->list(10, 0);
    ASSERT_TRUE(rows);
    EXPECT_EQ(rows->size(), 1u);
}

INSTANTIATE_TEST_SUITE_P(envelope, ec_requester_curves, ::testing::Values("P-256", "P-384", "P-521"));

TEST(envelope, an_ec_requester_with_des3_gets_a_des3_envelope_it_can_open) {
    test::service_lab lab(with_challenge());
    auto dev = ec_requester("P-256");
    auto o = test::enroll_through(lab, dev, key_transport::rsa_pkcs1, content_cipher::des_ede3_cbc);
    ASSERT_EQ(o.rep.status, pki_status::success) << o.rep.fail_info_text;
    EXPECT_TRUE(o.cert);
    EXPECT_EQ(o.rep.envelope_cipher, content_cipher::des_ede3_cbc);
}

TEST(envelope, ec_requesters_refuse_answers_bad_alg_and_issues_nothing) {
    auto cfg = with_challenge();
    cfg.ec_requesters = service_config::ec_mode::refuse;
    test::service_lab lab(cfg);
    auto o = test::enroll_through(lab, ec_requester("P-256"));
    EXPECT_EQ(o.rep.status, pki_status::failure);
    EXPECT_EQ(o.rep.failure, fail_info::bad_alg);
    EXPECT_NE(o.rep.fail_info_text.find("ec_requesters"), std::string::npos) << o.rep.fail_info_text;
    auto rows = lab.store->list(10, 0);
    ASSERT_TRUE(rows);
    EXPECT_TRUE(rows->empty());
    // An RSA requester is unaffected by the setting.
    EXPECT_EQ(test::enroll_through(lab, test::make_requester()).rep.status, pki_status::success);
}

TEST(envelope, rsaes_oaep_key_transport_in_a_request_is_decrypted) {
    test::service_lab lab(with_challenge());
    auto dev = test::make_requester();
    // The request really carries OAEP: check its recipientInfo.
    pki_request_params p;
    p.transaction_id = make_transaction_id();
    p.sender_nonce = bytes(16, 1);
    p.message_data = x509_req_to_der(*dev.csr);
    p.transport = key_transport::rsaes_oaep;
    auto der = build_pki_request(p, *dev.signer, *dev.key, {&lab.pki->ra_encryption_cert()});
    ASSERT_TRUE(der) << der.message();
    auto decoded = decode_pki_request(*der);
    ASSERT_TRUE(decoded) << decoded.message();
    auto content = verify_signed_content(*der, *dev.signer);
    ASSERT_TRUE(content) << content.message();
    const unsigned char* q = content->data();
    pkcs7_ptr env(d2i_PKCS7(nullptr, &q, static_cast<long>(content->size())));
    ASSERT_TRUE(env && PKCS7_type_is_enveloped(env.get()));
    EXPECT_EQ(OBJ_obj2nid(sk_PKCS7_RECIP_INFO_value(env->d.enveloped->recipientinfo, 0)->key_enc_algor->algorithm),
              NID_rsaesOaep);

    auto o = test::enroll_through(lab, dev, key_transport::rsaes_oaep);
    ASSERT_EQ(o.rep.status, pki_status::success) << o.rep.fail_info_text;
    ASSERT_TRUE(o.cert);
    EXPECT_EQ(EVP_PKEY_eq(X509_get0_pubkey(o.cert.get()), dev.key.get()), 1);
}

TEST(envelope, an_oaep_request_to_another_key_is_refused_with_bad_message_check) {
    test::service_lab lab(with_challenge());
    auto dev = test::make_requester();
    auto stranger = test::make_requester({.subject = "CN=stranger"});
    auto o = [&] {
        pki_request_params p;
        p.transaction_id = make_transaction_id();
        p.sender_nonce = bytes(16, 2);
        p.message_data = x509_req_to_der(*dev.csr);
        p.transport = key_transport::rsaes_oaep;
        auto der = build_pki_request(p, *dev.signer, *dev.key, {stranger.signer.get()});
        EXPECT_TRUE(der);
        auto reply = lab.service->pki_operation(*der, "test");
        return parse_cert_rep(bytes(reply.body.begin(), reply.body.end()), lab.pki->ra_cert());
    }();
    ASSERT_TRUE(o) << o.message();
    EXPECT_EQ(o->status, pki_status::failure);
    EXPECT_EQ(o->failure, fail_info::bad_message_check);
    EXPECT_NE(o->fail_info_text.find("OAEP"), std::string::npos) << o->fail_info_text;
}

TEST(envelope, enveloped_content_nid_reads_pkcs7_and_cms_envelopes_and_rejects_anything_else) {
    auto rsa = test::make_requester();
    auto ec = ec_requester("P-256");
    const bytes content{1, 2, 3, 4};
    for (const auto* who : {&rsa, &ec}) {
        // What a request to `who` looks like, its envelope taken out again.
        pki_request_params p;
        p.transaction_id = "t";
        p.sender_nonce = bytes(16, 1);
        p.message_data = content;
        p.cipher = content_cipher::aes_256_cbc;
        auto der = build_pki_request(p, *rsa.signer, *rsa.key, {who->signer.get()});
        ASSERT_TRUE(der) << der.message();
        auto env = verify_signed_content(*der, *rsa.signer);
        ASSERT_TRUE(env);
        EXPECT_EQ(enveloped_content_nid(*env), NID_aes_256_cbc);
        auto plain = decrypt_envelope(*env, *who->signer, *who->key);
        ASSERT_TRUE(plain) << plain.message();
        EXPECT_EQ(*plain, content);
        // Every truncation is refused, never read past the end.
        for (std::size_t n = 0; n < env->size(); n += 7)
            EXPECT_FALSE(enveloped_content_nid(byte_view(env->data(), n)).has_value()) << n;
        // Another key does not open it.
        EXPECT_FALSE(decrypt_envelope(*env, *(who == &rsa ? ec : rsa).signer, *(who == &rsa ? ec : rsa).key));
    }
    EXPECT_FALSE(enveloped_content_nid(bytes{0x30, 0x03, 0x02, 0x01, 0x00}).has_value());
    EXPECT_FALSE(decrypt_envelope(bytes{0x30, 0x00}, *rsa.signer, *rsa.key));
}

}  // namespace
}  // namespace scep
