// The findings catalogue, one finding at a time: each has a scenario that
// raises it, every catalogue entry must have one (a finding added without a
// test fails here), and a conformant exchange raises none of them.
#include "pki/inspect/analysis.hpp"

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <set>

#include <openssl/err.h>
#include <openssl/objects.h>
#include <openssl/pkcs7.h>
#include <openssl/x509.h>

#include <filesystem>
#include <functional>
#include <map>

#include "pki/scep/service.hpp"
#include "server/inspector.hpp"
#include "support/test_support.hpp"

namespace scep::inspect {
namespace {

const std::vector<std::string> default_caps = {"POSTPKIOperation", "Renewal", "SHA-1", "SHA-256", "SHA-512",
                                               "AES",              "DES3",    "SCEPStandard"};

std::vector<std::string> ids(const std::vector<finding>& found) {
    std::vector<std::string> out;
    for (const auto& f : found) out.push_back(f.id);
    return out;
}

// A pkiMessage built by hand, as a faulty client would: each SCEP attribute
// optional, any digest and cipher, the signer certificate optional.
struct crafted {
    std::optional<std::string> type = "19";
    std::optional<std::string> txid = "T-1";
    int txid_type = V_ASN1_PRINTABLESTRING;
    std::optional<bytes> nonce = bytes(16, 0x42);
    const EVP_MD* md = EVP_sha256();
    const EVP_CIPHER* cipher = EVP_aes_128_cbc();
    bool include_cert = true;
    bool drop_content_type = false;
    std::optional<bytes> content;  // replaces the envelope
};

int nid_of(const char* oid) {
    int nid = OBJ_txt2nid(oid);
    if (nid == NID_undef) nid = OBJ_create(oid, nullptr, nullptr);
    ERR_clear_error();
    return nid;
}

bytes craft(const crafted& c, const X509& signer, const EVP_PKEY& key, const X509& recipient, const bytes& data) {
    bytes content;
    if (c.content) {
        content = *c.content;
    } else {
        x509_stack_ptr rcpts(sk_X509_new_null());
        sk_X509_push(rcpts.get(), dup(recipient).release());
        bio_ptr in(BIO_new_mem_buf(data.data(), static_cast<int>(data.size())));
        pkcs7_ptr env(PKCS7_encrypt(rcpts.get(), in.get(), c.cipher, PKCS7_BINARY));
        EXPECT_TRUE(env);
        content = *der_encode(*env, i2d_PKCS7, "env");
    }
    pkcs7_ptr p7(PKCS7_sign(nullptr, nullptr, nullptr, nullptr, PKCS7_PARTIAL | PKCS7_BINARY));
    PKCS7_SIGNER_INFO* si = PKCS7_sign_add_signer(p7.get(), const_cast<X509*>(&signer), const_cast<EVP_PKEY*>(&key),
                                                  c.md, PKCS7_NOSMIMECAP | (c.include_cert ? 0 : PKCS7_NOCERTS));
    EXPECT_TRUE(si);
    auto add_string = [&](const char* oid, int type, const std::string& v) {
        asn1_string_ptr s(ASN1_STRING_type_new(type));
        ASN1_STRING_set(s.get(), v.data(), static_cast<int>(v.size()));
        PKCS7_add_signed_attribute(si, nid_of(oid), type, s.release());
    };
    if (c.type) add_string("2.16.840.1.113733.1.9.2", V_ASN1_PRINTABLESTRING, *c.type);
    if (c.txid) add_string("2.16.840.1.113733.1.9.7", c.txid_type, *c.txid);
    if (c.nonce) {
        asn1_octet_string_ptr s(ASN1_OCTET_STRING_new());
        ASN1_OCTET_STRING_set(s.get(), c.nonce->data(), static_cast<int>(c.nonce->size()));
        PKCS7_add_signed_attribute(si, nid_of("2.16.840.1.113733.1.9.5"), V_ASN1_OCTET_STRING,
                                   s.release());
    }
    bio_ptr in(BIO_new_mem_buf(content.data(), static_cast<int>(content.size())));
    EXPECT_EQ(PKCS7_final(p7.get(), in.get(), PKCS7_BINARY), 1);
    if (c.drop_content_type) {
        int idx = X509at_get_attr_by_NID(si->auth_attr, NID_pkcs9_contentType, -1);
        x509_attribute_ptr(X509at_delete_attr(si->auth_attr, idx));
        EXPECT_GT(PKCS7_SIGNER_INFO_sign(si), 0);
    }
    return *der_encode(*p7, i2d_PKCS7, "p7");
}

class inspect_test : public ::testing::Test {
protected:
    // The findings of the row of a client whose last exchange was `operation`,
    // answered as given, once the recorder has settled it; the stop's detail
    // must name `cause`.
    std::vector<std::string> stopped_story(const std::string& operation, int status, const std::string& body,
                                           const std::string& content_type, const std::string& cause) {
        test::service_lab sl(service_config{.challenge = "secret"});
        auto log = make_memory_transactions();
        server::inspector_config cfg;
        cfg.stopped_after = std::chrono::milliseconds(0);
        server::inspector rec(*log, *sl.service, cfg, nullptr, nullptr);
        server::scep_exchange x;
        x.client = "192.0.2.41";
        x.method = "GET";
        x.operation = operation;
        x.http_status = status;
        x.reply_body = body;
        x.reply_content_type = content_type;
        rec.record(std::move(x));
        rec.flush();
        auto page = log->search({});
        EXPECT_TRUE(page && page->items.size() == 1);
        if (!page || page->items.empty()) return {};
        // The finding's own detail (the catalogue's summary, also in the row, says much the same).
        auto row = log->find(page->items.front().id);
        std::string said;
        const auto detail = boost::json::parse((*row)->detail);
        for (const auto& f : detail.at("findings").as_array())
            if (f.at("id").as_string().starts_with("flow.stopped-after-") && f.as_object().contains("detail"))
                said = std::string(f.at("detail").as_string());
        EXPECT_NE(said.find(cause), std::string::npos) << (*row)->detail;
        std::vector<std::string> raised;
        std::string all = page->items.front().findings;
        for (std::size_t at = 0; at < all.size();) {
            auto sp = all.find(' ', at);
            raised.push_back(all.substr(at, sp - at));
            at = sp == std::string::npos ? all.size() : sp + 1;
        }
        return raised;
    }

