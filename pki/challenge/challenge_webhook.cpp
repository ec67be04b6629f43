#include "pki/challenge/challenge_webhook.hpp"

#include <algorithm>
#include <charconv>

#include <boost/json.hpp>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/x509.h>

#include "pki/ca/names.hpp"
#include "pki/crypto/encoding.hpp"
#include "pki/store/store.hpp"
#include "pki/crypto/json_text.hpp"

namespace scep {

namespace json = boost::json;

namespace {

std::string der_base64(const X509_REQ& csr) { return base64_encode(x509_req_to_der(csr)); }

std::string der_base64(const X509& cert) { return base64_encode(x509_to_der(cert)); }

std::string csr_pem(const X509_REQ& csr) {
    std::string b64 = der_base64(csr);
    std::string out = "-----BEGIN CERTIFICATE REQUEST-----\n";
    for (std::size_t i = 0; i < b64.size(); i += 64) out += b64.substr(i, 64) + "\n";
    return out + "-----END CERTIFICATE REQUEST-----\n";
}

std::string spki_base64(const X509_REQ& csr) {
    auto der = der_encode<X509_PUBKEY>(*X509_REQ_get_X509_PUBKEY(const_cast<X509_REQ*>(&csr)), i2d_X509_PUBKEY,
                                       "SubjectPublicKeyInfo");
    return der ? base64_encode(*der) : std::string();
}

// Go's crypto/x509 names, which step-ca's JSON uses.
std::string go_signature_algorithm(const X509_REQ& csr) {
    const X509_ALGOR* alg = nullptr;
    X509_REQ_get0_signature(&csr, nullptr, &alg);
    const ASN1_OBJECT* oid = nullptr;
    X509_ALGOR_get0(&oid, nullptr, nullptr, alg);
    switch (OBJ_obj2nid(oid)) {
        case NID_sha1WithRSAEncryption: return "SHA1-RSA";
        case NID_sha256WithRSAEncryption: return "SHA256-RSA";
        case NID_sha384WithRSAEncryption: return "SHA384-RSA";
        case NID_sha512WithRSAEncryption: return "SHA512-RSA";
        case NID_rsassaPss: return "SHA256-RSAPSS";
        case NID_ecdsa_with_SHA1: return "ECDSA-SHA1";
        case NID_ecdsa_with_SHA256: return "ECDSA-SHA256";
        case NID_ecdsa_with_SHA384: return "ECDSA-SHA384";
        case NID_ecdsa_with_SHA512: return "ECDSA-SHA512";
        case NID_ED25519: return "Ed25519";
        default: return "0";  // Go's UnknownSignatureAlgorithm
    }
}

struct csr_facts {
    std::string subject;
    std::vector<san_entry> sans;
    std::string key_type;  // "rsa", "ec", other
    int key_bits = 0;
};

result<csr_facts> read_csr(const X509_REQ& csr) {
    csr_facts f;
    f.subject = name_to_string(*X509_REQ_get_subject_name(&csr));
    // The names are parsed and checked (docs/security.md) before they are
    // sent anywhere; the issuance policy checks them again afterwards.
    auto sans = requested_sans(csr, name_limits{.allow_wildcards = true, .max_sans = 100});
    if (!sans) return make_error("the CSR's subjectAltName cannot be read: " + sans.message());
    f.sans = std::move(*sans);
    const EVP_PKEY* key = X509_REQ_get0_pubkey(const_cast<X509_REQ*>(&csr));
    if (!key) return make_error("the CSR has no readable public key");
    f.key_type = key_is_rsa(*key) ? "rsa" : key_is_ec(*key) ? "ec" : "other";
    f.key_bits = EVP_PKEY_get_bits(key);
    return f;
}

json::array names_of(const std::vector<san_entry>& sans, san_kind kind) {
    json::array a;
    for (const auto& e : sans)
        if (e.kind == kind) a.emplace_back(e.value);
    return a;
}

// step-ca's x509util.Subject: commonName and serialNumber are strings, the rest lists.
json::object step_subject(const X509_NAME& name) {
    json::object o;
    auto add = [&](int nid, const char* key, bool list) {
        int i = -1;
        while ((i = X509_NAME_get_index_by_NID(&name, nid, i)) >= 0) {
            const ASN1_STRING* v = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(&name, i));
            unsigned char* utf8 = nullptr;
            int n = ASN1_STRING_to_UTF8(&utf8, v);
            ossl_buffer_ptr owned(utf8);
            if (n < 0) continue;
            std::string text =
                clean_remote_text(std::string_view(reinterpret_cast<char*>(utf8), static_cast<std::size_t>(n)), 256);
            if (!list) {
                o[key] = text;
                continue;
            }
            if (!o.contains(key)) o[key] = json::array();
            o[key].as_array().emplace_back(text);
        }
    };
    add(NID_countryName, "country", true);
    add(NID_organizationName, "organization", true);
    add(NID_organizationalUnitName, "organizationalUnit", true);
    add(NID_localityName, "locality", true);
    add(NID_stateOrProvinceName, "province", true);
    add(NID_streetAddress, "streetAddress", true);
    add(NID_postalCode, "postalCode", true);
    add(NID_serialNumber, "serialNumber", false);
    add(NID_commonName, "commonName", false);
    return o;
}

std::string challenge_value(const challenge_context& ctx) { return ctx.challenge ? ctx.challenge->value : std::string(); }

void sign(webhook_post& p, std::string_view key, const char* header, bool prefixed) {
    if (key.empty()) return;
    std::string mac = webhook_hmac_hex(key, p.body);
    p.headers.emplace_back(header, prefixed ? "sha256=" + mac : mac);
}

std::string read_reason(const json::object& o) {
    for (const char* k : {"reason", "error", "message"})
        if (auto* v = o.if_contains(k); v && v->is_string()) return clean_remote_text(std::string(v->as_string()));
    return {};
}

result<json::object> answer_object(const webhook_response& r, const std::string& call) {
    if (r.status < 200 || r.status > 299) {
        std::string body = clean_remote_text(r.body, 120);
        return make_error(call + " answered HTTP " + std::to_string(r.status) + (body.empty() ? "" : ": " + body));
    }
    boost::system::error_code ec;
    json::value v = json::parse(r.body, ec);
    if (ec || !v.is_object())
        return make_error(call + "'s answer is not a JSON object (" + (ec ? ec.message() : "another JSON value") + ")");
    return std::move(v.as_object());
}

}  // namespace

