// scep-lab's NDES-mode failure reply against a FAILURE CertRep captured from
// a real NDES (tests/data/ndes-failure-certrep.pem), field by field.
#include <gtest/gtest.h>
#include <openssl/pem.h>

#include <set>

#include "pki/scep/service.hpp"
#include "support/test_support.hpp"

namespace scep {
namespace {

struct shape {
    long version = -1;
    std::set<std::string> digest_algs;
    std::string content_type;
    long content_length = -1;
    int certificates = 0;
    int crls = 0;
    int signers = 0;
    long signer_version = -1;
    std::string signer_digest;
    std::string signer_signature_alg;
    std::set<std::string> attributes;              // OIDs
    std::map<std::string, int> attribute_types;    // OID -> ASN.1 type of the value
    std::map<std::string, std::string> printable;  // OID -> value, for PrintableStrings
};

std::string oid(const ASN1_OBJECT* o) {
    char buf[80];
    OBJ_obj2txt(buf, sizeof buf, o, 1);
    return buf;
}

shape shape_of(PKCS7* p7) {
    shape s;
    PKCS7_SIGNED* sd = p7->d.sign;
    s.version = ASN1_INTEGER_get(sd->version);
    for (int i = 0; i < sk_X509_ALGOR_num(sd->md_algs); ++i) s.digest_algs.insert(oid(sk_X509_ALGOR_value(sd->md_algs, i)->algorithm));
    s.content_type = oid(sd->contents->type);
    if (sd->contents->d.data) s.content_length = ASN1_STRING_length(sd->contents->d.data);
    s.certificates = sd->cert ? sk_X509_num(sd->cert) : 0;
    s.crls = sd->crl ? sk_X509_CRL_num(sd->crl) : 0;
    s.signers = sk_PKCS7_SIGNER_INFO_num(sd->signer_info);
    PKCS7_SIGNER_INFO* si = sk_PKCS7_SIGNER_INFO_value(sd->signer_info, 0);
    s.signer_version = ASN1_INTEGER_get(si->version);
    s.signer_digest = oid(si->digest_alg->algorithm);
    s.signer_signature_alg = oid(si->digest_enc_alg->algorithm);
    for (int i = 0; i < X509at_get_attr_count(si->auth_attr); ++i) {
        X509_ATTRIBUTE* a = X509at_get_attr(si->auth_attr, i);
        std::string o = oid(X509_ATTRIBUTE_get0_object(a));
        ASN1_TYPE* t = X509_ATTRIBUTE_get0_type(a, 0);
        s.attributes.insert(o);
        s.attribute_types[o] = t->type;
        if (t->type == V_ASN1_PRINTABLESTRING)
            s.printable[o] = std::string(reinterpret_cast<const char*>(ASN1_STRING_get0_data(t->value.asn1_string)),
                                         static_cast<std::size_t>(ASN1_STRING_length(t->value.asn1_string)));
    }
    return s;
}

TEST(ndes_reply, failure_reply_has_the_structure_of_a_real_ndes_reply) {
    auto pem = read_file(SCEP_LAB_SOURCE_DIR "/tests/data/ndes-failure-certrep.pem");
    ASSERT_TRUE(pem) << pem.message();
    bio_ptr bio(BIO_new_mem_buf(pem->data(), static_cast<int>(pem->size())));
    pkcs7_ptr real(PEM_read_bio_PKCS7(bio.get(), nullptr, nullptr, nullptr));
    ASSERT_TRUE(real);

    service_config cfg;
    cfg.ndes_replies = true;
    cfg.reply_sha1 = true;
    cfg.challenge = "secret";
    test::service_lab lab(cfg);
    // A request NDES refuses with badRequest (the captured case): an unknown messageType.
    auto dev = test::make_requester();
    auto der = test::make_pkcs_req(dev, lab.pki->ra_cert(), "9CB1CB998B7FCC0142297B492988AFB4", bytes(16, 7),
                                   content_cipher::des_ede3_cbc, digest_alg::sha256, static_cast<message_type>(99));
    auto reply = lab.service->pki_operation(der, "c");
    ASSERT_EQ(reply.http_status, 200);
    const unsigned char* p = reinterpret_cast<const unsigned char*>(reply.body.data());
    pkcs7_ptr ours(d2i_PKCS7(nullptr, &p, static_cast<long>(reply.body.size())));
    ASSERT_TRUE(ours);

    shape a = shape_of(real.get()), b = shape_of(ours.get());
    EXPECT_EQ(b.version, a.version);
    EXPECT_EQ(b.digest_algs, a.digest_algs);  // {sha1}
    EXPECT_EQ(b.content_type, a.content_type);
    EXPECT_EQ(b.content_length, 1);
    EXPECT_EQ(b.content_length, a.content_length);
    EXPECT_EQ(b.certificates, 0);
    EXPECT_EQ(b.certificates, a.certificates);
    EXPECT_EQ(b.crls, a.crls);
    EXPECT_EQ(b.signers, a.signers);
    EXPECT_EQ(b.signer_version, a.signer_version);
    EXPECT_EQ(b.signer_digest, a.signer_digest);
    EXPECT_EQ(b.signer_signature_alg, a.signer_signature_alg);
    EXPECT_EQ(b.attributes, a.attributes);  // no signingTime, no failInfoText, the HRESULT attribute
    EXPECT_EQ(b.attribute_types, a.attribute_types);
    for (const char* o : {"2.16.840.1.113733.1.9.2", "2.16.840.1.113733.1.9.3", "2.16.840.1.113733.1.9.4",
                          "1.3.6.1.4.1.311.21.33"})
        EXPECT_EQ(b.printable[o], a.printable[o]) << o;
    // And it is still a valid reply for a SCEP client.
    auto rep = parse_cert_rep(bytes(reply.body.begin(), reply.body.end()), lab.pki->ra_cert());
    ASSERT_TRUE(rep) << rep.message();
    EXPECT_EQ(rep->failure, fail_info::bad_request);
    EXPECT_EQ(rep->recipient_nonce, bytes(16, 7));
}

TEST(ndes_reply, success_replies_are_signed_with_sha1_in_ndes_mode) {
    service_config cfg;
    cfg.ndes_replies = true;
    cfg.reply_sha1 = true;
    cfg.challenge = "secret";
    test::service_lab lab(cfg);
    auto dev = test::make_requester({.challenge = "secret"});
    auto der = test::make_pkcs_req(dev, lab.pki->ra_cert(), "T", bytes(16, 1), content_cipher::aes_256_cbc,
                                   digest_alg::sha512);
    auto reply = lab.service->pki_operation(der, "c");
    auto rep = parse_cert_rep(bytes(reply.body.begin(), reply.body.end()), lab.pki->ra_cert());
    ASSERT_TRUE(rep);
    EXPECT_EQ(rep->status, pki_status::success);
    EXPECT_EQ(rep->digest, digest_alg::sha1);
    EXPECT_EQ(rep->envelope_cipher, content_cipher::aes_256_cbc);
}

}  // namespace
}  // namespace scep
