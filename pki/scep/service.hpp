// The SCEP operations as functions of a request to a reply, with no sockets
// (as Boost.Beast's handle_request and micromdm's service layer): the HTTP
// layer in server/ only parses transport details and writes the reply.
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "pki/challenge/challenge.hpp"
#include "pki/crypto/pattern.hpp"
#include "pki/scep/faults.hpp"
#include "pki/ca/hierarchy.hpp"
#include "pki/ca/issuer.hpp"
#include "pki/scep/message.hpp"
#include "pki/store/store.hpp"
#include "pki/crypto/x509_build.hpp"

namespace scep {

// Renewal: RenewalReq (17), or PKCSReq signed with a certificate this CA
// issued (RFC 8894 §3.3.1.2; sscep, certmonger, Cisco, jscep do the latter).
struct renewal_policy {
    bool require_challenge = false;     // off: the old certificate authenticates
    std::chrono::seconds window{0};     // 0 = any time; else only this close to expiry
    bool subject_must_match = true;
    bool allow_key_reuse = true;        // micromdm scepclient renews with the same key
    bool revoke_replaced = false;       // false: the old one is marked superseded
    // A certificate already renewed (superseded) may be renewed again: two
    // valid successors. Off: the second renewal gets badCertId.
    bool allow_repeat = false;
    // A renewal needs no challenge, so by default it may carry only names
    // (subjectAltName entries) the old certificate had.
    bool allow_new_names = false;
};

// Which requests wait for `scep-lab approve` (RFC 8894 §3.3.2 PENDING).
enum class approval_mode { automatic, manual /* every request waits */ };
struct approval_policy {
    approval_mode mode = approval_mode::automatic;
    std::vector<std::string> pending_subjects;  // RE2 patterns searched in the RFC 4514 subject
};

struct service_config {
    // RFC 8894 §3.5.2 keywords, answered one per line.
    std::vector<std::string> capabilities{"POSTPKIOperation", "Renewal", "SHA-1",        "SHA-256",
                                          "SHA-512",          "AES",     "DES3",         "SCEPStandard"};
    // How they are separated: RFC 8894 §3.5.2 says one per line without
    // naming the line end; servers differ (a clone copies one's).
    enum class line_end { lf, crlf } capabilities_line_end = line_end::lf;
    bool capabilities_final_line_end = true;
    bool include_root_in_ca_chain = true;
    std::string challenge;  // static challenge secret; empty = no challenge required
    cipher_policy ciphers;
    renewal_policy renewal;
    approval_policy approval;
    std::chrono::seconds crl_validity = std::chrono::hours(24);  // nextUpdate - thisUpdate
    // NDES mode: failure replies shaped as NDES sends them, and replies
    // signed with SHA-1 whatever the request used (reply_sha1).
    bool ndes_replies = false;
    bool reply_sha1 = false;
    // GetCACert order (RFC 8894 §4.2.1 leaves it open): RA certificates first,
    // then the issuing CA up to the root; or the CA chain first, then the RA
    // certificates, as NDES does (CertNanny #82: "Windows CA does not seem to
    // send the RA cert as first certificates"), which breaks clients that
    // encrypt to the first certificate.
    enum class order { ra_first, ca_first } ca_cert_order = order::ra_first;
    bool chain_issuing_only = false;  // quirks.chain = "issuing-only": no intermediates, no root
    // CA certificates a SUCCESS's degenerate carries after the issued one
    // (RFC 8894 §3.3.2 names only the issued certificate): Cisco VPN clients
    // want the chain there, Juniper refuses it (EJBCA documentation).
    enum class reply_chain { none, issuing, full } reply_includes_chain = reply_chain::none;
    // RFC 8894 §2.3: the self-signed signer of a first PKCSReq SHOULD use the
    // CSR's key. Off: another key is accepted (the CSR's own signature proves
    // possession); on: refused with badMessageCheck, for RFC-strict labs.
    bool require_signer_key_match = false;
    // GetCert and GetCRL whose IssuerAndSerialNumber names the RA certificate
    // (as clients that take the certificate they verify replies with as
    // "the CA" build it) are answered for the issuing CA; off: badCertId.
    bool ra_as_issuer = true;
    // A requester signing with an EC key: its SUCCESS is enveloped with a
    // KeyAgreeRecipientInfo (ECDH), as NDES answers EC requesters; `refuse`
    // answers badAlg before anything is issued (micromdm/scep's behaviour).
    enum class ec_mode { kari, refuse } ec_requesters = ec_mode::kari;
    // NDES refuses a challengePassword encoded as UTF8String (sscep #59, #83).
    bool reject_utf8_challenge = false;
    // quirks.fail_info: every PKIOperation is answered FAILURE with this.
    std::optional<fail_info> forced_failure;
    // NDES template slots; empty = every certificate from the issuer's profile.
    std::optional<template_slots> templates;
    // ndes.ca_templates: the templates the CA publishes; a slot naming another
    // one fails as NDES does (0x80094800, event 31). Empty = all of them.
    std::vector<std::string> ca_templates;
};


// What the server answers for one operation, and what it did (the outcome
// it derives from, typed; never secrets).
struct service_reply : scep_outcome {
    int http_status = 200;
    std::string content_type;
    std::string body;
    std::string detail;  // failInfoText or the 400 reason
    // NDES mode, FAILURE: the event NDES would write to its Application log
    // (docs/ndes.md); id 0 = none.
    struct event {
        int id = 0;
        std::string text;
    } ndes_event;
    // For the transaction inspector only (never logged or stored): the
    // decrypted messageData, which may hold the challenge, when the envelope
    // was opened; catalogue IDs the decisions raised; the challenge outcome.
    struct inspection_facts {
        bool opened = false;
        bytes message_data;
        std::vector<std::string> findings;
        std::string challenge;
        // What the service already decoded, so that the inspector need not
        // parse it again (parsing certificates is most of its cost).
        // Shared: a service_reply is copied (the GetCACert reply is built once).
        std::shared_ptr<PKCS7> p7;
        std::shared_ptr<X509_REQ> csr;
        bool csr_verified = false;
        std::optional<bool> signer_self_signed;
    } inspection;
};

class scep_service {
public:
    // `challenge` checks PKCSReq passwords; null = the static cfg.challenge.
    scep_service(const hierarchy& pki, const issuer& iss, cert_store& store, service_config cfg,
                 clock_fn clock = system_clock_fn(), challenge_verifier* challenge = nullptr);

