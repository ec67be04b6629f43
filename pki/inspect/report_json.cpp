// Reports as JSON: what the pages, the admin API and `scep-lab inspect` show.
#include "pki/inspect/analysis.hpp"

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>

namespace scep::inspect {

namespace {
boost::json::array strings(const std::vector<std::string>& v) {
    boost::json::array a;
    for (const auto& s : v) a.emplace_back(s);
    return a;
}
}  // namespace

boost::json::value to_json(const std::vector<finding>& found) {
    boost::json::array a;
    for (const auto& f : found) {
        const finding_def* def = find_finding(f.id);
        boost::json::object o;
        o["id"] = f.id;
        o["severity"] = std::string(to_string(severity_of(f)));
        o["summary"] = def ? std::string(def->summary) : "";
        o["reference"] = def ? std::string(def->reference) : "";
        if (!f.detail.empty()) o["detail"] = f.detail;
        a.push_back(std::move(o));
    }
    return a;
}

boost::json::value to_json(const request_report& r) {
    boost::json::object o;
    o["size"] = r.size;
    o["decoded"] = r.decoded;
    if (!r.error.empty()) o["error"] = r.error;
    if (!r.decoded) return o;
    if (r.message_type) o["message_type"] = *r.message_type;
    o["message_type_name"] = r.message_type_name;
    o["transaction_id"] = r.transaction_id;
    o["transaction_id_type"] = r.transaction_id_type;
    o["sender_nonce"] = r.sender_nonce;
    o["sender_nonce_length"] = r.sender_nonce_length;
    o["signer"] = {{"kind", r.signer.kind},     {"subject", r.signer.subject}, {"issuer", r.signer.issuer},
                   {"serial", r.signer.serial}, {"key", r.signer.key},         {"not_after", r.signer.not_after}};
    o["digest"] = r.digest;
    o["signature_algorithm"] = r.signature_algorithm;
    if (r.signature_valid) o["signature_valid"] = *r.signature_valid;
    o["signed_attributes"] = strings(r.signed_attributes);
    o["attributes_der_sorted"] = r.attributes_der_sorted;
    o["content_cipher"] = r.content_cipher;
    o["key_transport"] = r.key_transport;
    o["encrypted_to"] = r.encrypted_to;
    o["opened"] = r.opened;
    if (r.csr) {
        o["csr"] = {{"subject", r.csr->subject},
                    {"sans", strings(r.csr->sans)},
                    {"key", r.csr->key},
                    {"extensions", strings(r.csr->extensions)},
                    {"signature_algorithm", r.csr->signature_algorithm},
                    {"signature_valid", r.csr->signature_valid},
                    {"challenge", r.csr->challenge}};
    }
    if (!r.message_data.empty()) o["message_data"] = r.message_data;
    return o;
}

boost::json::value to_json(const reply_report& r) {
    boost::json::object o;
    o["size"] = r.size;
    o["kind"] = r.kind;
    o["content_type"] = r.content_type;
    auto put = [&](const char* k, const std::string& v) {
        if (!v.empty()) o[k] = v;
    };
    put("pki_status", r.pki_status);
    put("fail_info", r.fail_info);
    put("fail_info_text", r.fail_info_text);
    put("transaction_id", r.transaction_id);
    put("recipient_nonce", r.recipient_nonce);
    put("sender_nonce", r.sender_nonce);
    put("digest", r.digest);
    put("signature_algorithm", r.signature_algorithm);
    put("signer", r.signer);
    put("content_cipher", r.content_cipher);
    put("error", r.error);
    if (!r.certificates.empty()) o["certificates"] = strings(r.certificates);
    if (!r.capabilities.empty()) o["lines"] = strings(r.capabilities);
    return o;
}

}  // namespace scep::inspect
