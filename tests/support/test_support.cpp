#include "support/test_support.hpp"

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/param_build.h>
#include <openssl/rsa.h>
#include <openssl/x509v3.h>

#include <boost/asio.hpp>

#include <array>
#include <functional>
#include <random>

namespace scep::test {

temp_dir::temp_dir() {
    std::random_device rd;
    path_ = std::filesystem::temp_directory_path() / ("scep-lab-test-" + std::to_string(rd()) + std::to_string(rd()));
    std::filesystem::create_directories(path_);
}

temp_dir::~temp_dir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
}

hierarchy_spec small_spec(int tiers, bool ca_as_ra, key_type key) {
    hierarchy_spec spec;
    // Named as AD CS hierarchies usually are: root, [policy], [intermediate], issuing.
    static const std::vector<std::vector<std::string>> names{
        {}, {"issuing"}, {"root", "issuing"}, {"root", "intermediate", "issuing"},
        {"root", "policy", "intermediate", "issuing"}};
    for (int i = 0; i < tiers; ++i) {
        std::string name = names.at(static_cast<std::size_t>(tiers)).at(static_cast<std::size_t>(i));
        spec.tiers.push_back({name, "CN=Test " + name + " CA,O=scep-lab tests", key, std::chrono::hours(24 * 365)});
    }
    spec.ca_as_ra = ca_as_ra;
    return spec;
}

requester make_requester(const requester_options& o) {
    requester r;
    auto key = generate_key(o.key);
    EXPECT_TRUE(key) << key.message();
    r.key = std::move(*key);
    r.csr.reset(X509_REQ_new());
    X509_REQ_set_version(r.csr.get(), 0);
    auto subject = parse_subject(o.subject);
    EXPECT_TRUE(subject) << subject.message();
    X509_REQ_set_subject_name(r.csr.get(), subject->get());
    X509_REQ_set_pubkey(r.csr.get(), r.key.get());
    if (!o.challenge.empty()) {
        // PrintableString is what most clients send; NDES refuses UTF8String.
        int type = o.challenge_as_utf8 ? V_ASN1_UTF8STRING : V_ASN1_PRINTABLESTRING;
        X509_REQ_add1_attr_by_NID(r.csr.get(), NID_pkcs9_challengePassword, type,
                                  reinterpret_cast<const unsigned char*>(o.challenge.c_str()),
                                  static_cast<int>(o.challenge.size()));
    }
    x509_ext_stack_ptr exts(sk_X509_EXTENSION_new_null());
    X509V3_CTX ctx;
    X509V3_set_ctx(&ctx, nullptr, nullptr, r.csr.get(), nullptr, 0);
    if (!o.dns_names.empty()) {
        std::string san;
        for (const auto& d : o.dns_names) san += (san.empty() ? "DNS:" : ",DNS:") + d;
        sk_X509_EXTENSION_push(exts.get(), X509V3_EXT_conf_nid(nullptr, &ctx, NID_subject_alt_name, san.c_str()));
    }
    for (const auto& e : o.extra_ext) {
        auto eq = e.find('=');
        sk_X509_EXTENSION_push(exts.get(),
                               X509V3_EXT_conf(nullptr, &ctx, e.substr(0, eq).c_str(), e.substr(eq + 1).c_str()));
    }
    if (sk_X509_EXTENSION_num(exts.get()) > 0) X509_REQ_add_extensions(r.csr.get(), exts.get());
    X509_REQ_sign(r.csr.get(), r.key.get(), EVP_sha256());
    auto signer = self_signed(*r.key, *subject->get(), std::chrono::system_clock::now());
    EXPECT_TRUE(signer) << signer.message();
    r.signer = std::move(*signer);
    return r;
}

// An RSA key from its modulus and exponents, as OpenSSL takes them (no CRT
// values: signing is slower, which no test here minds).
evp_pkey_ptr rsa_key_from(const BIGNUM& n, const BIGNUM& e, const BIGNUM& d) {
    ossl_param_bld_ptr bld(OSSL_PARAM_BLD_new());
    OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_N, &n);
    OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_E, &e);
    OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_D, &d);
    ossl_param_ptr params(OSSL_PARAM_BLD_to_param(bld.get()));
    evp_pkey_ctx_ptr ctx(EVP_PKEY_CTX_new_from_name(nullptr, "RSA", nullptr));
    EVP_PKEY* key = nullptr;
    if (!ctx || EVP_PKEY_fromdata_init(ctx.get()) != 1 ||
        EVP_PKEY_fromdata(ctx.get(), &key, EVP_PKEY_KEYPAIR, params.get()) != 1)
        throw std::runtime_error(ossl_error("RSA key from n, e, d"));
    return evp_pkey_ptr(key);
}