std::string webhook_hmac_hex(std::string_view key, std::string_view body) {
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()), reinterpret_cast<const unsigned char*>(body.data()),
         body.size(), mac, &len);
    return to_hex(byte_view(mac, len));
}

std::string clean_remote_text(std::string_view text, std::size_t max) { return printable_text(text, max, ' '); }

result<webhook_post> challenge_call(const webhook_options& o, const challenge_context& ctx, time_point now) {
    if (!ctx.csr) return make_error("no CSR to send");
    auto facts = read_csr(*ctx.csr);
    if (!facts) return facts.err();
    webhook_post p;
    p.call = "challenge webhook";
    json::object body;
    if (o.body == webhook_options::format::step_ca) {
        // step-ca's webhook.RequestBody for a SCEPCHALLENGE webhook.
        json::object csr;
        csr["version"] = 0;
        csr["subject"] = step_subject(*X509_REQ_get_subject_name(ctx.csr));
        csr["dnsNames"] = names_of(facts->sans, san_kind::dns);
        csr["emailAddresses"] = names_of(facts->sans, san_kind::email);
        csr["ipAddresses"] = names_of(facts->sans, san_kind::ip);
        csr["uris"] = names_of(facts->sans, san_kind::uri);
        csr["signatureAlgorithm"] = go_signature_algorithm(*ctx.csr);
        csr["publicKeyAlgorithm"] = facts->key_type == "rsa" ? "RSA" : facts->key_type == "ec" ? "ECDSA" : "0";
        csr["publicKey"] = spki_base64(*ctx.csr);
        csr["raw"] = der_base64(*ctx.csr);
        body["timestamp"] = iso8601(now);
        body["provisionerName"] = o.provisioner;
        body["x509CertificateRequest"] = std::move(csr);
        body["scepChallenge"] = challenge_value(ctx);
        body["scepTransactionID"] = ctx.transaction_id;
        p.body = scep::json_text(body);
        p.headers.emplace_back("Content-Type", "application/json");
        auto key = base64_decode(o.secret);
        if (key) sign(p, std::string_view(reinterpret_cast<const char*>(key->data()), key->size()),
                      "X-Smallstep-Signature", false);
        if (!o.webhook_id.empty()) p.headers.emplace_back("X-Smallstep-Webhook-ID", o.webhook_id);
    } else {
        json::array sans;
        for (const auto& e : facts->sans) sans.emplace_back(to_string(e));
        body["scep_lab_webhook"] = 1;
        body["timestamp"] = iso8601(now);
        body["nonce"] = to_hex(random_bytes(16));  // two calls never sign the same body: replays can be refused
        body["challenge"] = challenge_value(ctx);
        body["transaction_id"] = ctx.transaction_id;
        body["message_type"] = ctx.message_type;
        body["csr"] = csr_pem(*ctx.csr);
        body["subject"] = facts->subject;
        body["sans"] = std::move(sans);
        body["key_type"] = facts->key_type;
        body["key_bits"] = facts->key_bits;
        body["client"] = ctx.client;
        p.body = scep::json_text(body);
        p.headers.emplace_back("Content-Type", "application/json");
        sign(p, o.secret, "X-Scep-Lab-Signature", true);
    }
    if (!o.bearer_token.empty()) p.headers.emplace_back("Authorization", "Bearer " + o.bearer_token);
    return p;
}

