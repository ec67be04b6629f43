// Challenges decided by somebody else's server (docs/challenges.md):
//   [challenge] mode = "webhook"      one POST per new enrollment, in this
//                                     project's JSON or step-ca's SCEPCHALLENGE
//                                     body, answered {"allow": ...};
//   [challenge] mode = "ndes-policy"  NDES's policy-module contract
//                                     (INDESPolicy: VerifyRequest, Notify, and
//                                     scep-lab's GetTemplate) as JSON calls.
// What goes out and what comes back is built and read here; the HTTP(S)
// transport is injected (pki/ has no network code), so it is tested without
// one.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <boost/json/object.hpp>

#include "pki/crypto/result.hpp"
#include "pki/challenge/challenge.hpp"

namespace scep {

// One POST: the body and the headers (signature, id, token, content type).
struct webhook_post {
    std::string call;  // "challenge", "VerifyRequest", "GetTemplate", "Notify", ... (for logs)
    std::string body;
    std::vector<std::pair<std::string, std::string>> headers;
};
struct webhook_response {
    int status = 0;
    std::string body;
};
// Sends a POST to the configured URL; an error is a transport failure
// (refused connection, TLS, timed out) and names it.
using webhook_transport = std::function<result<webhook_response>(const webhook_post&)>;
// Where the verifiers report what the log should say (a Notify the module
// refused, a failing Initialize); never the challenge.
using webhook_logger = std::function<void(const std::string&)>;

struct webhook_options {
    enum class format { scep_lab, step_ca } body = format::scep_lab;
    // HMAC-SHA256 key of the signature header. scep-lab format: the bytes as
    // written; step-ca format: base64, decoded as step-ca decodes its secret.
    std::string secret;
    std::string webhook_id;     // step-ca: X-Smallstep-Webhook-ID
    std::string bearer_token;   // Authorization: Bearer
    std::string provisioner = "scep-lab";  // step-ca: provisionerName
};

// "sha256=<hex HMAC-SHA256(key, body)>" (this project's X-Scep-Lab-Signature)
// and the bare hex form step-ca puts in X-Smallstep-Signature.
std::string webhook_hmac_hex(std::string_view key, std::string_view body);

// The JSON of a challenge call for ctx, in either format; an error when the
// CSR's names cannot be read (nothing is sent then).
result<webhook_post> challenge_call(const webhook_options& o, const challenge_context& ctx, time_point now);

struct webhook_verdict {
    bool allow = false;
    std::string reason;  // the server's, cleaned for failInfoText and the log
};
// Reads an answer: 2xx with a JSON object whose "allow" is a boolean
// ("reason", optional, a string). Anything else is an error naming it.
result<webhook_verdict> read_challenge_answer(const webhook_response& r);

// What leaves a remote server's text before it reaches a reply or a log line:
// control characters replaced, at most `max` bytes (docs/security.md).
std::string clean_remote_text(std::string_view text, std::size_t max = 200);

class webhook_challenges final : public challenge_verifier {
public:
    // Checks the options (a step-ca secret must be base64).
    static result<std::unique_ptr<webhook_challenges>> make(webhook_options o, webhook_transport send, clock_fn clock);
    std::optional<challenge_refusal> verify(const challenge_context& ctx) override;

private:
    webhook_challenges(webhook_options o, webhook_transport send, clock_fn clock)
        : opt_(std::move(o)), send_(std::move(send)), clock_(std::move(clock)) {}
    webhook_options opt_;
    webhook_transport send_;
    clock_fn clock_;
};

// NDES's X509SCEPDisposition (certpol.h).
enum class scep_disposition : int { success = 0, failure = 2, pending = 3 };
std::string_view disposition_name(scep_disposition d);  // "SCEPDispositionSuccess"

// "0x80070490", 2147943568 or -2147023728 (a JSON number or string) as an
// HRESULT; nullopt when it is none of these or is not a failure (high bit).
std::optional<std::uint32_t> parse_hresult(const std::string& text);

// [challenge] mode = "ndes-policy": NDES's policy-module calls over HTTP.
//   Initialize    at start;         Uninitialize at stop
//   GenerateChallenge  the NDES admin page's password
//   GetTemplate   (get_template)    {"template": "Name"} or {"hresult": ...}
//   VerifyRequest each new request  {"verified": bool} or {"hresult": ...}
//   Notify        (notify)          after the transaction is decided
class ndes_policy_module final : public challenge_verifier {
public:
    struct options {
        std::string secret;        // X-Scep-Lab-Signature key
        std::string bearer_token;
        bool get_template = false;
        bool notify = true;
    };
    ndes_policy_module(options o, webhook_transport send, clock_fn clock, webhook_logger log)
        : opt_(std::move(o)), send_(std::move(send)), clock_(std::move(clock)), log_(std::move(log)) {}

    std::optional<challenge_refusal> verify(const challenge_context& ctx) override;
    std::optional<challenge_refusal> choose_template(const challenge_context& ctx, std::string& name) override;
    bool notifies() const override { return opt_.notify; }
    void notify(const challenge_context& ctx, const challenge_outcome& outcome) override;

    // GenerateChallenge(template, params): the password the NDES admin page
    // shows, from the module ({"challenge": "..."} or {"hresult": ...}).
    result<std::string> generate_challenge(const std::string& template_name, const std::string& params);
    // Initialize/Uninitialize: an error names what the module answered.
    result<void> initialize();
    void uninitialize();

private:
    // One call: the method's arguments plus method, timestamp and the
    // signature. ask() also reads the answer: a JSON object, and its
    // "hresult" (a failure HRESULT) and reason if any.
    struct answer {
        boost::json::object body;
        std::optional<std::uint32_t> hresult;
        std::string reason;
    };
    result<webhook_response> call(const std::string& method, boost::json::object body);
    result<answer> ask(const std::string& method, boost::json::object body);
    options opt_;
    webhook_transport send_;
    clock_fn clock_;
    webhook_logger log_;
};

}  // namespace scep
