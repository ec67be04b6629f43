#include "pki/scep/service.hpp"

#include "pki/scep/fault_replies.hpp"

#include <openssl/crypto.h>
#include <openssl/err.h>

#include "pki/ca/crl.hpp"
#include "pki/crypto/encoding.hpp"

#include <algorithm>

namespace scep {

namespace {
constexpr const char* pki_message_type = "application/x-pki-message";

std::string as_string(const bytes& b) { return std::string(b.begin(), b.end()); }

// The signer's self-signature is checked once per request (a public-key
// operation) and the answer kept for the inspector.
bool signer_self_signed(pki_request& req) {
    if (!req.signer_self_signed) req.signer_self_signed = is_self_signed(*req.signer_cert);
    return *req.signer_self_signed;
}
failure_cause password_cause(challenge_refusal::kind k) {
    switch (k) {
        case challenge_refusal::kind::missing: return failure_cause::password_missing;
        case challenge_refusal::kind::used: return failure_cause::password_used;
        case challenge_refusal::kind::expired: return failure_cause::password_expired;
        // A webhook or policy module that does not answer: NDES cannot reach
        // what decides, as when the CA is down (docs/challenges.md).
        case challenge_refusal::kind::unavailable: return failure_cause::ca_unavailable;
        case challenge_refusal::kind::denied:
        case challenge_refusal::kind::wrong: break;
    }
    return failure_cause::password_wrong;
}
}  // namespace


scep_service::scep_service(const hierarchy& pki, const issuer& iss, cert_store& store, service_config cfg,
                           clock_fn clock, challenge_verifier* challenge)
    : store_(store),
      cfg_(std::move(cfg)),
      clock_(std::move(clock)),
      static_challenge_(cfg_.challenge),
      challenge_(challenge ? challenge : &static_challenge_) {
    // Patterns were validated with the configuration; a bad one here is a programming error.
    for (const auto& p : cfg_.approval.pending_subjects)
        if (auto compiled = pattern::compile(p)) pending_subjects_.push_back(std::move(*compiled));
        else throw std::invalid_argument("approval.pending_subjects: " + compiled.message());
    auto g = std::make_unique<generation>();
    g->pki = &pki;
    g->iss = &iss;
    g->ca_cert_reply = build_ca_cert_reply(pki);
    current_ = g.get();
    generations_.push_back(std::move(g));
}

scep_service::~scep_service() = default;

void scep_service::install_pki(std::unique_ptr<hierarchy> next) {
    auto g = std::make_unique<generation>();
    g->owned_pki = std::move(next);
    g->owned_issuer = std::make_unique<issuer>(*current().iss, *g->owned_pki);
    g->pki = g->owned_pki.get();
    g->iss = g->owned_issuer.get();
    g->ca_cert_reply = build_ca_cert_reply(*g->pki);
    std::lock_guard lock(generations_mu_);
    current_ = g.get();
    // Kept, not freed: requests that started before may still use it.
    generations_.push_back(std::move(g));
}

std::vector<std::string> scep_service::capabilities() const {
    std::vector<std::string> caps = cfg_.capabilities;
    // RFC 8894 §3.5.2: advertised while a next CA exists.
    if (pki().next_issuing() && std::find(caps.begin(), caps.end(), "GetNextCACert") == caps.end())
        caps.push_back("GetNextCACert");
    return caps;
}

service_reply scep_service::get_ca_caps() const {
    service_reply r;
    r.content_type = "text/plain";
    const char* end = cfg_.capabilities_line_end == service_config::line_end::crlf ? "\r\n" : "\n";
    for (const auto& cap : capabilities()) r.body += (r.body.empty() ? "" : end) + cap;
    if (!r.body.empty() && cfg_.capabilities_final_line_end) r.body += end;
    return r;
}

service_reply scep_service::get_next_ca_cert() const {
    const hierarchy& pki = *current().pki;
    service_reply r;
    const ca_entry* next = pki.next_issuing();
    if (!next) {
        r.http_status = 404;
        r.content_type = "text/plain";
        r.detail = "no next CA: run `scep-lab rollover` to prepare one";
        r.body = r.detail + "\n";
        return r;
    }
    // RFC 8894 §4.7.1: a SignedData, signed by the current CA key, whose
    // content is a certs-only degenerate with the new RA and CA certificates.
    std::vector<const X509*> certs;
    if (pki.next_ra_cert()) certs.push_back(pki.next_ra_cert());
    certs.push_back(next->cert.get());
    auto signed_der = sign_content(build_degenerate(certs), *pki.issuing().cert, *pki.issuing().key);
    if (!signed_der) {
        r.http_status = 500;
        r.content_type = "text/plain";
        r.detail = signed_der.message();
        r.body = r.detail + "\n";
        return r;
    }
    r.content_type = "application/x-x509-next-ca-cert";
    r.body = as_string(*signed_der);
    return r;
}

service_reply scep_service::get_ca_cert() const { return current().ca_cert_reply; }

service_reply scep_service::build_ca_cert_reply(const hierarchy& pki) const {
    // RFC 8894 §4.2.1: one CA certificate as DER; with an RA (or a chain) a
    // degenerate certs-only SignedData. By default the RA comes first, then
    // the issuing CA up to the root, so clients that take "the first
    // certificate" as the recipient (and those that select by keyUsage) both
    // find the RA; scep.ca_cert_order = "ca-first" reproduces NDES.
    std::vector<const X509*> chain = pki.chain(cfg_.include_root_in_ca_chain);
    if (cfg_.chain_issuing_only) chain.resize(1);
    std::vector<const X509*> ras = pki.ra_certs();
    std::vector<const X509*> certs;
    const auto& first = cfg_.ca_cert_order == service_config::order::ra_first ? ras : chain;
    const auto& second = cfg_.ca_cert_order == service_config::order::ra_first ? chain : ras;
    certs.insert(certs.end(), first.begin(), first.end());
    certs.insert(certs.end(), second.begin(), second.end());
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

service_reply scep_service::faulty_ca_cert(fault_kind kind) const {
    const hierarchy& pki = *current().pki;
    service_reply r;
    auto certs = faulty_ca_certs(kind, pki.ra_certs(), pki.chain(cfg_.include_root_in_ca_chain), clock_());
    if (!certs) {
        r.http_status = 500;
        r.content_type = "text/plain";
        r.detail = "cannot inject " + std::string(info(kind).name) + ": " + certs.message();
        r.body = r.detail + "\n";
        return r;
    }
    r.content_type = "application/x-x509-ca-ra-cert";
    r.body = as_string(build_degenerate(*certs));
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
    request_context req{{std::move(*decoded)}, &current()};
    req.requester = requester;
    auto reply = operate(req, requester);
    reply.inspection.opened = !req.message_data.empty();
    reply.inspection.p7 = std::move(req.p7);
    reply.inspection.csr = std::move(req.csr);
    reply.inspection.csr_verified = req.csr_verified;
    reply.inspection.signer_self_signed = req.signer_self_signed;
    reply.inspection.message_data = std::move(req.message_data);
    reply.inspection.findings = std::move(req.findings);
    reply.inspection.challenge = std::move(req.challenge_result);
    return reply;
}

service_reply scep_service::operate(request_context& req, const std::string& requester) {
    // Every signer the service trusts (self-signed first-enrollment signers,
    // renewal signers) passes the same key checks as a CSR key: with e = 1 a
    // signature "by" a public certificate can be made without its key.
    if (req.signer_cert)
        if (auto ok = check_key_structure(*X509_get_X509_PUBKEY(req.signer_cert.get()), req.iss().policy()); !ok)
            return failure(req, fail_info::bad_request, "signer certificate: " + ok.message(), failure_cause::signature);
    // With an NDES pair, clients encrypt to the keyEncipherment certificate.
    if (auto f = open_pki_request(req, req.pki().ra_encryption_cert(), req.pki().ra_encryption_key(), cfg_.ciphers))
        return failure(req, f->info, std::move(f->text), f->cause);
    // Every SUCCESS reply is encrypted to the signer's key (RFC 8894 §3.3.2):
    // key transport for RSA, key agreement (CMS KeyAgreeRecipientInfo, RFC
    // 5753) for EC, as NDES does. Anything else, or EC with
    // scep.ec_requesters = "refuse", is refused before anything is issued or
    // stored rather than issue a certificate nobody can receive.
    const EVP_PKEY& signer_key = *X509_get0_pubkey(req.signer_cert.get());
    if (!key_is_rsa(signer_key)) {
        if (!key_is_ec(signer_key))
            return failure(req, fail_info::bad_alg,
                           "the request is signed with a key that is neither RSA nor EC: the reply is encrypted to "
                           "the signer's key (RFC 8894 §3.3.2), which needs RSA key transport or EC key agreement",
                           failure_cause::algorithm);
        if (cfg_.ec_requesters == service_config::ec_mode::refuse)
            return failure(req, fail_info::bad_alg,
                           "the request is signed with an EC key and scep.ec_requesters = \"refuse\": the reply is "
                           "encrypted to the signer's key, which must then be RSA (RFC 8894 §3.2.2); the CSR itself "
                           "may hold an EC key",
                           failure_cause::algorithm);
    }
    if (cfg_.forced_failure)
        return failure(req, *cfg_.forced_failure,
                       "failure forced by quirks.fail_info = " + std::string(to_string(*cfg_.forced_failure)));

    switch (static_cast<message_type>(req.type)) {
        case message_type::pkcs_req:
            // A PKCSReq signed with a certificate we issued is a renewal
            // (RFC 8894 §3.3.1.2); a self-signed signer is a first enrollment.
            if (!signer_self_signed(req) && issuing_ca_of(req.pki(), *req.signer_cert))
                return renew(req, requester);
            return enroll(req, requester);
        case message_type::renewal_req: return renew(req, requester);
        case message_type::cert_poll: return poll(req, requester);
        case message_type::get_cert: return get_cert(req);
        case message_type::get_crl: return get_crl(req);
        default:
            return failure(req, fail_info::bad_request,
                           "unknown messageType " + std::to_string(req.type) + " (RFC 8894 §3.2.1.2)");
    }
}

service_reply scep_service::enroll(request_context& req, const std::string& requester) {
    auto parsed = x509_req_from_der(req.message_data);
    if (!parsed)
        return failure(req, fail_info::bad_request, "messageData is not a PKCS#10 request", failure_cause::csr_invalid);
    req.csr = std::move(*parsed);  // kept for the inspector, which then need not parse it again
    X509_REQ* csr = req.csr.get();
    if (auto refused = unbounded_subject(req, *csr)) return std::move(*refused);
    if (cfg_.require_signer_key_match &&
        public_key_sha256(*X509_get_X509_PUBKEY(req.signer_cert.get())) !=
            public_key_sha256(*X509_REQ_get_X509_PUBKEY(csr)))
        return failure(req, fail_info::bad_message_check,
                       "the self-signed signer certificate uses another key than the CSR (RFC 8894 §2.3: it SHOULD be "
                       "the same; scep.require_signer_key_match = true refuses it)",
                       failure_cause::signature);
    return admit(req, *csr, requester, "", true);
}

service_reply scep_service::renew(request_context& req, const std::string& requester) {
    const X509& signer = *req.signer_cert;
    if (signer_self_signed(req)) {
        req.findings.push_back("renewal.signer-unknown");
        return failure(req, fail_info::bad_message_check,
                       "a RenewalReq must be signed with the certificate being renewed, not a self-signed one "
                       "(RFC 8894 §3.3.1.2)",
                       failure_cause::renewal_unknown);
    }
    if (!issuing_ca_of(req.pki(), signer)) {
        req.findings.push_back("renewal.signer-unknown");
        return failure(req, fail_info::bad_message_check,
                       "the signer certificate \"" + name_to_string(*X509_get_subject_name(&signer)) +
                           "\" was not issued by this CA",
                       failure_cause::renewal_unknown);
    }
    const std::string old_serial = serial_hex(signer);
    auto row = store_.find_by_serial(old_serial);
    if (!row) return store_failure(req, row.err(), false);
    if (!*row) {
        req.findings.push_back("renewal.signer-unknown");
        return failure(req, fail_info::bad_cert_id, "certificate " + old_serial + " is not in the store",
                       failure_cause::renewal_unknown);
    }
    if ((*row)->status == "revoked") {
        req.findings.push_back("renewal.signer-revoked");
        return failure(req, fail_info::bad_cert_id,
                       "certificate " + old_serial + " was revoked at " + (*row)->revoked_at + "; enroll anew",
                       failure_cause::renewal_revoked);
    }
    auto now = clock_();
    auto not_after = asn1_time_point(*X509_get0_notAfter(&signer));
    if (not_after <= now) {
        req.findings.push_back("renewal.signer-expired");
        return failure(req, fail_info::bad_cert_id,
                       "certificate " + old_serial + " expired at " + (*row)->not_after + "; enroll anew",
                       failure_cause::renewal_expired);
    }

    auto parsed = x509_req_from_der(req.message_data);
    if (!parsed)
        return failure(req, fail_info::bad_request, "messageData is not a PKCS#10 request", failure_cause::csr_invalid);
    req.csr = std::move(*parsed);  // kept for the inspector, which then need not parse it again
    X509_REQ* csr = req.csr.get();
    if (auto refused = unbounded_subject(req, *csr)) return std::move(*refused);
    // A retransmission (or a poll by re-sending) of a renewal already taken
    // goes to admit(), which answers it from the store: none of the checks
    // below apply to it again, the challenge least of all (an NDES one-time
    // password was spent by the first attempt).
    const bool retransmission = is_known_renewal(req.transaction_id, old_serial);
    if (!retransmission) {
        if ((*row)->status == "superseded" && !cfg_.renewal.allow_repeat)
            return failure(req, fail_info::bad_cert_id,
                           "certificate " + old_serial + " was already renewed; renew its successor instead "
                           "(renewal.allow_repeat = true allows a second renewal)");
        if (!cfg_.renewal.allow_new_names) {
            auto requested = requested_sans(*csr, req.iss().policy().names);
            if (!requested) return failure(req, fail_info::bad_request, requested.message());
            auto added = names_not_in(*requested, certificate_sans(signer));
            if (!added.empty()) {
                std::string list;
                for (const auto& n : added) list += (list.empty() ? "" : ", ") + n;
                return failure(req, fail_info::bad_request,
                               "a renewal may carry only names the certificate being renewed has; new: " + list +
                                   " (renewal.allow_new_names = true allows them)");
            }
        }
    }
    std::optional<challenge_context> checked;  // the challenge went through verify: notify the outcome
    if (cfg_.renewal.require_challenge && !retransmission) {
        checked.emplace(challenge_for(req, *csr, requester));
        if (auto refused = verify_challenge(req, *checked,
                                            "renewal requires the challenge password (renewal.require_challenge): "))
            return notified(*checked, std::move(*refused));
    }
    if (cfg_.renewal.subject_must_match &&
        X509_NAME_cmp(X509_REQ_get_subject_name(csr), X509_get_subject_name(&signer)) != 0)
        return failure(req, fail_info::bad_request,
                       "the CSR subject \"" + name_to_string(*X509_REQ_get_subject_name(csr)) +
                           "\" differs from the certificate being renewed \"" + (*row)->subject +
                           "\" (renewal.subject_must_match)");
    if (!cfg_.renewal.allow_key_reuse &&
        to_hex(public_key_sha256(*X509_REQ_get_X509_PUBKEY(csr))) == (*row)->public_key_sha256)
        return failure(req, fail_info::bad_request, "renewal must use a new key (renewal.allow_key_reuse = false)");
    if (cfg_.renewal.window.count() > 0 && not_after - now > cfg_.renewal.window)
        return failure(req, fail_info::bad_request,
                       "certificate " + old_serial + " expires at " + (*row)->not_after +
                           "; renewal is accepted only in the last " +
                           std::to_string(cfg_.renewal.window.count() / 86400) + " days (renewal.window)");
    // micromdm scepclient and certmonger derive the transactionID from the key:
    // renewing with the same key reuses the ID of the certificate being
    // renewed. That is a new transaction, not a retransmission.
    if ((*row)->transaction_id == req.transaction_id)
        if (auto r = store_.release_transaction(req.transaction_id); !r)
            return store_failure(req, r.err(), true);
    auto reply = admit(req, *csr, requester, old_serial, false, checked ? checked->template_name : std::string());
    return checked ? notified(*checked, std::move(reply)) : reply;
}

std::optional<service_reply> scep_service::compromised_key(request_context& req, const std::string& key_hash) {
    if (req.iss().policy().allow_compromised_keys) return std::nullopt;
    auto compromised = store_.key_compromised(key_hash);
    if (!compromised) return store_failure(req, compromised.err(), false);
    if (!*compromised) return std::nullopt;
    return failure(req, fail_info::bad_request,
                   "a certificate for this public key was revoked for keyCompromise: the key gets no new certificate "
                   "(issuance.allow_compromised_keys = true allows it)",
                   failure_cause::csr_invalid);
}

std::optional<service_reply> scep_service::unbounded_subject(request_context& req, const X509_REQ& csr) {
    // Before any policy reads the subject (challenge bindings, webhooks,
    // approval patterns, fault rules): each attribute within RFC 5280's
    // upper bounds, the whole subject within a few KiB.
    if (auto ok = check_subject_name(*X509_REQ_get_subject_name(&csr), req.iss().policy().names); !ok)
        return failure(req, fail_info::bad_request, ok.message(), failure_cause::subject);
    return std::nullopt;
}

challenge_context scep_service::challenge_for(const request_context& req, const X509_REQ& csr,
                                              const std::string& requester) const {
    challenge_context ctx(csr_challenge(csr));
    ctx.csr = &csr;
    ctx.client = requester;
    ctx.transaction_id = req.transaction_id;
    ctx.message_type = message_type_name(req.type);
    ctx.signer = req.signer_cert.get();
    return ctx;
}

std::optional<service_reply> scep_service::verify_challenge(request_context& req, challenge_context& ctx,
                                                            const std::string& prefix) {
    auto refused = [&](challenge_refusal& why) {
        req.challenge_result = "refused";
        req.findings.push_back(ctx.challenge ? "challenge.wrong" : "challenge.missing");
        return failure(req, fail_info::bad_message_check, prefix + why.text, password_cause(why.why), why.hresult);
    };
    // NDES chose a template by key usage; a policy module may choose another
    // (GetTemplate) before it is asked to verify the request for it.
    if (cfg_.templates && ctx.csr) {
        ctx.template_name = profile_for(req.iss(), *ctx.csr).profile.name;
        if (auto why = challenge_->choose_template(ctx, ctx.template_name)) return refused(*why);
        if (!template_named(ctx.template_name))
            return failure(req, fail_info::bad_request,
                           "the policy module chose template \"" + ctx.template_name +
                               "\", which is not a template of this lab ([templates.NAME])",
                           failure_cause::template_mismatch);
    }
    if (auto why = challenge_->verify(ctx)) return refused(*why);
    req.challenge_result = "accepted";
    return std::nullopt;
}

service_reply scep_service::notified(const challenge_context& ctx, service_reply reply) {
    if (!challenge_->notifies()) return reply;
    challenge_outcome o;
    x509_ptr issued;
    if (reply.status == pki_status::success) {
        o.disposition = static_cast<int>(pki_status::success);
        if (auto row = store_.find_by_serial(reply.serial); row && *row)
            if (auto cert = x509_from_der((*row)->der)) issued = std::move(*cert);
        o.issued = issued.get();
    } else if (reply.status == pki_status::pending) {
        o.disposition = static_cast<int>(pki_status::pending);
    } else {
        o.disposition = static_cast<int>(pki_status::failure);
        o.last_hresult = reply.hresult.value_or(0x80004005);  // E_FAIL, unless the reply carried NDES's HRESULT
        o.text = reply.detail;
    }
    challenge_->notify(ctx, o);
    return reply;
}

bool scep_service::is_known_renewal(const std::string& transaction_id, const std::string& old_serial) const {
    auto issued = store_.find_by_transaction(transaction_id);
    if (issued && *issued && (*issued)->replaces_serial == old_serial) return true;
    auto held = store_.find_pending(transaction_id);
    return held && *held && (*held)->replaces_serial == old_serial;
}

service_reply scep_service::admit(request_context& req, const X509_REQ& csr, const std::string& requester,
                                  const std::string& replaces, bool check_challenge, const std::string& template_name) {
    const std::string key_hash = to_hex(public_key_sha256(*X509_REQ_get_X509_PUBKEY(const_cast<X509_REQ*>(&csr))));

    auto existing = store_.find_by_transaction(req.transaction_id);
    if (!existing) return store_failure(req, existing.err(), false);
    if (*existing) return resend(req, **existing, key_hash);
    auto held = store_.find_pending(req.transaction_id);
    if (!held) return store_failure(req, held.err(), false);
    if (*held) {
        // micromdm scepclient polls by re-sending its PKCSReq (RFC 8894 §3.3.3 allows either).
        if ((*held)->public_key_sha256 != key_hash) {
            req.findings.push_back("transaction-id.reused-key");
            return failure(req, fail_info::bad_request,
                           "transactionID " + req.transaction_id + " was already used with a different public key");
        }
        return continue_pending(req, **held, requester);
    }
    // A new transaction from here on: only now is a (possibly one-time)
    // password spent, so a retransmission never uses up an NDES password.
    if (check_challenge) {
        auto challenge = csr_challenge(csr);
        if (cfg_.reject_utf8_challenge && challenge && challenge->asn1_type == V_ASN1_UTF8STRING) {
            req.challenge_result = "refused";
            req.findings.push_back("challenge.not-printable");
            return failure(req, fail_info::bad_request,
                           "the challengePassword is encoded as UTF8String, which NDES refuses; encode it as "
                           "PrintableString (OpenSSL: string_mask = nombstr) or set ndes.reject_utf8_challenge = false",
                           failure_cause::password_encoding);
        }
        challenge_context ctx = challenge_for(req, csr, requester);
        if (auto refused = verify_challenge(req, ctx, "")) return notified(ctx, std::move(*refused));
        return notified(ctx, decide(req, csr, requester, replaces, key_hash, ctx.template_name));
    }
    return decide(req, csr, requester, replaces, key_hash, template_name);
}

service_reply scep_service::decide(request_context& req, const X509_REQ& csr, const std::string& requester,
                                   const std::string& replaces, const std::string& key_hash,
                                   const std::string& template_name) {
    if (auto ok = req.iss().check_csr(csr); !ok)
        return failure(req, fail_info::bad_request, ok.message(), failure_cause::csr_invalid);
    req.csr_verified = true;  // check_csr verified the CSR's signature (proof of possession)
    const chosen_profile chosen = profile_for(req.iss(), csr, template_name);
    if (chosen.slot && !cfg_.ca_templates.empty() &&
        std::find(cfg_.ca_templates.begin(), cfg_.ca_templates.end(), chosen.profile.name) == cfg_.ca_templates.end())
        return failure(req, fail_info::bad_request,
                       (!template_name.empty() && template_name != cfg_.templates->at(*chosen.slot).name
                            ? "the policy module's template " + chosen.profile.name
                            : "the " + std::string(to_string(*chosen.slot)) + " slot's template " + chosen.profile.name) +
                           " is not one the CA publishes (ndes.ca_templates)",
                       failure_cause::template_mismatch);
    if (auto ok = req.iss().check_subject(csr, chosen.profile); !ok)
        return failure(req, fail_info::bad_request, ok.message(), failure_cause::subject);
    if (auto refused = compromised_key(req, key_hash)) return std::move(*refused);
    if (auto why = wait_reason(csr)) {
        pending_record p;
        p.transaction_id = req.transaction_id;
        p.subject = name_to_string(*X509_REQ_get_subject_name(&csr));
        p.requester = requester;
        p.public_key_sha256 = key_hash;
        // The challenge was checked above; it is not kept (at rest, the
        // store holds no secret a client sent).
        auto kept = csr_without_challenge(csr);
        if (!kept) return failure(req, fail_info::bad_request, kept.message(), failure_cause::csr_invalid);
        p.csr = std::move(*kept);
        p.replaces_serial = replaces;
        p.reason = *why;
        if (auto r = store_.add_pending(p); !r) return store_failure(req, r.err(), true);
        return pending(req, *why);
    }
    return issue_and_store(req, csr, requester, replaces, template_name);
}

const issuance_profile* scep_service::template_named(const std::string& name) const {
    if (!cfg_.templates) return nullptr;
    for (template_slot slot : {template_slot::signature, template_slot::encryption, template_slot::general_purpose})
        if (cfg_.templates->at(slot).name == name) return &cfg_.templates->at(slot);
    auto it = cfg_.templates->others.find(name);
    return it == cfg_.templates->others.end() ? nullptr : &it->second;
}

scep_service::chosen_profile scep_service::profile_for(const issuer& iss, const X509_REQ& csr,
                                                      const std::string& template_name) const {
    if (!cfg_.templates) return {iss.profile(), std::nullopt};
    template_slot slot = select_template_slot(csr);
    if (!template_name.empty())
        if (const issuance_profile* named = template_named(template_name)) return {*named, slot};
    return {cfg_.templates->at(slot), slot};
}

std::optional<std::string> scep_service::wait_reason(const X509_REQ& csr) const {
    if (cfg_.approval.mode == approval_mode::manual) return "manual approval (approval.mode = \"manual\")";
    if (pending_subjects_.empty()) return std::nullopt;
    const std::string subject = subject_for_matching(*X509_REQ_get_subject_name(&csr));
    for (std::size_t i = 0; i < pending_subjects_.size(); ++i)
        if (pending_subjects_[i].search(subject))
            return "subject matches approval.pending_subjects \"" + cfg_.approval.pending_subjects[i] + "\"";
    return std::nullopt;
}

service_reply scep_service::continue_pending(request_context& req, const pending_record& held,
                                             const std::string& requester) {
    if (held.status == "pending") return pending(req, "waiting for approval: scep-lab approve " + held.transaction_id);
    if (held.status == "rejected")
        return failure(req, fail_info::bad_request,
                       "request rejected" + (held.reason.empty() ? std::string() : ": " + held.reason),
                       failure_cause::rejected);
    if (held.status == "issued") {
        auto row = store_.find_by_serial(held.issued_serial);
        if (row && *row) return resend(req, **row, (*row)->public_key_sha256);
        return failure(req, fail_info::bad_request, "issued certificate " + held.issued_serial + " is missing");
    }
    // approved: issue now, with the CSR that was held (its key may have been
    // reported compromised while it waited).
    auto csr = x509_req_from_der(held.csr);
    if (!csr) return failure(req, fail_info::bad_request, "the stored CSR is unreadable");
    if (auto refused = compromised_key(req, held.public_key_sha256)) return std::move(*refused);
    auto reply = issue_and_store(req, **csr, held.requester.empty() ? requester : held.requester,
                                 held.replaces_serial);
    if (!reply.serial.empty()) (void)store_.mark_pending_issued(held.transaction_id, reply.serial);
    return reply;
}

service_reply scep_service::issue_and_store(request_context& req, const X509_REQ& csr, const std::string& requester,
                                            const std::string& replaces, const std::string& template_name) {
    const chosen_profile chosen = profile_for(req.iss(), csr, template_name);
    auto cert = req.iss().issue(csr, chosen.profile);
    if (!cert) return failure(req, fail_info::bad_request, "issuance failed: " + cert.message());
    cert_record rec = make_record(**cert);
    rec.transaction_id = req.transaction_id;
    rec.requester = requester;
    rec.replaces_serial = replaces;
    // A renewal supersedes (or revokes) the certificate it renews in the same
    // store step as the insert: of two renewals released together, one wins.
    auto inserted = replaces.empty()
                        ? store_.insert(rec)
                        : store_.insert_renewal(rec, renewal_step{.serial = replaces,
                                                                  .revoke = cfg_.renewal.revoke_replaced,
                                                                  .when = clock_(),
                                                                  .allow_repeat = cfg_.renewal.allow_repeat});
    if (!inserted) return store_failure(req, inserted.err(), true);
    store_write_failed_ = false;
    if (*inserted == insert_outcome::already_renewed) {
        auto now_row = store_.find_by_serial(replaces);
        const std::string status = now_row && *now_row ? (*now_row)->status : std::string("gone");
        if (status == "revoked") {
            req.findings.push_back("renewal.signer-revoked");
            return failure(req, fail_info::bad_cert_id,
                           "certificate " + replaces + " was revoked while this renewal was decided; enroll anew",
                           failure_cause::renewal_revoked);
        }
        return failure(req, fail_info::bad_cert_id,
                       "certificate " + replaces + " was already renewed (by a renewal decided first); renew its "
                       "successor instead (renewal.allow_repeat = true allows a second renewal)");
    }
    if (*inserted == insert_outcome::duplicate_transaction) {
        // Lost a race with a concurrent retransmission of the same transaction.
        auto again = store_.find_by_transaction(req.transaction_id);
        if (again && *again) return resend(req, **again, rec.public_key_sha256);
        return store_failure(req, make_error("transaction " + req.transaction_id + " vanished after a duplicate insert"), false);
    }
    auto reply = success(req, **cert);
    if (chosen.slot)
        reply.detail = "template " + chosen.profile.name + " (" + std::string(to_string(*chosen.slot)) + " slot)";
    if (!replaces.empty()) reply.detail += (reply.detail.empty() ? "" : "; ") + std::string("renewal of ") + replaces;
    return reply;
}

service_reply scep_service::resend(request_context& req, const cert_record& existing, const std::string& key_hash) {
    // A retried request (same transactionID, same key) gets the certificate it
    // already has instead of a second one (RFC 8894 §3.3.1 retransmissions).
    if (existing.public_key_sha256 != key_hash) {
        req.findings.push_back("transaction-id.reused-key");
        return failure(req, fail_info::bad_request,
                       "transactionID " + req.transaction_id + " was already used with a different public key");
    }
    auto cert = x509_from_der(existing.der);
    if (!cert) return failure(req, fail_info::bad_request, "stored certificate is unreadable");
    auto r = success(req, **cert);
    // A CertPoll asks for what its transaction became (RFC 8894 §3.3.3); the
    // same PKCSReq or RenewalReq again is a retransmission (§3.3.1) — or a
    // poll by re-sending, which clients use after PENDING.
    r.detail = req.type == static_cast<int>(message_type::cert_poll)
                   ? "poll: the certificate issued for this transaction"
                   : "retransmission (or a poll by re-sending): the certificate already issued for this transaction";
    return r;
}

service_reply scep_service::poll(request_context& req, const std::string& requester) {
    // CertPoll (GetCertInitial) names the request by transactionID; its
    // IssuerAndSubject is informational (RFC 8894 §3.3.3).
    auto existing = store_.find_by_transaction(req.transaction_id);
    if (!existing) return store_failure(req, existing.err(), false);
    if (*existing) return resend(req, **existing, (*existing)->public_key_sha256);
    auto held = store_.find_pending(req.transaction_id);
    if (!held) return store_failure(req, held.err(), false);
    if (!*held) {
        req.findings.push_back("flow.poll-unknown");
        return failure(req, fail_info::bad_cert_id, "no request with transactionID " + req.transaction_id,
                       failure_cause::not_found);
    }
    return continue_pending(req, **held, requester);
}

const X509* scep_service::ra_named(const hierarchy& pki, const X509_NAME& issuer) const {
    if (!cfg_.ra_as_issuer) return nullptr;
    for (const X509* ra : pki.ra_certs())
        if (X509_NAME_cmp(X509_get_subject_name(ra), &issuer) == 0) return ra;
    return nullptr;
}

service_reply scep_service::get_cert(request_context& req) {
    auto ias = decode_issuer_and_serial(req.message_data);
    if (!ias) return failure(req, fail_info::bad_request, ias.message());
    auto row = store_.find_by_serial(ias->serial);
    if (!row) return store_failure(req, row.err(), false);
    const X509* ra = ra_named(req.pki(), *ias->issuer);
    // Named with the RA as issuer: the RA certificate itself by its serial,
    // else the certificate with that serial from the issuing CA.
    if (ra && serial_hex(*ra) == ias->serial) {
        auto reply = success(req, *ra);
        reply.detail = "the RA certificate (the request named the RA as issuer)";
        return reply;
    }
    const std::string issuer = ra ? name_to_string(*X509_get_subject_name(req.pki().issuing().cert.get()))
                                  : name_to_string(*ias->issuer);
    if (!*row || (*row)->issuer != issuer)
        return failure(req, fail_info::bad_cert_id,
                       "no certificate with serial " + ias->serial + " from \"" + name_to_string(*ias->issuer) + "\"",
                       failure_cause::not_found);
    auto cert = x509_from_der((*row)->der);
    if (!cert) return failure(req, fail_info::bad_request, "stored certificate is unreadable");
    auto reply = success(req, **cert);
    if (ra) reply.detail = "the request named the RA as issuer: answered for the issuing CA";
    return reply;
}

service_reply scep_service::get_crl(request_context& req) {
    auto ias = decode_issuer_and_serial(req.message_data);
    if (!ias) return failure(req, fail_info::bad_request, ias.message());
    // The CA named by the issuer; of several with that name, the one whose key
    // issued the serial (RFC 8894 §3.3.4).
    const ca_entry* ca = nullptr;
    auto row = store_.find_by_serial(ias->serial);
    for (const ca_entry* tier : req.pki().all_cas()) {
        if (!tier->key || X509_NAME_cmp(X509_get_subject_name(tier->cert.get()), ias->issuer.get()) != 0) continue;
        const ASN1_OCTET_STRING* ski = X509_get0_subject_key_id(tier->cert.get());
        if (!ca) ca = tier;
        if (row && *row && ski &&
            (*row)->authority_key_id ==
                to_hex(byte_view(ASN1_STRING_get0_data(ski), static_cast<std::size_t>(ASN1_STRING_length(ski)))))
            ca = tier;
    }
    const bool via_ra = !ca && ra_named(req.pki(), *ias->issuer);
    if (via_ra) ca = &req.pki().issuing();
    if (!ca)
        return failure(req, fail_info::bad_cert_id, "no CA named \"" + name_to_string(*ias->issuer) + "\" here",
                       failure_cause::not_found);
    auto crl = build_ca_crl(*ca, store_, clock_(), cfg_.crl_validity);
    if (!crl) return failure(req, fail_info::bad_request, crl.message());
    cert_rep_params p = reply_params(req, pki_status::success);
    p.crl = crl->get();
    auto reply = reply_from(req, p);
    reply.detail = "CRL of " + ca->name + (via_ra ? " (the request named the RA as issuer)" : "");
    return reply;
}

const ca_entry* scep_service::issuing_ca_of(const hierarchy& pki, const X509& cert) const {
    for (const ca_entry* ca : pki.all_cas()) {
        if (X509_check_issued(ca->cert.get(), const_cast<X509*>(&cert)) != X509_V_OK) continue;
        if (X509_verify(const_cast<X509*>(&cert), X509_get0_pubkey(ca->cert.get())) == 1) return ca;
    }
    ERR_clear_error();
    return nullptr;
}

result<bytes> scep_service::crl(const std::string& ca_name) const {
    for (const ca_entry* tier : pki().all_cas()) {
        if (tier->name != ca_name) continue;
        auto c = build_ca_crl(*tier, store_, clock_(), cfg_.crl_validity);
        if (!c) return c.err();
        return crl_to_der(**c);
    }
    return make_error("no CA named \"" + ca_name + "\"");
}

service_reply scep_service::pending(const request_context& req, std::string why) const {
    auto r = reply_from(req, reply_params(req, pki_status::pending));
    r.detail = std::move(why);
    return r;
}

service_reply scep_service::reply_from(const request_context& req, const cert_rep_params& p) const {
    service_reply r;
    r.type = static_cast<message_type>(req.type);
    r.transaction_id = req.transaction_id;
    r.status = p.status;
    r.failure = p.failure;
    r.detail = p.fail_info_text;
    cert_rep_params faulty;
    x509_ptr rebuilt;  // a certificate fault's certificate, alive until the reply is built
    const cert_rep_params* params = &p;
    if (faults_ && faults_->armed()) {
        const std::string subject = req.csr ? subject_for_matching(*X509_REQ_get_subject_name(req.csr.get())) : "";
        if (auto rule = faults_->take(fault_layer::certrep,
                                      {"PKIOperation", message_type_name(req.type), req.transaction_id, req.requester, subject})) {
            faulty = p;
            if (auto applied = apply_certrep_fault(*rule, faulty, rebuilt, req.pki().issuing(), req.pki().chain(true), clock_());
                !applied) {
                r.http_status = 500;
                r.content_type = "text/plain";
                r.detail = "cannot inject " + std::string(info(rule->kind).name) + ": " + applied.message();
                r.body = r.detail + "\n";
                return r;
            }
            params = &faulty;
            r.status = faulty.status;
            if (!faulty.failure) r.failure.reset();
            r.faults.push_back({rule->kind, rule->id});
        }
    }
    auto der = build_cert_rep(*params, req.pki().ra_cert(), req.pki().ra_key());
    if (der && params == &faulty) der = finish_certrep_fault(std::move(*der), faulty, req.pki().ra_key());
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

cert_rep_params scep_service::reply_params(const request_context& req, pki_status status) const {
    cert_rep_params p;
    p.transaction_id = req.transaction_id;
    p.transaction_id_asn1_type = req.transaction_id_asn1_type;
    p.recipient_nonce = req.sender_nonce;  // RFC 8894 §3.2.1.5
    p.status = status;
    p.digest = reply_digest(req);
    p.recipient = req.signer_cert.get();
    // Reply with the algorithm the client chose: old clients (Cisco, Juniper,
    // micromdm 2.x) can only decrypt what they themselves sent.
    p.cipher = req.cipher.value_or(content_cipher::aes_128_cbc);
    return p;
}

digest_alg scep_service::reply_digest(const request_context& req) const {
    // NDES signs its replies with SHA-1 (the captured reply; RHEL 9 clients
    // then fail to verify them, sscep#157) unless told to mirror the request.
    if (cfg_.reply_sha1) return digest_alg::sha1;
    return req.digest.value_or(digest_alg::sha256);
}

service_reply scep_service::store_failure(const request_context& req, const error& e, bool write) const {
    // The server's fault, not the client's: the client is told so without
    // internals (file paths, SQLite messages); the log line gets them.
    if (write) store_write_failed_ = true;
    auto r = failure(req, fail_info::bad_request,
                     write ? "the server could not store the certificate" : "the server could not read its store",
                     failure_cause::ca_unavailable);
    r.detail = "store error: " + e.message;
    return r;
}

result<void> scep_service::store_writable() const {
    if (!store_write_failed_) return {};
    if (auto probe = store_.probe_write(); !probe) return probe;
    store_write_failed_ = false;
    return {};
}

service_reply scep_service::failure(const request_context& req, fail_info info, std::string text, failure_cause cause,
                                     std::optional<std::uint32_t> hresult) const {
    cert_rep_params p = reply_params(req, pki_status::failure);
    p.failure = info;
    p.ndes_failure_shape = cfg_.ndes_replies;
    ndes_error ndes = ndes_error_for(cause, static_cast<int>(info));
    if (hresult) {  // a policy module's own HRESULT, reported as NDES reports it
        ndes.hresult = *hresult;
        ndes.symbol = "";
        ndes.message = "returned by the policy module";
    }
    if (cfg_.ndes_replies) p.hresult = hresult_decimal(ndes.hresult);
    p.fail_info_text = text;
    auto r = reply_from(req, p);
    r.detail = std::move(text);  // logged even when NDES does not send it
    if (cfg_.ndes_replies && r.status == pki_status::failure) {
        r.hresult = ndes.hresult;
        if (ndes.event_id != 0) r.ndes_event = {ndes.event_id, ndes_event_text(ndes)};
    }
    return r;
}

service_reply scep_service::success(const request_context& req, const X509& issued) const {
    cert_rep_params p = reply_params(req, pki_status::success);
    p.issued = &issued;
    if (cfg_.reply_includes_chain != service_config::reply_chain::none) {
        p.chain = req.pki().chain(true);  // issuing CA first, up to the root
        if (cfg_.reply_includes_chain == service_config::reply_chain::issuing) p.chain.resize(1);
    }
    auto r = reply_from(req, p);
    if (r.status == pki_status::success) r.serial = serial_hex(issued);  // not under a pending fault
    return r;
}

}  // namespace scep