result<webhook_verdict> read_challenge_answer(const webhook_response& r) {
    auto o = answer_object(r, "the webhook");
    if (!o) return o.err();
    auto* allow = o->if_contains("allow");
    if (!allow || !allow->is_bool()) return make_error("the webhook's answer has no boolean \"allow\"");
    return webhook_verdict{allow->as_bool(), read_reason(*o)};
}

result<std::unique_ptr<webhook_challenges>> webhook_challenges::make(webhook_options o, webhook_transport send,
                                                                     clock_fn clock) {
    if (o.body == webhook_options::format::step_ca && !o.secret.empty()) {
        auto key = base64_decode(o.secret);
        if (!key || key->empty())
            return make_error("challenge.webhook_secret: the step-ca format's secret is base64 (as `step ca provisioner "
                              "webhook add` prints it)");
    }
    return std::unique_ptr<webhook_challenges>(new webhook_challenges(std::move(o), std::move(send), std::move(clock)));
}

std::optional<challenge_refusal> webhook_challenges::verify(const challenge_context& ctx) {
    using kind = challenge_refusal::kind;
    if (!ctx.challenge || ctx.challenge->value.empty())
        return challenge_refusal{kind::missing, "the request carries no challengePassword for the webhook to check", {}};
    auto post = challenge_call(opt_, ctx, clock_());
    if (!post) return challenge_refusal{kind::wrong, post.message(), {}};
    auto answer = send_(*post);
    if (!answer) return challenge_refusal{kind::unavailable, "challenge webhook failed: " + answer.message(), {}};
    auto verdict = read_challenge_answer(*answer);
    if (!verdict) return challenge_refusal{kind::unavailable, "challenge webhook failed: " + verdict.message(), {}};
    if (!verdict->allow)
        return challenge_refusal{kind::denied,
                                 "the challenge webhook denied the request" +
                                     (verdict->reason.empty() ? std::string() : ": " + verdict->reason),
                                 {}};
    return std::nullopt;
}

std::string_view disposition_name(scep_disposition d) {
    switch (d) {
        case scep_disposition::success: return "SCEPDispositionSuccess";
        case scep_disposition::failure: return "SCEPDispositionFailure";
        case scep_disposition::pending: return "SCEPDispositionPending";
    }
    return "SCEPDispositionUnknown";
}