evp_pkey_ptr rsa_key_with_exponent(unsigned long e) {
    if (e == 3 || e == 65537) {
        evp_pkey_ctx_ptr ctx(EVP_PKEY_CTX_new_from_name(nullptr, "RSA", nullptr));
        bignum_ptr pub(BN_new());
        BN_set_word(pub.get(), e);
        EVP_PKEY* key = nullptr;
        if (!ctx || EVP_PKEY_keygen_init(ctx.get()) != 1 || EVP_PKEY_CTX_set_rsa_keygen_bits(ctx.get(), 2048) != 1 ||
            EVP_PKEY_CTX_set1_rsa_keygen_pubexp(ctx.get(), pub.get()) != 1 || EVP_PKEY_keygen(ctx.get(), &key) != 1)
            throw std::runtime_error(ossl_error("RSA key with e = " + std::to_string(e)));
        return evp_pkey_ptr(key);
    }
    // Only the modulus of a real key; d = 1.
    auto real = generate_key(key_type::rsa2048);
    BIGNUM* n = nullptr;
    if (!real || EVP_PKEY_get_bn_param(real->get(), OSSL_PKEY_PARAM_RSA_N, &n) != 1)
        throw std::runtime_error(ossl_error("RSA modulus"));
    bignum_ptr owned_n(n), pub(BN_new()), priv(BN_new());
    BN_set_word(pub.get(), e);
    BN_set_word(priv.get(), 1);
    return rsa_key_from(*n, *pub, *priv);
}

evp_pkey_ptr rsa_key_with_huge_exponent() {
    // p, q of 1536 bits; e odd, 3070 bits, prime to phi; d = e^-1 mod phi.
    // OpenSSL accepts exponents this large up to 3072-bit moduli.
    bignum_ptr p(BN_new()), q(BN_new()), n(BN_new()), phi(BN_new()), p1(BN_new()), q1(BN_new()), e(BN_new()),
        d(BN_new()), g(BN_new());
    bn_ctx_ptr bn(BN_CTX_new());
    if (BN_generate_prime_ex(p.get(), 1536, 0, nullptr, nullptr, nullptr) != 1 ||
        BN_generate_prime_ex(q.get(), 1536, 0, nullptr, nullptr, nullptr) != 1 ||
        BN_mul(n.get(), p.get(), q.get(), bn.get()) != 1 || !BN_sub(p1.get(), p.get(), BN_value_one()) ||
        !BN_sub(q1.get(), q.get(), BN_value_one()) || BN_mul(phi.get(), p1.get(), q1.get(), bn.get()) != 1)
        throw std::runtime_error(ossl_error("RSA primes"));
    do {
        if (BN_rand(e.get(), 3070, BN_RAND_TOP_ONE, BN_RAND_BOTTOM_ODD) != 1 || BN_gcd(g.get(), e.get(), phi.get(), bn.get()) != 1)
            throw std::runtime_error(ossl_error("RSA exponent"));
    } while (!BN_is_one(g.get()));
    if (!BN_mod_inverse(d.get(), e.get(), phi.get(), bn.get())) throw std::runtime_error(ossl_error("RSA d"));
    return rsa_key_from(*n, *e, *d);
}

evp_pkey_ptr ec_key_with_explicit_curve() {
    auto key = generate_key(key_type::ec_p256);
    if (!key || EVP_PKEY_set_utf8_string_param(key->get(), OSSL_PKEY_PARAM_EC_ENCODING,
                                               OSSL_PKEY_EC_ENCODING_EXPLICIT) != 1)
        throw std::runtime_error(ossl_error("explicit EC parameters"));
    return std::move(*key);
}