    service_reply get_ca_caps() const;
    // What GetCACaps advertises, one capability each (RFC 8894 §3.5.2).
    std::vector<std::string> capabilities() const;
    service_reply get_ca_cert() const;
    service_reply get_next_ca_cert() const;
    service_reply pki_operation(byte_view message, const std::string& requester);

    // The current CRL of the named CA tier ("issuing", "root", ...), DER.
    result<bytes> crl(const std::string& ca_name) const;

    const service_config& config() const { return cfg_; }
    // GetCACert as a getcacert-* fault answers it (docs/faults.md).
    service_reply faulty_ca_cert(fault_kind kind) const;
    // Armed CertRep faults (docs/faults.md); null: none. Set before serving.
    void set_faults(fault_plan* plan) { faults_ = plan; }
    // Whether the store takes writes: fine until a write failed; after one,
    // a probe write decides (and clears the failure when it succeeds).
    // /readyz answers 503 while this fails.
    result<void> store_writable() const;
    // The PKI requests are answered with from now on (a request already
    // running keeps the one it started with).
    const hierarchy& pki() const { return *current().pki; }
    // Live CA rollover: from now on, requests are answered with `next` (the
    // issuer keeps its profile, policy, CRL URL and serial sequence). A request
    // already running finishes with the PKI it started with; replaced ones are
    // kept until the service is destroyed (a few kilobytes per rollover).
    void install_pki(std::unique_ptr<hierarchy> next);
    ~scep_service();
    cert_store& store() const { return store_; }

private:
    // One PKI generation: what requests are answered with until a rollover.
    struct generation {
        const hierarchy* pki = nullptr;
        const issuer* iss = nullptr;
        service_reply ca_cert_reply;  // GetCACert never changes within a generation: built once
        std::unique_ptr<hierarchy> owned_pki;
        std::unique_ptr<issuer> owned_issuer;
    };
    // One PKIOperation: the decoded request and the generation it started
    // with, passed down so that a request decrypted with one RA is answered
    // with the same RA and CA even when a rollover lands meanwhile.
    struct request_context : pki_request {
        const generation* gen = nullptr;
        const hierarchy& pki() const { return *gen->pki; }
        const issuer& iss() const { return *gen->iss; }
    };
    const generation& current() const { return *current_.load(); }

