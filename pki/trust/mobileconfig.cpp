#include "pki/trust/mobileconfig.hpp"

#include <openssl/pkcs7.h>

#include <algorithm>
#include <cstdio>
#include <set>

#include "pki/crypto/encoding.hpp"

#include "pki/crypto/json_text.hpp"

namespace scep {

namespace fs = std::filesystem;

namespace {


// A tiny property-list writer: just the types profiles use.
class plist {
public:
    plist& key(std::string_view k) { return line("<key>" + markup_escape(k) + "</key>"); }
    plist& str(std::string_view v) { return line("<string>" + markup_escape(v) + "</string>"); }
    plist& integer(long long v) { return line("<integer>" + std::to_string(v) + "</integer>"); }
    plist& boolean(bool v) { return line(v ? "<true/>" : "<false/>"); }
    plist& data(const bytes& v) { return line("<data>" + base64_encode(v) + "</data>"); }
    plist& open(std::string_view tag) {
        line("<" + std::string(tag) + ">");
        ++depth_;
        return *this;
    }
    plist& close(std::string_view tag) {
        --depth_;
        return line("</" + std::string(tag) + ">");
    }
    plist& kv(std::string_view k, std::string_view v) { return key(k).str(v); }
    plist& kv(std::string_view k, long long v) { return key(k).integer(v); }
    const std::string& text() const { return out_; }

private:
    plist& line(const std::string& s) {
        out_.append(static_cast<std::size_t>(depth_), '\t');
        out_ += s;
        out_ += '\n';
        return *this;
    }
    std::string out_;
    int depth_ = 0;
};

std::string hex_fingerprint(const X509& cert) { return to_hex(sha256(x509_to_der(cert)), true); }

bool self_signed_cert(const X509& c) {
    return X509_check_issued(const_cast<X509*>(&c), const_cast<X509*>(&c)) == X509_V_OK;
}

struct ca_payload {
    std::string label;  // tier name, or "tls-ca-N"
    const X509* cert;
    std::string uuid;
};

}  // namespace

std::string stable_uuid(std::string_view seed) {
    bytes h = sha256(byte_view(reinterpret_cast<const std::uint8_t*>(seed.data()), seed.size()));
    h.resize(16);
    h[6] = static_cast<std::uint8_t>((h[6] & 0x0f) | 0x50);  // version 5 (name-based, RFC 4122 §4.3)
    h[8] = static_cast<std::uint8_t>((h[8] & 0x3f) | 0x80);  // RFC 4122 variant
    std::string hex = to_hex(h, true);
    return hex.substr(0, 8) + "-" + hex.substr(8, 4) + "-" + hex.substr(12, 4) + "-" + hex.substr(16, 4) + "-" +
           hex.substr(20);
}

result<std::vector<std::pair<std::string, std::string>>> subject_pairs(std::string_view subject) {
    auto name = parse_subject(subject);
    if (!name) return make_error("subject \"" + std::string(subject) + "\": " + name.message());
    std::vector<std::pair<std::string, std::string>> out;
    for (int i = 0; i < X509_NAME_entry_count(name->get()); ++i) {
        const X509_NAME_ENTRY* e = X509_NAME_get_entry(name->get(), i);
        int nid = OBJ_obj2nid(X509_NAME_ENTRY_get_object(e));
        char oid[80];
        OBJ_obj2txt(oid, sizeof oid, X509_NAME_ENTRY_get_object(e), 1);
        const char* sn = nid == NID_undef ? oid : OBJ_nid2sn(nid);
        unsigned char* utf8 = nullptr;
        int len = ASN1_STRING_to_UTF8(&utf8, X509_NAME_ENTRY_get_data(e));
        ossl_buffer_ptr owned(utf8);
        if (len < 0) return make_error("subject \"" + std::string(subject) + "\": unreadable value");
        out.emplace_back(sn, std::string(reinterpret_cast<char*>(utf8), static_cast<std::size_t>(len)));
    }
    if (out.empty()) return make_error("subject is empty");
    return out;
}

result<void> validate(const apple_profile_options& o, const hierarchy& pki) {
    // A profile is an XML property list: XML 1.0 has no place for control
    // characters, and bytes that are not UTF-8 make the document unreadable
    // (devices and plistlib refuse it whole). Said here, by name.
    std::vector<std::pair<std::string, const std::string*>> texts{
        {"the SCEP URL", &o.scep_url}, {"the challenge", &o.challenge},   {"the CA name", &o.ca_name},
        {"the subject", &o.subject},   {"the SSID", &o.wifi_ssid},        {"the profile identifier", &o.identifier},
        {"the display name", &o.display_name}};
    for (const auto& n : o.radius_names) texts.emplace_back("a RADIUS server name", &n);
    for (const auto& [what, text] : texts) {
        if (!is_valid_utf8(*text)) return make_error(what + " is not UTF-8 text");
        for (unsigned char c : *text)
            if (c < 0x20 || c == 0x7f) {
                char hex[8];
                std::snprintf(hex, sizeof hex, "0x%02X", c);
                return make_error(what + " holds a control character (" + hex + "): a profile is XML and cannot carry it");
            }
    }
    if (o.scep_url.rfind("http://", 0) != 0 && o.scep_url.rfind("https://", 0) != 0)
        return make_error("the SCEP URL must start with http:// or https://, not \"" + o.scep_url + "\"");
    if (auto s = subject_pairs(o.subject); !s) return s.err();
    if (o.key_size != 1024 && o.key_size != 2048 && o.key_size != 4096)
        return make_error("key size must be 1024, 2048 or 4096 (Apple's SCEP payload), not " + std::to_string(o.key_size));
    if (o.key_usage != 1 && o.key_usage != 4 && o.key_usage != 5)
        return make_error("key usage must be 1 (signing), 4 (encryption) or 5 (both)");
    if (o.retries < 0 || o.retries > 100 || o.retry_delay < 0 || o.retry_delay > 3600)
        return make_error("retries must be 0..100 and retry delay 0..3600 seconds");
    if (o.fingerprint_digest != "sha1" && o.fingerprint_digest != "sha256")
        return make_error("fingerprint digest must be sha1 or sha256, not \"" + o.fingerprint_digest + "\"");
    std::string known;
    bool fp_known = false;
    for (const auto& t : pki.tiers()) {
        known += (known.empty() ? "" : ", ") + t.name;
        fp_known = fp_known || t.name == o.fingerprint_ca;
    }
    if (!fp_known) return make_error("no CA named \"" + o.fingerprint_ca + "\" for CAFingerprint (known: " + known + ")");
    for (const auto& name : o.omit) {
        bool found = std::any_of(pki.tiers().begin(), pki.tiers().end(), [&](const ca_entry& t) { return t.name == name; });
        if (!found) return make_error("cannot omit \"" + name + "\": no such CA (known: " + known + ")");
    }
    if (!o.wifi_ssid.empty()) {
        if (o.wifi_ssid.size() > 32) return make_error("an SSID has at most 32 bytes");
        if (o.wifi_security != "WPA2" && o.wifi_security != "WPA3")
            return make_error("Wi-Fi security must be WPA2 or WPA3 (Enterprise), not \"" + o.wifi_security + "\"");
    }
    if (o.identifier.empty() || o.identifier.find_first_of(" /") != std::string::npos)
        return make_error("profile identifier must be non-empty, without spaces or slashes");
    return {};
}

result<std::string> build_apple_profile(const hierarchy& pki, const std::vector<const X509*>& tls_chain,
                                        const apple_profile_options& o) {
    if (auto ok = validate(o, pki); !ok) return ok.err();
    const std::string root_fp = hex_fingerprint(pki.root_cert());
    const std::string seed = o.identifier + "|" + root_fp + "|";

    // CA payloads: the lab's tiers (root first), minus omitted ones, then
    // CAs of the HTTPS chain that are not lab CAs.
    std::vector<ca_payload> cas;
    std::set<std::string> seen;
    for (const auto& t : pki.tiers()) {
        seen.insert(hex_fingerprint(*t.cert));
        if (std::find(o.omit.begin(), o.omit.end(), t.name) != o.omit.end()) continue;
        cas.push_back({t.name, t.cert.get(), stable_uuid(seed + "ca|" + hex_fingerprint(*t.cert))});
    }
    int extra = 0;
    for (std::size_t i = 1; i < tls_chain.size(); ++i) {
        auto fp = hex_fingerprint(*tls_chain[i]);
        if (!seen.insert(fp).second) continue;
        cas.push_back({"tls-ca-" + std::to_string(++extra), tls_chain[i], stable_uuid(seed + "ca|" + fp)});
    }

    const X509* fp_cert = nullptr;
    for (const auto& t : pki.tiers())
        if (t.name == o.fingerprint_ca) fp_cert = t.cert.get();
    const bytes fp_der = x509_to_der(*fp_cert);
    const bytes fingerprint = o.fingerprint_digest == "sha256" ? sha256(fp_der) : digest(EVP_sha1(), fp_der);
    const std::string fp_subject = name_to_string(*X509_get_subject_name(fp_cert));

    const std::string scep_uuid = stable_uuid(seed + "scep|" + o.scep_url + "|" + o.subject);
    const std::string wifi_uuid = stable_uuid(seed + "wifi|" + o.wifi_ssid);
    std::string variant = o.scep_url + "|" + o.subject + "|" + o.wifi_ssid;
    for (const auto& n : o.omit) variant += "|-" + n;
    const std::string profile_uuid = stable_uuid(seed + "profile|" + variant);

    plist p;
    std::string out = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
                      "<!DOCTYPE plist PUBLIC \"-//Apple//DTD PLIST 1.0//EN\" "
                      "\"http://www.apple.com/DTDs/PropertyList-1.0.dtd\">\n"
                      "<plist version=\"1.0\">\n";
    p.open("dict");
    p.key("PayloadContent").open("array");
    for (const auto& ca : cas) {
        const bool root = self_signed_cert(*ca.cert);
        const std::string subject = name_to_string(*X509_get_subject_name(ca.cert));
        p.open("dict");
        p.kv("PayloadType", root ? "com.apple.security.root" : "com.apple.security.pkcs1");
        p.kv("PayloadVersion", 1);
        p.kv("PayloadIdentifier", o.identifier + ".ca." + ca.label);
        p.kv("PayloadUUID", ca.uuid);
        p.kv("PayloadDisplayName", subject);
        p.kv("PayloadDescription", std::string(root ? "Root" : "Intermediate") + " CA " + subject +
                                       " (SHA-256 " + hex_fingerprint(*ca.cert) + ")");
        p.kv("PayloadCertificateFileName", ca.label + ".cer");
        p.key("PayloadContent").data(x509_to_der(*ca.cert));
        p.close("dict");
    }

    // SCEP (com.apple.security.scep).
    p.open("dict");
    p.kv("PayloadType", "com.apple.security.scep");
    p.kv("PayloadVersion", 1);
    p.kv("PayloadIdentifier", o.identifier + ".scep");
    p.kv("PayloadUUID", scep_uuid);
    p.kv("PayloadDisplayName", "SCEP enrollment (" + o.ca_name + ")");
    p.kv("PayloadDescription", "CAFingerprint: " + std::string(o.fingerprint_digest == "sha256" ? "SHA-256" : "SHA-1") +
                                   " of " + o.fingerprint_ca + " CA " + fp_subject);
    p.key("PayloadContent").open("dict");
    p.kv("URL", o.scep_url);
    p.kv("Name", o.ca_name);
    p.key("Subject").open("array");
    const auto pairs = subject_pairs(o.subject);  // checked by validate()
    for (const auto& [k, v] : pairs.value()) {
        p.open("array").open("array");
        p.str(k).str(v);
        p.close("array").close("array");
    }
    p.close("array");
    if (!o.challenge.empty()) p.kv("Challenge", o.challenge);
    p.kv("Keysize", o.key_size);
    p.kv("Key Type", "RSA");
    p.kv("Key Usage", o.key_usage);
    p.kv("Retries", o.retries);
    p.kv("RetryDelay", o.retry_delay);
    p.key("CAFingerprint").data(fingerprint);
    p.close("dict");
    p.close("dict");

    // Wi-Fi (com.apple.wifi.managed): EAP-TLS with the SCEP identity, the CA
    // payloads as trust anchors for the RADIUS certificate, and its names.
    if (!o.wifi_ssid.empty()) {
        p.open("dict");
        p.kv("PayloadType", "com.apple.wifi.managed");
        p.kv("PayloadVersion", 1);
        p.kv("PayloadIdentifier", o.identifier + ".wifi");
        p.kv("PayloadUUID", wifi_uuid);
        p.kv("PayloadDisplayName", "Wi-Fi " + o.wifi_ssid);
        p.kv("SSID_STR", o.wifi_ssid);
        p.key("HIDDEN_NETWORK").boolean(false);
        p.key("AutoJoin").boolean(true);
        p.kv("EncryptionType", o.wifi_security);
        p.kv("PayloadCertificateUUID", scep_uuid);
        p.key("EAPClientConfiguration").open("dict");
        p.key("AcceptEAPTypes").open("array").integer(13).close("array");  // 13 = EAP-TLS
        p.key("PayloadCertificateAnchorUUID").open("array");
        for (const auto& ca : cas) p.str(ca.uuid);
        p.close("array");
        if (!o.radius_names.empty()) {
            p.key("TLSTrustedServerNames").open("array");
            for (const auto& n : o.radius_names) p.str(n);
            p.close("array");
        }
        p.close("dict");
        p.close("dict");
    }
    p.close("array");

    std::string description = "Lab trust material and SCEP enrollment from scep-lab (root " + root_fp.substr(0, 16) + ")";
    if (!o.omit.empty()) {
        description += "; CA payloads left out on purpose:";
        for (const auto& n : o.omit) description += " " + n;
    }
    p.kv("PayloadType", "Configuration");
    p.kv("PayloadVersion", 1);
    p.kv("PayloadIdentifier", o.identifier);
    p.kv("PayloadUUID", profile_uuid);
    p.kv("PayloadDisplayName", o.display_name);
    p.kv("PayloadDescription", description);
    p.kv("PayloadOrganization", "scep-lab");
    p.key("PayloadRemovalDisallowed").boolean(false);
    p.close("dict");
    return out + p.text() + "</plist>\n";
}

result<bytes> sign_profile(std::string_view xml, const X509& signer, const EVP_PKEY& key,
                           const std::vector<const X509*>& chain) {
    bio_ptr in(BIO_new_mem_buf(xml.data(), static_cast<int>(xml.size())));
    x509_borrowed_stack_ptr certs(sk_X509_new_null());
    for (const X509* c : chain) sk_X509_push(certs.get(), const_cast<X509*>(c));
    pkcs7_ptr p7(PKCS7_sign(const_cast<X509*>(&signer), const_cast<EVP_PKEY*>(&key), certs.get(), in.get(),
                            PKCS7_BINARY | PKCS7_NOSMIMECAP));
    if (!p7) return make_error(ossl_error("signing the profile"));
    return der_encode<PKCS7>(*p7, i2d_PKCS7, "encoding the signed profile");
}

result<https_identity> ensure_profile_signer(const hierarchy& pki, const fs::path& dir, const std::string& passphrase,
                                             time_point now) {
    const fs::path crt = dir / "profile-signer.crt", key_file = dir / "profile-signer.key";
    const X509& issuing = *pki.issuing().cert;
    std::string reason;
    if (auto kept = load_kept_cert(pki, "profile-signing", crt, key_file, passphrase, now, reason))
        return https_identity{std::move(*kept), false, {}};
    if (!pki.issuing().key) return make_error("the issuing CA's key is not available: cannot issue a profile signer");
    auto key = generate_key(key_type::rsa2048);
    if (!key) return key.err();
    auto subject = parse_subject("CN=scep-lab Profile Signing,O=scep-lab");
    if (!subject) return subject.err();
    cert_request req;
    req.subject = subject->get();
    req.public_key = key->get();
    req.not_before = now - std::chrono::hours(1);
    req.not_after = std::min(now + std::chrono::hours(24 * 397), asn1_time_point(*X509_get0_notAfter(&issuing)));
    req.extensions = {{NID_basic_constraints, "critical,CA:FALSE"}, {NID_key_usage, "critical,digitalSignature"}};
    auto cert = sign_certificate(req, &issuing, *pki.issuing().key);
    if (!cert) return cert.err();
    if (auto w = write_file(key_file, private_key_to_pem(**key, passphrase), true); !w) return w.err();
    if (auto w = write_file(crt, x509_to_pem(**cert), false); !w) return w.err();
    return https_identity{server_cert{std::move(*key), std::move(*cert)}, true, reason};
}

}  // namespace scep
