#include "pki/ca/server_certs.hpp"

#include "pki/crypto/encoding.hpp"

#include <arpa/inet.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <cctype>

namespace scep {

namespace fs = std::filesystem;

namespace {

// The raw bytes of an IPv4 or IPv6 address literal; nullopt for anything else.
std::optional<bytes> ip_bytes(const std::string& text) {
    unsigned char buf[16];
    if (::inet_pton(AF_INET, text.c_str(), buf) == 1) return bytes(buf, buf + 4);
    if (::inet_pton(AF_INET6, text.c_str(), buf) == 1) return bytes(buf, buf + 16);
    return std::nullopt;
}

// RFC 1035 host name (with "*." allowed in front, for wildcard lab names).
bool is_dns_name(std::string_view name) {
    if (name.rfind("*.", 0) == 0) name.remove_prefix(2);
    if (name.empty() || name.size() > 253 || name.back() == '.') return false;
    std::size_t label = 0;
    for (std::size_t i = 0; i < name.size(); ++i) {
        char c = name[i];
        if (c == '.') {
            if (label == 0 || name[i - 1] == '-') return false;
            label = 0;
            continue;
        }
        if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_') return false;
        if (c == '-' && label == 0) return false;
        if (++label > 63) return false;
    }
    return true;
}

std::string pem_of(const std::vector<const X509*>& certs) {
    std::string out;
    for (const X509* c : certs) out += x509_to_pem(*c);
    return out;
}

}  // namespace

std::optional<server_profile> server_profile_from_name(std::string_view name) {
    if (name == "tls-server") return server_profile::tls_server;
    if (name == "radius-server") return server_profile::radius_server;
    return std::nullopt;
}

std::string_view to_string(server_profile p) {
    return p == server_profile::radius_server ? "radius-server" : "tls-server";
}

std::vector<std::string> wanted_san_entries(const std::vector<std::string>& names) {
    std::vector<std::string> out;
    for (const auto& n : names) {
        if (auto ip = ip_bytes(n))
            out.push_back("IP:" + to_hex(*ip));
        else
            out.push_back("DNS:" + ascii_lower(n));
    }
    std::sort(out.begin(), out.end());
    out.erase(std::unique(out.begin(), out.end()), out.end());
    return out;
}

std::vector<std::string> san_entries(const X509& cert) {
    std::vector<std::string> out;
    general_names_ptr names(
        static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(&cert, NID_subject_alt_name, nullptr, nullptr)));
    if (!names) return out;
    for (int i = 0; i < sk_GENERAL_NAME_num(names.get()); ++i) {
        const GENERAL_NAME* gn = sk_GENERAL_NAME_value(names.get(), i);
        const ASN1_STRING* s = gn->type == GEN_DNS ? gn->d.dNSName : gn->type == GEN_IPADD ? gn->d.iPAddress : nullptr;
        if (!s) continue;
        std::string raw(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
                        static_cast<std::size_t>(ASN1_STRING_length(s)));
        if (gn->type == GEN_DNS)
            out.push_back("DNS:" + ascii_lower(raw));
        else
            out.push_back("IP:" + to_hex(bytes(raw.begin(), raw.end())));
    }
    std::sort(out.begin(), out.end());
    out.erase(std::unique(out.begin(), out.end()), out.end());
    return out;
}

result<server_cert> issue_server_cert(const hierarchy& pki, const server_cert_spec& spec, time_point now) {
    if (spec.names.empty()) return make_error("a server certificate needs at least one DNS name or IP address");
    std::string san, first_dns;
    for (const auto& n : spec.names) {
        if (ip_bytes(n)) {
            san += (san.empty() ? "IP:" : ",IP:") + n;
        } else if (is_dns_name(n)) {
            san += (san.empty() ? "DNS:" : ",DNS:") + ascii_lower(n);
            if (first_dns.empty()) first_dns = ascii_lower(n);
        } else {
            return make_error("\"" + n + "\" is neither a DNS name nor an IP address");
        }
    }
    const ca_entry& ca = pki.issuing();
    if (!ca.key) return make_error("the issuing CA's key is not available: cannot issue a server certificate");

    std::string cn = !spec.common_name.empty() ? spec.common_name : !first_dns.empty() ? first_dns : spec.names.front();
    // Most significant first (O, then CN), as the lab's CA names.
    x509_name_ptr subject(X509_NAME_new());
    auto add = [&](const char* field, const std::string& value) {
        return X509_NAME_add_entry_by_txt(subject.get(), field, MBSTRING_UTF8,
                                          reinterpret_cast<const unsigned char*>(value.c_str()), -1, -1, 0) == 1;
    };
    if (!subject || (!spec.organization.empty() && !add("O", spec.organization)) || !add("CN", cn))
        return make_error(ossl_error("server certificate subject \"" + cn + "\""));

    auto key = generate_key(spec.key);
    if (!key) return key.err();
    cert_request req;
    req.subject = subject.get();
    req.public_key = key->get();
    // An hour of backdating absorbs clock skew between the lab and the peer.
    req.not_before = now - std::chrono::hours(1);
    req.not_after = now + spec.validity;
    if (auto ca_end = asn1_time_point(*X509_get0_notAfter(ca.cert.get())); req.not_after > ca_end)
        req.not_after = ca_end;  // never outlive the issuing CA (RFC 5280 §6.1.3 would reject it anyway)
    req.extensions = {
        {NID_basic_constraints, "critical,CA:FALSE"},
        // keyEncipherment only where it means something: RSA key transport.
        {NID_key_usage, is_rsa(spec.key) ? "critical,digitalSignature,keyEncipherment" : "critical,digitalSignature"},
        {NID_ext_key_usage, "serverAuth"},
        {NID_subject_alt_name, san},
    };
    if (!spec.crl_url.empty()) req.extensions.push_back({NID_crl_distribution_points, "URI:" + spec.crl_url});
    auto cert = sign_certificate(req, ca.cert.get(), *ca.key);
    if (!cert) return cert.err();
    return server_cert{std::move(*key), std::move(*cert)};
}

