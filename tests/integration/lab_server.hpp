// The real binary with the project's SCEP client pointed at it: the
// integration tests' way to enroll.
#pragma once

#include <gtest/gtest.h>

#include <optional>

#include "integration/server_process.hpp"
#include "pki/scep/message.hpp"
#include "client/scep_client.hpp"
#include "support/test_support.hpp"

namespace scep {

using client::scep_client;

struct lab_server {
    test::temp_dir dir;
    test::server_process proc;
    std::optional<scep_client> client;
    std::vector<x509_ptr> ca_certs;
    const X509* recipient = nullptr;
    const X509* signer = nullptr;

    explicit lab_server(std::vector<std::string> args = {}) : proc(dir.path() / "data", std::move(args)) {}

    void start() {
        ASSERT_TRUE(proc.start()) << proc.log();
        auto url = client::parse_scep_url(proc.url());
        ASSERT_TRUE(url) << url.message();
        client.emplace(*url);
        auto certs = client->get_ca_cert();
        ASSERT_TRUE(certs) << certs.message();
        ca_certs = std::move(*certs);
        recipient = client::select_recipient(ca_certs);
        signer = client::select_signer(ca_certs);
        ASSERT_TRUE(recipient);
    }

    // Sends a PKCSReq and returns the parsed, signature-checked CertRep.
    cert_rep enroll(const test::requester& dev, content_cipher cipher, digest_alg digest, bool use_get,
                    const std::string& txid = make_transaction_id()) {
        bytes nonce = random_bytes(16);
        auto msg = test::make_pkcs_req(dev, *recipient, txid, nonce, cipher, digest);
        auto reply = client->pki_operation(msg, use_get);
        EXPECT_TRUE(reply) << reply.message();
        if (!reply) return {};
        EXPECT_EQ(reply->status, 200) << reply->body;
        EXPECT_EQ(reply->content_type, "application/x-pki-message");
        auto rep = parse_cert_rep(bytes(reply->body.begin(), reply->body.end()), *signer);
        EXPECT_TRUE(rep) << rep.message();
        if (!rep) return {};
        EXPECT_EQ(rep->transaction_id, txid);
        EXPECT_EQ(rep->recipient_nonce, nonce);
        return *rep;
    }

    bool chains_to_root(const X509& leaf) {
        x509_store_ptr store(X509_STORE_new());
        x509_stack_ptr untrusted(sk_X509_new_null());
        for (const auto& c : ca_certs) {
            if (X509_check_issued(c.get(), c.get()) == X509_V_OK)
                X509_STORE_add_cert(store.get(), c.get());
            else
                sk_X509_push(untrusted.get(), dup(*c).release());
        }
        x509_store_ctx_ptr ctx(X509_STORE_CTX_new());
        X509_STORE_CTX_init(ctx.get(), store.get(), const_cast<X509*>(&leaf), untrusted.get());
        return X509_verify_cert(ctx.get()) == 1;
    }
};

}  // namespace scep