x509_req_ptr make_csr(const EVP_PKEY& key, const std::string& subject,
                      const std::vector<std::pair<int, bytes>>& extensions, const std::string& challenge,
                      const EVP_MD* md) {
    x509_req_ptr csr(X509_REQ_new());
    X509_REQ_set_version(csr.get(), 0);
    auto name = parse_subject(subject);
    if (!name) throw std::runtime_error(name.message());
    X509_REQ_set_subject_name(csr.get(), name->get());
    X509_REQ_set_pubkey(csr.get(), const_cast<EVP_PKEY*>(&key));
    if (!challenge.empty())
        X509_REQ_add1_attr_by_NID(csr.get(), NID_pkcs9_challengePassword, V_ASN1_PRINTABLESTRING,
                                  reinterpret_cast<const unsigned char*>(challenge.c_str()),
                                  static_cast<int>(challenge.size()));
    if (!extensions.empty()) {
        x509_ext_stack_ptr exts(sk_X509_EXTENSION_new_null());
        for (const auto& [nid, der] : extensions) {
            asn1_octet_string_ptr value(ASN1_OCTET_STRING_new());
            ASN1_OCTET_STRING_set(value.get(), der.data(), static_cast<int>(der.size()));
            sk_X509_EXTENSION_push(exts.get(), X509_EXTENSION_create_by_NID(nullptr, nid, 0, value.get()));
        }
        X509_REQ_add_extensions(csr.get(), exts.get());
    }
    if (X509_REQ_sign(csr.get(), const_cast<EVP_PKEY*>(&key), md) <= 0)
        throw std::runtime_error(ossl_error("signing the test CSR"));
    return csr;
}

x509_req_ptr make_csr_with_rdns(const EVP_PKEY& key, const std::vector<std::pair<int, std::string>>& rdns,
                                const std::string& challenge) {
    x509_req_ptr csr(X509_REQ_new());
    X509_REQ_set_version(csr.get(), 0);
    X509_NAME* name = X509_REQ_get_subject_name(csr.get());
    for (const auto& [nid, value] : rdns)
        if (X509_NAME_add_entry_by_NID(name, nid, V_ASN1_UTF8STRING, reinterpret_cast<const unsigned char*>(value.data()),
                                       static_cast<int>(value.size()), -1, 0) != 1)
            throw std::runtime_error(ossl_error("adding a subject attribute"));
    X509_REQ_set_pubkey(csr.get(), const_cast<EVP_PKEY*>(&key));
    if (!challenge.empty())
        X509_REQ_add1_attr_by_NID(csr.get(), NID_pkcs9_challengePassword, V_ASN1_PRINTABLESTRING,
                                  reinterpret_cast<const unsigned char*>(challenge.c_str()),
                                  static_cast<int>(challenge.size()));
    if (X509_REQ_sign(csr.get(), const_cast<EVP_PKEY*>(&key), EVP_sha256()) <= 0)
        throw std::runtime_error(ossl_error("signing the test CSR"));
    return csr;
}

requester requester_with_rdns(const std::vector<std::pair<int, std::string>>& rdns, const std::string& challenge) {
    requester r;
    r.key = std::move(*generate_key(key_type::rsa2048));
    r.csr = make_csr_with_rdns(*r.key, rdns, challenge);
    auto signer = self_signed(*r.key, *X509_REQ_get_subject_name(r.csr.get()), std::chrono::system_clock::now());
    if (!signer) throw std::runtime_error(signer.message());
    r.signer = std::move(*signer);
    return r;
}

