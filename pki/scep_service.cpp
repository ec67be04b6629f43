#include "pki/scep_service.hpp"

#include <openssl/crypto.h>

namespace scep {

namespace {
constexpr const char* pki_message_type = "application/x-pki-message";

std::string as_string(const bytes& b) { return std::string(b.begin(), b.end()); }
}  // namespace

bool constant_time_equal(std::string_view a, std::string_view b) {
    // Hash first so the comparison time does not depend on the lengths either.
    auto da = sha256(byte_view(reinterpret_cast<const std::uint8_t*>(a.data()), a.size()));
    auto db = sha256(byte_view(reinterpret_cast<const std::uint8_t*>(b.data()), b.size()));
    return CRYPTO_memcmp(da.data(), db.data(), da.size()) == 0;
}

scep_service::scep_service(const hierarchy& pki, const issuer& iss, cert_store& store, service_config cfg)
    : pki_(pki), issuer_(iss), store_(store), cfg_(std::move(cfg)) {}

service_reply scep_service::get_ca_caps() const {
    service_reply r;
    r.content_type = "text/plain";
    for (const auto& cap : cfg_.capabilities) r.body += cap + "\n";
    return r;
}

service_reply scep_service::get_ca_cert() const {
    // RFC 8894 §4.2.1: one CA certificate as DER; with an RA (or a chain) a
    // degenerate certs-only SignedData. The RA comes first, then the issuing
    // CA up to the root, so clients that take "the first certificate" as the
    // recipient (and those that select by keyUsage) both find the RA.
    std::vector<const X509*> certs;
    if (!pki_.ca_as_ra()) certs.push_back(&pki_.ra_cert());
    for (const X509* c : pki_.chain(cfg_.include_root_in_ca_chain)) certs.push_back(c);
    service_reply r;
    if (certs.size() == 1) {
        r.content_type = "application/x-x509-ca-cert";
        r.body = as_string(x509_to_der(*certs.front()));
    } else {
        r.content_type = "application/x-x509-ca-ra-cert";
        r.body = as_string(build_degenerate(certs));
    }
    return r;
}

service_reply scep_service::pki_operation(byte_view message, const std::string& requester) {
    auto decoded = decode_pki_request(message);
    if (!decoded) {
        service_reply r;
        r.http_status = 400;
        r.content_type = "text/plain";
        r.detail = "not a SCEP pkiMessage: " + decoded.message();
        r.body = r.detail + "\n";
        return r;
    }
    pki_request& req = *decoded;
    if (auto f = open_pki_request(req, pki_.ra_cert(), pki_.ra_key(), cfg_.ciphers))
        return failure(req, f->info, std::move(f->text));

    switch (static_cast<message_type>(req.type)) {
        case message_type::pkcs_req: return enroll(req, requester);
        case message_type::renewal_req:
        case message_type::cert_poll:
        case message_type::get_cert:
        case message_type::get_crl:
            return failure(req, fail_info::bad_request,
                           message_type_name(req.type) + " is not supported by this scep-lab version");
        default:
            return failure(req, fail_info::bad_request,
                           "unknown messageType " + std::to_string(req.type) + " (RFC 8894 §3.2.1.2)");
    }
}

service_reply scep_service::enroll(pki_request& req, const std::string& requester) {
    auto csr = x509_req_from_der(req.message_data);
    if (!csr) return failure(req, fail_info::bad_request, "messageData is not a PKCS#10 request");

    if (!cfg_.challenge.empty()) {
        auto challenge = csr_challenge(**csr);
        if (!challenge) return failure(req, fail_info::bad_message_check, "the CSR has no challengePassword");
        if (!constant_time_equal(challenge->value, cfg_.challenge))
            return failure(req, fail_info::bad_message_check, "wrong challenge password");
    }
    if (auto f = issuer_.check_csr(**csr)) return failure(req, f->info, std::move(f->text));

    const std::string key_hash = to_hex(public_key_sha256(*X509_REQ_get0_pubkey(csr->get())));
    // A retried request (same transactionID, same key) gets the certificate it
    // already has instead of a second one (RFC 8894 §3.3.1 retransmissions).
    auto resend = [&](const cert_record& existing) -> service_reply {
        if (existing.public_key_sha256 != key_hash)
            return failure(req, fail_info::bad_request,
                           "transactionID " + req.transaction_id + " was already used with a different public key");
        auto cert = x509_from_der(existing.der);
        if (!cert) return failure(req, fail_info::bad_request, "stored certificate is unreadable");
        auto r = success(req, **cert);
        r.detail = "retransmission: same certificate sent again";
        return r;
    };
    auto existing = store_.find_by_transaction(req.transaction_id);
    if (!existing) return failure(req, fail_info::bad_request, "store error: " + existing.message());
    if (*existing) return resend(**existing);

    auto cert = issuer_.issue(**csr);
    if (!cert) return failure(req, fail_info::bad_request, "issuance failed: " + cert.message());
    cert_record rec = make_record(**cert);
    rec.transaction_id = req.transaction_id;
    rec.requester = requester;
    auto inserted = store_.insert(rec);
    if (!inserted) return failure(req, fail_info::bad_request, "store error: " + inserted.message());
    if (*inserted == insert_outcome::duplicate_transaction) {
        // Lost a race with a concurrent retransmission of the same transaction.
        auto again = store_.find_by_transaction(req.transaction_id);
        if (again && *again) return resend(**again);
        return failure(req, fail_info::bad_request, "store error: transaction vanished");
    }
    return success(req, **cert);
}

service_reply scep_service::reply_from(const pki_request& req, const cert_rep_params& p) const {
    service_reply r;
    r.message_type = message_type_name(req.type);
    r.transaction_id = req.transaction_id;
    r.pki_status = std::string(to_string(p.status));
    if (p.failure) r.fail_info = std::string(to_string(*p.failure));
    r.detail = p.fail_info_text;
    auto der = build_cert_rep(p, pki_.ra_cert(), pki_.ra_key());
    if (!der) {
        r.http_status = 500;
        r.content_type = "text/plain";
        r.detail = "cannot build CertRep: " + der.message();
        r.body = r.detail + "\n";
        return r;
    }
    r.content_type = pki_message_type;
    r.body = as_string(*der);
    return r;
}

service_reply scep_service::failure(const pki_request& req, fail_info info, std::string text) const {
    cert_rep_params p;
    p.transaction_id = req.transaction_id;
    p.transaction_id_asn1_type = req.transaction_id_asn1_type;
    p.recipient_nonce = req.sender_nonce;
    p.status = pki_status::failure;
    p.failure = info;
    p.fail_info_text = std::move(text);
    // Mirror the request's digest when we can; a refused digest gets SHA-256.
    p.digest = req.digest.value_or(digest_alg::sha256);
    return reply_from(req, p);
}

service_reply scep_service::success(const pki_request& req, const X509& issued) const {
    cert_rep_params p;
    p.transaction_id = req.transaction_id;
    p.transaction_id_asn1_type = req.transaction_id_asn1_type;
    p.recipient_nonce = req.sender_nonce;
    p.status = pki_status::success;
    p.digest = req.digest.value_or(digest_alg::sha256);
    p.issued = &issued;
    p.recipient = req.signer_cert.get();
    // Reply with the algorithm the client chose: old clients (Cisco, Juniper,
    // micromdm 2.x) can only decrypt what they themselves sent.
    p.cipher = req.cipher.value_or(content_cipher::aes_128_cbc);
    auto r = reply_from(req, p);
    r.serial = serial_hex(issued);
    return r;
}

}  // namespace scep