result<std::vector<fs::path>> write_server_files(const hierarchy& pki, const server_cert& sc, server_profile profile,
                                                 const fs::path& dir, const std::string& key_passphrase) {
    std::error_code ec;
    fs::create_directories(dir, ec);
    if (ec) return make_error("cannot create " + dir.string() + ": " + ec.message());
    std::vector<const X509*> cas = pki.chain(true);  // issuing first, root last
    std::vector<const X509*> intermediates(cas.begin(), cas.end() - 1);
    const X509& root = *cas.back();
    std::vector<std::pair<fs::path, std::string>> files;
    const std::string key_pem = private_key_to_pem(*sc.key, key_passphrase);
    const std::string cert_pem = x509_to_pem(*sc.cert);
    if (profile == server_profile::radius_server) {
        files = {{dir / "server.key", key_pem},
                 {dir / "server.pem", cert_pem + pem_of(intermediates)},
                 {dir / "ca.pem", pem_of(cas)},
                 {dir / "root.pem", x509_to_pem(root)}};
    } else {
        files = {{dir / "key.pem", key_pem},
                 {dir / "cert.pem", cert_pem},
                 {dir / "chain.pem", pem_of(intermediates)},
                 {dir / "fullchain.pem", cert_pem + pem_of(intermediates)},
                 {dir / "root.pem", x509_to_pem(root)}};
    }
    std::vector<fs::path> written;
    for (const auto& [path, text] : files) {
        const bool secret = path.filename() == "server.key" || path.filename() == "key.pem";
        if (auto w = write_file(path, text, secret); !w) return w.err();
        written.push_back(path);
    }
    return written;
}

std::optional<server_cert> load_kept_cert(const hierarchy& pki, std::string_view what, const fs::path& cert_file,
                                          const fs::path& key_file, const std::string& key_passphrase, time_point now,
                                          std::string& reason) {
    const std::string w(what);
    if (!fs::exists(cert_file) || !fs::exists(key_file)) {
        reason = "no " + w + " certificate yet";
        return std::nullopt;
    }
    auto cert_pem = read_file(cert_file);
    auto key_pem = read_file(key_file);
    auto cert = cert_pem ? x509_from_pem(*cert_pem) : result<x509_ptr>(cert_pem.err());
    auto key = key_pem ? private_key_from_pem(*key_pem, key_passphrase) : result<evp_pkey_ptr>(key_pem.err());
    const X509& issuing = *pki.issuing().cert;
    if (!cert) {
        reason = cert_file.string() + " is unreadable";
    } else if (!key) {
        reason = key_file.string() + " is unreadable (" + key.message() + ")";
    } else if (X509_check_private_key(cert->get(), key->get()) != 1) {
        reason = "the " + w + " key does not match its certificate";
    } else if (X509_check_issued(const_cast<X509*>(&issuing), cert->get()) != X509_V_OK ||
               X509_verify(cert->get(), X509_get0_pubkey(&issuing)) != 1) {
        reason = "the " + w + " certificate was not issued by the current issuing CA";
    } else if (asn1_time_point(*X509_get0_notAfter(cert->get())) < now + std::chrono::hours(24 * 30)) {
        reason = "the " + w + " certificate expires within 30 days";
    } else {
        return server_cert{std::move(*key), std::move(*cert)};
    }
    ERR_clear_error();
    return std::nullopt;
}

result<https_identity> ensure_https_cert(const hierarchy& pki, const server_cert_spec& spec, const fs::path& cert_file,
                                         const fs::path& key_file, const std::string& key_passphrase,
                                         time_point now) {
    std::string reason;
    if (auto kept = load_kept_cert(pki, "HTTPS", cert_file, key_file, key_passphrase, now, reason)) {
        if (san_entries(*kept->cert) == wanted_san_entries(spec.names)) return https_identity{std::move(*kept), false, {}};
        reason = "the HTTPS names changed";
    }
    auto sc = issue_server_cert(pki, spec, now);
    if (!sc) return sc.err();
    if (auto w = write_file(key_file, private_key_to_pem(*sc->key, key_passphrase), true); !w) return w.err();
    std::string chain_pem = x509_to_pem(*sc->cert);
    for (const X509* c : pki.chain(false)) chain_pem += x509_to_pem(*c);
    if (auto w = write_file(cert_file, chain_pem, false); !w) return w.err();
    return https_identity{std::move(*sc), true, reason};
}

}  // namespace scep