x509_req_ptr make_pss_csr(const EVP_PKEY& key, const std::string& cn, const EVP_MD* md, const EVP_MD* mgf1_md,
                          const std::string& challenge) {
    x509_req_ptr req(X509_REQ_new());
    X509_REQ_set_version(req.get(), 0);
    X509_NAME_add_entry_by_txt(X509_REQ_get_subject_name(req.get()), "CN", MBSTRING_ASC,
                               reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1, 0);
    X509_REQ_set_pubkey(req.get(), const_cast<EVP_PKEY*>(&key));
    if (!challenge.empty())
        X509_REQ_add1_attr_by_NID(req.get(), NID_pkcs9_challengePassword, V_ASN1_PRINTABLESTRING,
                                  reinterpret_cast<const unsigned char*>(challenge.c_str()),
                                  static_cast<int>(challenge.size()));
    evp_md_ctx_ptr ctx(EVP_MD_CTX_new());
    EVP_PKEY_CTX* pctx = nullptr;
    if (EVP_DigestSignInit(ctx.get(), &pctx, EVP_sha256(), nullptr, const_cast<EVP_PKEY*>(&key)) != 1 ||
        EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) != 1 ||
        EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, EVP_sha256()) != 1 || X509_REQ_sign_ctx(req.get(), ctx.get()) <= 0)
        throw std::runtime_error(ossl_error("signing the RSASSA-PSS test CSR"));
    if (md != EVP_sha256() || mgf1_md != EVP_sha256()) {
        rsa_pss_params_ptr params(RSA_PSS_PARAMS_new());
        params->hashAlgorithm = X509_ALGOR_new();
        X509_ALGOR_set_md(params->hashAlgorithm, md);
        x509_algor_ptr mgf_hash(X509_ALGOR_new());
        X509_ALGOR_set_md(mgf_hash.get(), mgf1_md);
        unsigned char* der = nullptr;
        const int len = i2d_X509_ALGOR(mgf_hash.get(), &der);
        ossl_buffer_ptr owned(der);
        asn1_string_ptr mgf_seq(ASN1_STRING_new());
        ASN1_STRING_set(mgf_seq.get(), der, len);
        params->maskGenAlgorithm = X509_ALGOR_new();
        X509_ALGOR_set0(params->maskGenAlgorithm, OBJ_nid2obj(NID_mgf1), V_ASN1_SEQUENCE, mgf_seq.release());
        unsigned char* pder = nullptr;
        const int plen = i2d_RSA_PSS_PARAMS(params.get(), &pder);
        ossl_buffer_ptr powned(pder);
        asn1_string_ptr seq(ASN1_STRING_new());
        ASN1_STRING_set(seq.get(), pder, plen);
        const X509_ALGOR* alg = nullptr;
        X509_REQ_get0_signature(req.get(), nullptr, &alg);
        X509_ALGOR_set0(const_cast<X509_ALGOR*>(alg), OBJ_nid2obj(NID_rsassaPss), V_ASN1_SEQUENCE, seq.release());
    }
    auto back = x509_req_from_der(x509_req_to_der(*req));  // as received
    if (!back) throw std::runtime_error(back.message());
    return std::move(*back);
}

std::vector<std::pair<int, bytes>> many_extensions(int count) {
    std::vector<std::pair<int, bytes>> out;
    for (int i = 0; i < count; ++i) {
        const std::string text = "x" + std::to_string(i);
        bytes ia5{0x16, static_cast<std::uint8_t>(text.size())};  // IA5String
        for (char ch : text) ia5.push_back(static_cast<std::uint8_t>(ch));
        out.emplace_back(NID_netscape_comment, std::move(ia5));
    }
    return out;
}

bytes general_names_der(const std::vector<std::pair<int, std::string>>& entries) {
    general_names_ptr names(GENERAL_NAMES_new());
    for (const auto& [type, raw] : entries) {
        GENERAL_NAME* gn = GENERAL_NAME_new();
        ASN1_STRING* s = type == GEN_IPADD ? ASN1_OCTET_STRING_new() : ASN1_IA5STRING_new();
        ASN1_STRING_set(s, raw.data(), static_cast<int>(raw.size()));
        GENERAL_NAME_set0_value(gn, type, s);
        sk_GENERAL_NAME_push(names.get(), gn);
    }
    return *der_encode(*names, i2d_GENERAL_NAMES, "GeneralNames");
}

raw_answer raw_http_exchange(const std::string& host, std::uint16_t port, const std::string& request,
                             std::chrono::seconds wait) {
    namespace asio = boost::asio;
    asio::io_context ioc;
    asio::ip::tcp::socket sock(ioc);
    sock.connect({asio::ip::make_address(host), port});
    asio::write(sock, asio::buffer(request));
    raw_answer out;
    std::array<char, 4096> buf;
    asio::steady_timer timer(ioc, wait);
    timer.async_wait([&](boost::system::error_code ec) {
        if (!ec) sock.cancel();
    });
    std::function<void(boost::system::error_code, std::size_t)> on_read = [&](boost::system::error_code ec,
                                                                              std::size_t n) {
        out.bytes.append(buf.data(), n);
        if (ec) {
            out.closed = ec == asio::error::eof || ec == asio::error::connection_reset;
            timer.cancel();
            return;
        }
        sock.async_read_some(asio::buffer(buf), on_read);
    };
    sock.async_read_some(asio::buffer(buf), on_read);
    ioc.run();
    return out;
}