    service_reply operate(request_context& req, const std::string& requester);
    service_reply enroll(request_context& req, const std::string& requester);
    service_reply renew(request_context& req, const std::string& requester);
    service_reply poll(request_context& req, const std::string& requester);
    service_reply get_cert(request_context& req);
    service_reply get_crl(request_context& req);
    // Shared tail of enroll and renew: retransmission, challenge (enroll only),
    // CSR policy, approval, issuance.
    // template_name: a policy module's choice made before (a renewal's check).
    service_reply admit(request_context& req, const X509_REQ& csr, const std::string& requester,
                        const std::string& replaces, bool check_challenge = false,
                        const std::string& template_name = "");
    service_reply continue_pending(request_context& req, const pending_record& pending, const std::string& requester);
    // After the retransmission and challenge checks: CSR policy, template,
    // approval, issuance. template_name: a policy module's choice (GetTemplate).
    service_reply decide(request_context& req, const X509_REQ& csr, const std::string& requester,
                         const std::string& replaces, const std::string& key_hash, const std::string& template_name);
    service_reply issue_and_store(request_context& req, const X509_REQ& csr, const std::string& requester,
                                  const std::string& replaces, const std::string& template_name = "");
    // The challenge check shared by enroll and renew: what the verifier sees,
    // the check itself (GetTemplate first, for a policy module), and the
    // Notify of the outcome once the transaction is decided.
    std::optional<service_reply> unbounded_subject(request_context& req, const X509_REQ& csr);
    std::optional<service_reply> compromised_key(request_context& req, const std::string& key_hash);
    challenge_context challenge_for(const request_context& req, const X509_REQ& csr, const std::string& requester) const;
    std::optional<service_reply> verify_challenge(request_context& req, challenge_context& ctx, const std::string& prefix);
    service_reply notified(const challenge_context& ctx, service_reply reply);
    service_reply resend(request_context& req, const cert_record& existing, const std::string& key_hash);
    std::optional<std::string> wait_reason(const X509_REQ& csr) const;
    // The profile a CSR is issued with and, with NDES templates, its slot.
    struct chosen_profile {
        const issuance_profile& profile;
        std::optional<template_slot> slot;
    };
    chosen_profile profile_for(const issuer& iss, const X509_REQ& csr, const std::string& template_name = "") const;
    // A template by name: a slot's, or any other [templates.NAME] (GetTemplate).
    const issuance_profile* template_named(const std::string& name) const;
    const ca_entry* issuing_ca_of(const hierarchy& pki, const X509& cert) const;
    // The RA certificate whose subject is `issuer` (scep.ra_as_issuer), if any.
    const X509* ra_named(const hierarchy& pki, const X509_NAME& issuer) const;

    service_reply failure(const request_context& req, fail_info info, std::string text,
                          failure_cause cause = failure_cause::unspecified,
                          std::optional<std::uint32_t> hresult = std::nullopt) const;
    service_reply store_failure(const request_context& req, const error& e, bool write) const;
    // The transaction is a renewal of `old_serial` already issued or held.
    bool is_known_renewal(const std::string& transaction_id, const std::string& old_serial) const;
    service_reply success(const request_context& req, const X509& issued) const;
    service_reply pending(const request_context& req, std::string why) const;
    service_reply reply_from(const request_context& req, const cert_rep_params& p) const;
    digest_alg reply_digest(const request_context& req) const;
    // transactionID, recipientNonce, digest, recipient and cipher from the request.
    cert_rep_params reply_params(const request_context& req, pki_status status) const;

    service_reply build_ca_cert_reply(const hierarchy& pki) const;

    std::atomic<const generation*> current_{nullptr};
    std::mutex generations_mu_;
    std::vector<std::unique_ptr<generation>> generations_;
    cert_store& store_;
    service_config cfg_;
    clock_fn clock_;
    std::vector<pattern> pending_subjects_;
    static_challenge static_challenge_;
    challenge_verifier* challenge_;
    fault_plan* faults_ = nullptr;
    mutable std::atomic<bool> store_write_failed_{false};
};

}  // namespace scep