    void SetUp() override {
        lab_.ra_encryption_cert = &pki().ra_encryption_cert();
        lab_.published.emplace_back("RA signing certificate", &pki().ra_cert());
        for (const ca_entry* ca : pki().all_cas()) {
            lab_.published.emplace_back(ca->name + " CA", ca->cert.get());
            lab_.cas.push_back(ca->cert.get());
        }
        for (const X509* ra : pki().ra_certs()) lab_.ras.push_back(ra);
        lab_.capabilities = default_caps;
        lab_.challenge_required = true;
        lab_.ra_key = &pki().ra_encryption_key();
    }
    const hierarchy& pki() { return *fixture_.pki; }
    std::vector<std::string> analyze(const bytes& der) { return ids(analyze_request(der, lab_).findings); }
    std::vector<std::string> craft_and_analyze(const crafted& c, const test::requester& dev) {
        return analyze(craft(c, *dev.signer, *dev.key, pki().ra_encryption_cert(), x509_req_to_der(*dev.csr)));
    }

    test::lab_fixture fixture_{2};
    lab_view lab_;
    test::requester dev_ = test::make_requester({.subject = "CN=device-1,O=scep-lab tests", .challenge = "secret"});
};

TEST_F(inspect_test, a_conformant_request_raises_nothing_and_is_decoded) {
    auto der = test::make_pkcs_req(dev_, pki().ra_encryption_cert(), "TX-OK", bytes(16, 7));
    auto r = analyze_request(der, lab_);
    EXPECT_TRUE(r.findings.empty()) << ::testing::PrintToString(ids(r.findings));
    EXPECT_TRUE(r.decoded);
    EXPECT_EQ(r.message_type_name, "PKCSReq");
    EXPECT_EQ(r.transaction_id, "TX-OK");
    EXPECT_EQ(r.transaction_id_type, "PrintableString");
    EXPECT_EQ(r.sender_nonce_length, 16u);
    EXPECT_EQ(r.signer.kind, "self-signed");
    EXPECT_EQ(r.digest, "sha256");
    EXPECT_EQ(r.content_cipher, "aes-128-cbc");
    EXPECT_EQ(r.key_transport, "rsaEncryption");
    EXPECT_EQ(r.encrypted_to, "RA");
    EXPECT_TRUE(r.attributes_der_sorted);
    EXPECT_TRUE(r.opened);
    ASSERT_TRUE(r.csr);
    EXPECT_EQ(r.csr->subject, "CN=device-1,O=scep-lab tests");
    EXPECT_EQ(r.csr->key, "RSA 2048");
    EXPECT_EQ(r.csr->challenge, "PrintableString");
    EXPECT_TRUE(r.csr->signature_valid);
    // Nothing secret in the report: the challenge value appears nowhere.
    EXPECT_EQ(boost::json::serialize(to_json(r)).find("secret"), std::string::npos);
    // The same with the project's own crafting helper (every attribute present).
    EXPECT_TRUE(craft_and_analyze({}, dev_).empty()) << ::testing::PrintToString(craft_and_analyze({}, dev_));
    EXPECT_TRUE(http_findings({"POST", "PKIOperation", 22, "application/x-pki-message", false, std::nullopt}, default_caps).empty());
    EXPECT_TRUE(http_findings({"GET", "GetCACaps", 19, "", false, std::nullopt}, default_caps).empty());
}

TEST_F(inspect_test, a_conformant_reply_is_decoded) {
    test::service_lab sl(service_config{.challenge = "secret"});
    auto dev = test::make_requester({.challenge = "secret"});
    auto der = test::make_pkcs_req(dev, sl.pki->ra_cert(), "TX-R", bytes(16, 9));
    auto reply = sl.service->pki_operation(der, "192.0.2.7");
    auto r = analyze_reply(reply.body, reply.content_type);
    EXPECT_EQ(r.kind, "CertRep");
    EXPECT_EQ(r.pki_status, "SUCCESS");
    EXPECT_EQ(r.transaction_id, "TX-R");
    EXPECT_EQ(r.recipient_nonce, to_hex(bytes(16, 9)));
    EXPECT_EQ(r.content_cipher, "aes-128-cbc");
    EXPECT_EQ(r.digest, "sha256");
    // The service says it opened the envelope and the challenge was accepted, with no finding.
    EXPECT_TRUE(reply.inspection.opened);
    EXPECT_EQ(reply.inspection.challenge, "accepted");
    EXPECT_TRUE(reply.inspection.findings.empty());
    auto caps = analyze_reply(sl.service->get_ca_caps().body, "text/plain");
    EXPECT_EQ(caps.kind, "text");
    EXPECT_FALSE(caps.capabilities.empty());
    auto chain = analyze_reply(sl.service->get_ca_cert().body, sl.service->get_ca_cert().content_type);
    EXPECT_EQ(chain.kind, "degenerate");
    EXPECT_GE(chain.certificates.size(), 2u);
}

// What the service's decisions raise, for the findings only it can know.
std::vector<std::string> service_findings(const std::function<service_reply(test::service_lab&)>& scenario,
                                          service_config cfg = service_config{.challenge = "secret"}) {
    test::service_lab sl(std::move(cfg));
    auto reply = scenario(sl);
    return reply.inspection.findings;
}

// A lab-issued certificate and its key: the RA signing certificate.
struct lab_signer {
    const X509& cert;
    const EVP_PKEY& key;
};

TEST_F(inspect_test, every_catalogue_finding_has_a_scenario_that_raises_it) {
    using scenario = std::function<std::vector<std::string>()>;
    const auto csr_der = x509_req_to_der(*dev_.csr);
    const X509& ra = pki().ra_encryption_cert();
    std::map<std::string, scenario> scenarios{
        {"http.not-pkimessage", [&] { return analyze(bytes{0x30, 0x03, 0x02, 0x01, 0x00}); }},
        {"http.get-despite-post",
         [&] { return ids(http_findings({"GET", "PKIOperation", 100, "", false, std::nullopt}, default_caps)); }},
        {"http.get-unescaped",
         [&] {
             // '/' and '=' are legal in a query: nothing to report.
             EXPECT_FALSE(unescaped_base64("MIIBabc/def=="));
             EXPECT_FALSE(unescaped_base64("MIIB%2Babc%2Fdef%3D"));
             // A raw '+' is an error, named with how often.
             auto plus = unescaped_base64("MIIB+abc/def+g==");
             EXPECT_TRUE(plus && severity_of(*plus) == severity::error);
             EXPECT_NE(plus->detail.find("raw '+' 2 times"), std::string::npos) << plus->detail;
             // Line breaks only (raw or percent-encoded): a note.
             auto breaks = unescaped_base64("MIIB%0Aabc%0d%0Adef");
             EXPECT_TRUE(breaks && severity_of(*breaks) == severity::note);
             EXPECT_NE(breaks->detail.find("3 line breaks"), std::string::npos) << breaks->detail;
             return ids(http_findings({"GET", "PKIOperation", 100, "", false, plus}, {}));
         }},
        {"http.get-too-long", [&] { return ids(http_findings({"GET", "PKIOperation", 3000, "", false, std::nullopt}, {})); }},
        {"http.post-content-type",
         [&] {
             auto none = ids(http_findings({"POST", "PKIOperation", 22, "", false, std::nullopt}, default_caps));
             EXPECT_EQ(none, std::vector<std::string>{"http.post-content-type"});
             // Parameters after the media type are fine.
             EXPECT_TRUE(http_findings({"POST", "PKIOperation", 22, "application/x-pki-message; charset=binary", false,
                                        std::nullopt},
                                       default_caps)
                             .empty());
             return ids(http_findings({"POST", "PKIOperation", 22, "application/octet-stream", false, std::nullopt}, default_caps));
         }},
        {"http.post-base64",
         [&] {
             return ids(http_findings({"POST", "PKIOperation", 22, "application/x-pki-message", true, std::nullopt}, default_caps));
         }},
        {"http.operation-case",
         [&] { return ids(http_findings({"GET", "getcacaps", 19, "", false, std::nullopt}, default_caps)); }},
        {"flow.no-getcacaps",
         [&] {
             // Raised by the server's recorder, which knows the client's history: a
             // PKIOperation with no GetCACaps from that client before it.
             test::service_lab sl(service_config{.challenge = "secret"});
             auto log = make_memory_transactions();
             std::vector<std::string> raised;
             {
                 server::inspector rec(*log, *sl.service, {}, nullptr, nullptr);
                 server::scep_exchange x;
                 x.client = "192.0.2.40";
                 x.method = "POST";
                 x.operation = "PKIOperation";
                 x.content_type = "application/x-pki-message";
                 x.request_der = test::make_pkcs_req(dev_, sl.pki->ra_cert(), "T-F", bytes(16, 8));
                 x.http_status = 200;
                 rec.record(std::move(x));
                 rec.flush();
             }
             auto page = log->search({});
             EXPECT_TRUE(page && page->items.size() == 1);
             std::string all = page ? page->items.front().findings : "";
             for (std::size_t at = 0; at < all.size();) {
                 auto sp = all.find(' ', at);
                 raised.push_back(all.substr(at, sp - at));
                 at = sp == std::string::npos ? all.size() : sp + 1;
             }
             return raised;
         }},
        {"flow.stopped-after-getcacaps",
         [&] {
             // Raised by the recorder once the client has been quiet after its
             // GetCACaps (here at once: stopped_after 0); the detail says what it got.
             return stopped_story("GetCACaps", 503, "", "text/plain", "GetCACaps was answered HTTP 503");
         }},
        {"flow.stopped-after-getcacert",
         [&] {
             // The issuing CA alone: nothing with a key usage for encryption.
             auto ca = x509_to_der(*pki().issuing().cert);
             return stopped_story("GetCACert", 200, std::string(ca.begin(), ca.end()), "application/x-x509-ca-cert",
                                  "no certificate with a key usage for encryption");
         }},
        {"query.issuer-is-ra",
         [&] {
             // CertPoll naming the RA (the first certificate of GetCACert) as issuer.
             pki_request_params p{.type = message_type::cert_poll, .transaction_id = "T-RA-ISSUER",
                                  .sender_nonce = bytes(16, 3),
                                  .message_data = encode_issuer_and_subject(*X509_get_subject_name(&pki().ra_cert()),
                                                                            *X509_get_subject_name(dev_.signer.get()))};
             auto der = build_pki_request(p, *dev_.signer, *dev_.key, {&pki().ra_encryption_cert()});
             auto r = analyze_request(*der, lab_);
             EXPECT_EQ(r.findings.size(), 1u) << ::testing::PrintToString(ids(r.findings));
             // The CA named, as RFC 8894 says: nothing.
             p.message_data = encode_issuer_and_subject(*X509_get_subject_name(pki().issuing().cert.get()),
                                                        *X509_get_subject_name(dev_.signer.get()));
             EXPECT_TRUE(analyze(*build_pki_request(p, *dev_.signer, *dev_.key, {&pki().ra_encryption_cert()})).empty());
             return ids(r.findings);
         }},
        {"flow.poll-unknown",
         [&] {
             return service_findings([&](test::service_lab& sl) {
                 pki_request_params p{.type = message_type::cert_poll, .transaction_id = "NEVER-SEEN",
                                      .sender_nonce = bytes(16, 1),
                                      .message_data = encode_issuer_and_subject(
                                          *X509_get_subject_name(sl.pki->issuing().cert.get()),
                                          *X509_get_subject_name(dev_.signer.get()))};
                 auto der = build_pki_request(p, *dev_.signer, *dev_.key, {&sl.pki->ra_cert()});
                 return sl.service->pki_operation(*der, "192.0.2.9");
             });
         }},
        {"attr.message-type-missing", [&] { return craft_and_analyze({.type = std::nullopt}, dev_); }},
        {"attr.message-type-unknown", [&] { return craft_and_analyze({.type = "99"}, dev_); }},
        {"attr.transaction-id-missing", [&] { return craft_and_analyze({.txid = std::nullopt}, dev_); }},
        {"attr.transaction-id-type", [&] { return craft_and_analyze({.txid_type = V_ASN1_IA5STRING}, dev_); }},
        {"attr.sender-nonce-missing", [&] { return craft_and_analyze({.nonce = std::nullopt}, dev_); }},
        {"attr.nonce-length", [&] { return craft_and_analyze({.nonce = bytes(8, 1)}, dev_); }},
        {"attr.content-type-missing", [&] { return craft_and_analyze({.drop_content_type = true}, dev_); }},
        {"attr.not-der-sorted",
         [&] {
             // Swap two adjacent attributes in the encoding (OpenSSL always writes them sorted).
             auto der = craft({}, *dev_.signer, *dev_.key, ra, csr_der);
             auto p7 = pkcs7_ptr([&] {
                 const unsigned char* p = der.data();
                 return d2i_PKCS7(nullptr, &p, static_cast<long>(der.size()));
             }());
             auto* attrs = sk_PKCS7_SIGNER_INFO_value(PKCS7_get_signer_info(p7.get()), 0)->auth_attr;
             auto a = *der_encode(*sk_X509_ATTRIBUTE_value(attrs, 0), i2d_X509_ATTRIBUTE, "a");
             auto b = *der_encode(*sk_X509_ATTRIBUTE_value(attrs, 1), i2d_X509_ATTRIBUTE, "b");
             bytes ab = a;
             ab.insert(ab.end(), b.begin(), b.end());
             auto at = std::search(der.begin(), der.end(), ab.begin(), ab.end());
             EXPECT_NE(at, der.end());
             bytes ba = b;
             ba.insert(ba.end(), a.begin(), a.end());
             std::copy(ba.begin(), ba.end(), at);
             auto r = analyze_request(der, lab_);
             EXPECT_FALSE(r.attributes_der_sorted);
             return ids(r.findings);
         }},
        {"signer.missing", [&] { return craft_and_analyze({.include_cert = false}, dev_); }},
        {"signer.signature-invalid",
         [&] {
             auto der = craft({}, *dev_.signer, *dev_.key, ra, csr_der);
             der.back() ^= 0x01;  // the last octet of the SignedData is the signature's
             return analyze(der);
         }},
        {"signer.not-rsa",
         [&] {
             auto ec = test::make_requester({.key = key_type::ec_p256});
             return craft_and_analyze({}, ec);
         }},
        {"signer.subject-mismatch",
         [&] {
             EVP_PKEY_up_ref(dev_.key.get());
             auto other = test::requester_with_key(evp_pkey_ptr(dev_.key.get()), "CN=SCEP SIGNER,O=client");
             return analyze(craft({}, *other.signer, *other.key, ra, csr_der));
         }},
        {"signer.key-mismatch",
         [&] {
             auto other = test::make_requester({});
             return analyze(craft({}, *other.signer, *other.key, ra, csr_der));
         }},
        {"digest.md5", [&] { return craft_and_analyze({.md = EVP_md5()}, dev_); }},
        {"digest.sha1", [&] { return craft_and_analyze({.md = EVP_sha1()}, dev_); }},
        {"digest.not-advertised",
         [&] {
             // SHA-384 has no GetCACaps keyword at all.
             return craft_and_analyze({.md = EVP_sha384()}, dev_);
         }},
        {"envelope.single-des",
         [&] {
             EXPECT_TRUE(legacy_provider_loaded()) << "OpenSSL's legacy provider is needed to build DES";
             return craft_and_analyze({.cipher = EVP_des_cbc()}, dev_);
         }},
        {"envelope.des3", [&] { return craft_and_analyze({.cipher = EVP_des_ede3_cbc()}, dev_); }},
        {"envelope.rsaes-oaep",
         [&] {
             pki_request_params p;
             p.transaction_id = "T-OAEP";
             p.sender_nonce = bytes(16, 0x42);
             p.message_data = x509_req_to_der(*dev_.csr);
             p.transport = key_transport::rsaes_oaep;
             auto der = build_pki_request(p, *dev_.signer, *dev_.key, {&pki().ra_encryption_cert()});
             EXPECT_TRUE(der) << der.message();
             auto r = analyze_request(*der, lab_);
             EXPECT_TRUE(r.opened);  // the inspector decrypts OAEP too
             EXPECT_EQ(r.key_transport, "rsaesOaep");
             return ids(r.findings);
         }},
        {"envelope.cipher-not-advertised",
         [&] {
             lab_.capabilities = {"POSTPKIOperation", "SHA-256"};  // no AES, no SCEPStandard
             auto out = craft_and_analyze({}, dev_);
             lab_.capabilities = default_caps;
             return out;
         }},
        {"envelope.not-to-ra",
         [&] {
             auto der = craft({}, *dev_.signer, *dev_.key, *pki().issuing().cert, csr_der);
             auto r = analyze_request(der, lab_);
             EXPECT_EQ(r.encrypted_to, "issuing CA");
             return ids(r.findings);
         }},
        {"envelope.unreadable",
         [&] { return craft_and_analyze({.content = bytes{'n', 'o', 't', ' ', 'a', 'n', ' ', 'e', 'n', 'v'}}, dev_); }},
        {"csr.invalid", [&] { return analyze(craft({}, *dev_.signer, *dev_.key, ra, bytes{0x30, 0x00})); }},
        {"csr.key-too-small",
         [&] {
             lab_.min_rsa_bits = 3072;
             auto out = craft_and_analyze({}, dev_);
             lab_.min_rsa_bits = 2048;
             return out;
         }},
        {"challenge.missing",
         [&] {
             auto bare = test::make_requester({.challenge = ""});
             auto offline = craft_and_analyze({}, bare);
             auto served = service_findings([&](test::service_lab& sl) {
                 return sl.service->pki_operation(test::make_pkcs_req(bare, sl.pki->ra_cert(), "T-M", bytes(16, 3)),
                                                  "192.0.2.9");
             });
             EXPECT_EQ(served, std::vector<std::string>{"challenge.missing"});
             return offline;
         }},
        {"challenge.wrong",
         [&] {
             auto wrong = test::make_requester({.challenge = "not-the-secret"});
             return service_findings([&](test::service_lab& sl) {
                 auto reply = sl.service->pki_operation(
                     test::make_pkcs_req(wrong, sl.pki->ra_cert(), "T-W", bytes(16, 3)), "192.0.2.9");
                 EXPECT_EQ(reply.inspection.challenge, "refused");
                 return reply;
             });
         }},
        {"challenge.not-printable",
         [&] { return craft_and_analyze({}, test::make_requester({.challenge = "secret", .challenge_as_utf8 = true})); }},
        {"renewal.not-advertised",
         [&] {
             lab_.capabilities = {"POSTPKIOperation", "SHA-256", "AES"};
             auto out = craft_and_analyze({.type = "17"}, dev_);
             lab_.capabilities = default_caps;
             return out;
         }},
        {"renewal.signer-unknown", [&] { return craft_and_analyze({.type = "17"}, dev_); }},
        {"renewal.signer-expired",
         [&] {
             // The RA certificate is issued by this lab; ten years on it has expired.
             lab_.now = std::chrono::system_clock::now() + std::chrono::hours(24 * 3650);
             auto out = analyze(craft({.type = "17"}, pki().ra_cert(), pki().ra_key(), ra, csr_der));
             lab_.now = std::chrono::system_clock::now();
             auto fresh = analyze(craft({.type = "17"}, pki().ra_cert(), pki().ra_key(), ra, csr_der));
             EXPECT_EQ(std::count(fresh.begin(), fresh.end(), "renewal.signer-expired"), 0);
             EXPECT_EQ(std::count(fresh.begin(), fresh.end(), "renewal.signer-unknown"), 0);
             return out;
         }},
        {"renewal.signer-revoked",
         [&] {
             return service_findings([&](test::service_lab& sl) {
                 auto first = sl.service->pki_operation(
                     test::make_pkcs_req(dev_, sl.pki->ra_cert(), "T-E", bytes(16, 4)), "192.0.2.9");
                 auto rep = parse_cert_rep(bytes(first.body.begin(), first.body.end()), sl.pki->ra_cert());
                 auto certs = decrypt_cert_rep(*rep, *dev_.signer, *dev_.key);
                 EXPECT_TRUE(certs);
                 EXPECT_TRUE(sl.store->revoke(serial_hex(*certs->front()), 1, std::chrono::system_clock::now()));
                 test::requester renewing{nullptr, nullptr, dup(*certs->front())};
                 EVP_PKEY_up_ref(dev_.key.get());
                 renewing.key.reset(dev_.key.get());
                 renewing.csr.reset(X509_REQ_dup(dev_.csr.get()));
                 return sl.service->pki_operation(
                     test::make_pkcs_req(renewing, sl.pki->ra_cert(), "T-R", bytes(16, 5), content_cipher::aes_128_cbc,
                                         digest_alg::sha256, message_type::renewal_req),
                     "192.0.2.9");
             });
         }},
        {"transaction-id.reused-key",
         [&] {
             return service_findings([&](test::service_lab& sl) {
                 (void)sl.service->pki_operation(test::make_pkcs_req(dev_, sl.pki->ra_cert(), "T-SAME", bytes(16, 6)),
                                                 "192.0.2.9");
                 auto other = test::make_requester({.challenge = "secret"});
                 return sl.service->pki_operation(
                     test::make_pkcs_req(other, sl.pki->ra_cert(), "T-SAME", bytes(16, 7)), "192.0.2.9");
             });
         }},
    };
    EXPECT_GE(catalogue().size(), 25u);
    for (const auto& def : catalogue()) {
        SCOPED_TRACE(std::string(def.id));
        auto it = scenarios.find(std::string(def.id));
        ASSERT_NE(it, scenarios.end()) << "no scenario raises " << def.id;
        auto raised = it->second();
        EXPECT_NE(std::find(raised.begin(), raised.end(), def.id), raised.end())
            << def.id << " not raised; raised: " << ::testing::PrintToString(raised);
    }
    EXPECT_EQ(scenarios.size(), catalogue().size()) << "a scenario names a finding that is not in the catalogue";
}

TEST(inspect_catalogue, ids_are_unique_and_every_entry_is_complete) {
    std::set<std::string_view> seen;
    for (const auto& f : catalogue()) {
        EXPECT_TRUE(seen.insert(f.id).second) << f.id;
        EXPECT_FALSE(f.summary.empty()) << f.id;
        EXPECT_FALSE(f.reference.empty()) << f.id;
        EXPECT_NE(f.id.find('.'), std::string_view::npos) << f.id;
    }
    EXPECT_THROW(raise(*std::make_unique<std::vector<finding>>(), "no.such-finding"), std::logic_error);
    std::vector<finding> v;
    raise(v, "digest.sha1");
    raise(v, "digest.sha1");
    EXPECT_EQ(v.size(), 1u);
    raise(v, "envelope.single-des");
    EXPECT_EQ(worst(v), severity::error);
    EXPECT_FALSE(worst({}));
    auto md = catalogue_markdown();
    for (const auto& f : catalogue()) EXPECT_NE(md.find("`" + std::string(f.id) + "`"), std::string::npos);
}

TEST_F(inspect_test, hostile_input_is_decoded_without_crashing_and_cut_for_display) {
    // Control characters and a huge transactionID come back cut and replaced.
    auto der = craft({.txid = std::string("A\n\x1b[31mB") + std::string(5000, 'x')}, *dev_.signer, *dev_.key,
                     pki().ra_encryption_cert(), x509_req_to_der(*dev_.csr));
    auto r = analyze_request(der, lab_);
    EXPECT_LE(r.transaction_id.size(), 260u);
    EXPECT_EQ(r.transaction_id.find('\n'), std::string::npos);
    EXPECT_EQ(r.transaction_id.find('\x1b'), std::string::npos);
    // Truncations and bit flips of a real message never crash the analysis.
    auto good = test::make_pkcs_req(dev_, pki().ra_encryption_cert(), "TX", bytes(16, 1));
    for (std::size_t cut = 0; cut < good.size(); cut += 97) {
        bytes part(good.begin(), good.begin() + static_cast<std::ptrdiff_t>(cut));
        (void)analyze_request(part, lab_);
        (void)analyze_reply(std::string(part.begin(), part.end()), "application/x-pki-message");
    }
    for (std::size_t i = 0; i < good.size(); i += 53) {
        bytes flipped = good;
        flipped[i] ^= 0xff;
        (void)analyze_request(flipped, lab_);
    }
    EXPECT_TRUE(analyze_request({}, lab_).findings.size() == 1);
    // Found by fuzz_pki_message: a signer certificate whose key OpenSSL cannot
    // decode (no EVP_PKEY) was dereferenced. Every seed, as a request and a reply.
    for (const auto& entry : std::filesystem::directory_iterator(SCEP_LAB_SOURCE_DIR "/tests/fuzz/seeds/pki_message")) {
        auto text = read_file(entry.path());
        ASSERT_TRUE(text) << entry.path();
        bytes seed(text->begin(), text->end());
        auto r = analyze_request(seed, lab_);
        EXPECT_TRUE(r.decoded || !r.findings.empty()) << entry.path();
        (void)analyze_reply(*text, "application/x-pki-message");
    }
}

}  // namespace
}  // namespace scep::inspect