requester requester_with_key(evp_pkey_ptr key, const std::string& subject, const std::string& challenge) {
    requester r;
    r.csr = make_csr(*key, subject, {}, challenge);
    auto name = parse_subject(subject);
    auto signer = self_signed(*key, **name, std::chrono::system_clock::now());
    if (!signer) throw std::runtime_error(signer.message());
    r.signer = std::move(*signer);
    r.key = std::move(key);
    return r;
}

std::vector<bytes> renewal_requests(const X509_REQ& csr, const X509& old_cert, const EVP_PKEY& old_key,
                                    const X509& recipient, int n) {
    std::vector<bytes> out;
    for (int i = 0; i < n; ++i) {
        pki_request_params p;
        p.type = message_type::renewal_req;
        p.transaction_id = make_transaction_id();
        p.sender_nonce = random_bytes(16);
        p.message_data = x509_req_to_der(csr);
        auto der = build_pki_request(p, old_cert, old_key, {&recipient});
        if (!der) throw std::runtime_error(der.message());
        out.push_back(std::move(*der));
    }
    return out;
}

bytes make_pkcs_req(const requester& r, const X509& recipient, const std::string& txid, const bytes& nonce,
                    content_cipher cipher, digest_alg digest, message_type type) {
    pki_request_params p;
    p.type = type;
    p.transaction_id = txid;
    p.sender_nonce = nonce;
    p.message_data = x509_req_to_der(*r.csr);
    p.cipher = cipher;
    p.digest = digest;
    auto msg = build_pki_request(p, *r.signer, *r.key, {&recipient});
    EXPECT_TRUE(msg) << msg.message();
    return msg ? *msg : bytes{};
}

lab_fixture::lab_fixture(int tiers) {
    load_providers();
    auto opened = hierarchy::open(small_spec(tiers), dir.path() / "pki", std::chrono::system_clock::now(),
                                  [](const std::string&) {});
    if (!opened) throw std::runtime_error(opened.message());
    pki.emplace(std::move(*opened));
}

service_lab::service_lab(service_config cfg) : service_lab(std::move(cfg), small_spec(2)) {}

service_lab::service_lab(service_config cfg, const hierarchy_spec& spec) {
    load_providers();
    auto h = hierarchy::open(spec, dir.path(), std::chrono::system_clock::now(), [](auto&) {});
    if (!h) throw std::runtime_error(h.message());
    pki.emplace(std::move(*h));
    iss.emplace(*pki, issuance_profile{}, csr_policy{}, system_clock_fn());
    service.emplace(*pki, *iss, *store, std::move(cfg));
}

enrollment enroll_through(service_lab& lab, const requester& dev, key_transport transport, content_cipher cipher) {
    pki_request_params p;
    p.transaction_id = make_transaction_id();
    p.sender_nonce = bytes(16, 7);
    p.message_data = x509_req_to_der(*dev.csr);
    p.cipher = cipher;
    p.transport = transport;
    auto der = build_pki_request(p, *dev.signer, *dev.key, {&lab.pki->ra_encryption_cert()});
    EXPECT_TRUE(der) << der.message();
    if (!der) return {};
    auto reply = lab.service->pki_operation(*der, "test");
    EXPECT_EQ(reply.http_status, 200) << reply.body;
    auto rep = parse_cert_rep(bytes(reply.body.begin(), reply.body.end()), lab.pki->ra_cert());
    EXPECT_TRUE(rep) << rep.message();
    if (!rep) return {};
    enrollment o{*rep, nullptr};
    if (rep->status == pki_status::success) {
        auto certs = decrypt_cert_rep(*rep, *dev.signer, *dev.key);
        EXPECT_TRUE(certs) << certs.message();
        if (certs && !certs->empty()) o.cert = std::move(certs->front());
    }
    return o;
}

template_slots ndes_template_slots(const std::string& extra, std::chrono::hours validity) {
    template_slots slots;
    slots.signature.name = slots.encryption.name = slots.general_purpose.name = "IPSECIntermediateOffline";
    issuance_profile other;
    other.name = extra;
    other.validity = validity;
    slots.others[extra] = other;
    return slots;
}

}  // namespace scep::test