std::optional<std::uint32_t> parse_hresult(const std::string& text) {
    std::string_view t = text;
    long long value = 0;
    const char* end = t.data() + t.size();
    std::from_chars_result r{};
    if (t.size() > 2 && t[0] == '0' && (t[1] == 'x' || t[1] == 'X')) {
        unsigned long long u = 0;
        r = std::from_chars(t.data() + 2, end, u, 16);
        if (r.ec != std::errc() || r.ptr != end || u > 0xffffffffULL) return std::nullopt;
        value = static_cast<long long>(u);
    } else {
        r = std::from_chars(t.data(), end, value, 10);
        if (r.ec != std::errc() || r.ptr != end || value < -2147483648LL || value > 0xffffffffLL) return std::nullopt;
    }
    auto hr = static_cast<std::uint32_t>(value);
    if ((hr & 0x80000000U) == 0) return std::nullopt;  // S_OK and other successes are not failures
    return hr;
}

namespace {
// {"hresult": "0x80070490"} or a number; an error when present but not a failure HRESULT.
result<std::optional<std::uint32_t>> read_hresult(const json::object& o, const std::string& method) {
    auto* v = o.if_contains("hresult");
    if (!v || v->is_null()) return std::optional<std::uint32_t>();
    std::string text;
    if (v->is_string())
        text = std::string(v->as_string());
    else if (v->is_int64())
        text = std::to_string(v->as_int64());
    else if (v->is_uint64())
        text = std::to_string(v->as_uint64());
    auto hr = parse_hresult(text);
    if (!hr)
        return make_error(method + "'s \"hresult\" is not a failure HRESULT (\"0x8xxxxxxx\" or its signed decimal): " +
                          clean_remote_text(scep::json_text(*v), 40));
    return std::optional<std::uint32_t>(*hr);
}
}  // namespace

result<webhook_response> ndes_policy_module::call(const std::string& method, json::object body) {
    body["scep_lab_policy"] = 1;
    body["method"] = method;
    body["timestamp"] = iso8601(clock_());
    body["nonce"] = to_hex(random_bytes(16));  // two calls never sign the same body: replays can be refused
    webhook_post p;
    p.call = method;
    p.body = scep::json_text(body);
    p.headers.emplace_back("Content-Type", "application/json");
    p.headers.emplace_back("X-Scep-Lab-Policy-Method", method);
    sign(p, opt_.secret, "X-Scep-Lab-Signature", true);
    if (!opt_.bearer_token.empty()) p.headers.emplace_back("Authorization", "Bearer " + opt_.bearer_token);
    return send_(p);
}

result<ndes_policy_module::answer> ndes_policy_module::ask(const std::string& method, json::object body) {
    auto r = call(method, std::move(body));
    if (!r) return make_error("policy module " + method + " failed: " + r.message());
    auto o = answer_object(*r, method);
    if (!o) return make_error("policy module: " + o.message());
    auto hr = read_hresult(*o, method);
    if (!hr) return make_error("policy module: " + hr.message());
    std::string why = read_reason(*o);
    return answer{std::move(*o), *hr, std::move(why)};
}

namespace {
std::string with_reason(std::string text, const std::string& why) { return why.empty() ? text : text + ": " + why; }
// What a method that answered an HRESULT is refused with.
challenge_refusal failed_with(const std::string& method, std::uint32_t hr, const std::string& why) {
    return challenge_refusal{challenge_refusal::kind::denied,
                             with_reason("policy module " + method + " failed with " + hresult_hex(hr), why), hr};
}
}  // namespace

std::optional<challenge_refusal> ndes_policy_module::choose_template(const challenge_context& ctx, std::string& name) {
    using kind = challenge_refusal::kind;
    if (!opt_.get_template) return std::nullopt;
    json::object body{{"challenge", challenge_value(ctx)},
                      {"transaction_id", ctx.transaction_id},
                      {"message_type", ctx.message_type},
                      {"template", name}};
    if (ctx.csr) body["subject"] = name_to_string(*X509_REQ_get_subject_name(ctx.csr));
    auto a = ask("GetTemplate", std::move(body));
    if (!a) return challenge_refusal{kind::unavailable, a.message()};
    if (a->hresult) return failed_with("GetTemplate", *a->hresult, a->reason);
    auto* t = a->body.if_contains("template");
    if (!t || t->is_null()) return std::nullopt;  // keep NDES's choice
    if (!t->is_string() || t->as_string().empty() || t->as_string().size() > 64)
        return challenge_refusal{kind::unavailable, "policy module: GetTemplate's \"template\" is not a template name"};
    name = clean_remote_text(std::string(t->as_string()), 64);
    return std::nullopt;
}

std::optional<challenge_refusal> ndes_policy_module::verify(const challenge_context& ctx) {
    using kind = challenge_refusal::kind;
    // VerifyRequest(pctbRequest, pctbSigningCertEncoded, pwszTemplate,
    // pwszTransactionId): the challenge travels inside the PKCS#10 request;
    // it is also given on its own for convenience.
    json::object body{{"request", ctx.csr ? der_base64(*ctx.csr) : std::string()},
                      {"signing_cert", ctx.signer && ctx.message_type == "RenewalReq"
                                           ? json::value(der_base64(*ctx.signer))
                                           : json::value(nullptr)},
                      {"template", ctx.template_name},
                      {"transaction_id", ctx.transaction_id},
                      {"challenge", challenge_value(ctx)},
                      {"message_type", ctx.message_type},
                      {"client", ctx.client}};
    auto a = ask("VerifyRequest", std::move(body));
    if (!a) return challenge_refusal{kind::unavailable, a.message()};
    if (a->hresult) return failed_with("VerifyRequest", *a->hresult, a->reason);
    auto* verified = a->body.if_contains("verified");
    if (!verified || !verified->is_bool())
        return challenge_refusal{kind::unavailable, "policy module: VerifyRequest's answer has no boolean \"verified\""};
    if (!verified->as_bool())
        return challenge_refusal{kind::wrong, with_reason("the policy module did not verify the request", a->reason)};
    return std::nullopt;
}

void ndes_policy_module::notify(const challenge_context& ctx, const challenge_outcome& outcome) {
    if (!opt_.notify) return;
    json::object body{
        {"challenge", challenge_value(ctx)},
        {"transaction_id", ctx.transaction_id},
        {"disposition", outcome.disposition},
        {"disposition_name", disposition_name(static_cast<scep_disposition>(outcome.disposition))},
        {"last_hresult", hresult_hex(outcome.last_hresult)},
        {"issued_cert", outcome.issued ? json::value(der_base64(*outcome.issued)) : json::value(nullptr)}};
    if (!outcome.text.empty()) body["text"] = outcome.text;
    auto r = call("Notify", std::move(body));  // its answer is not used, only reported when it fails
    if (!r) {
        if (log_) log_("policy module Notify for " + ctx.transaction_id + " failed: " + r.message());
    } else if ((r->status < 200 || r->status > 299) && log_) {
        log_("policy module Notify for " + ctx.transaction_id + " answered HTTP " + std::to_string(r->status));
    }
}

result<std::string> ndes_policy_module::generate_challenge(const std::string& template_name, const std::string& params) {
    auto a = ask("GenerateChallenge", json::object{{"template", template_name}, {"params", clean_remote_text(params, 512)}});
    if (!a) return a.err();
    if (a->hresult) return make_error(failed_with("GenerateChallenge", *a->hresult, a->reason).text);
    auto* c = a->body.if_contains("challenge");
    // It is shown on a page and typed into devices: printable ASCII, bounded.
    if (!c || !c->is_string() || c->as_string().empty() || c->as_string().size() > 255 ||
        std::any_of(c->as_string().begin(), c->as_string().end(), [](char ch) { return ch <= 0x20 || ch >= 0x7f; }))
        return make_error("policy module: GenerateChallenge's \"challenge\" is not 1-255 printable characters");
    return std::string(c->as_string());
}

result<void> ndes_policy_module::initialize() {
    auto a = ask("Initialize", json::object{});
    if (!a) return a.err();
    if (a->hresult) return make_error(failed_with("Initialize", *a->hresult, a->reason).text);
    return {};
}

void ndes_policy_module::uninitialize() {
    auto r = call("Uninitialize", json::object{});
    if (!r && log_) log_("policy module Uninitialize failed: " + r.message());
}

}  // namespace scep
