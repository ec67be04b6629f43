// Reading what a server showed, as hostile input: every file within
// max_input_bytes, certificates through OpenSSL's DER decoders only, text
// checked before it reaches a report or a configuration.
#include <openssl/err.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <filesystem>
#include <fstream>

#include "pki/clone/clone.hpp"
#include "pki/crypto/encoding.hpp"
#include "pki/scep/message.hpp"

namespace scep::clone {

namespace {

bool is_text(std::string_view s) {
    return std::all_of(s.begin(), s.end(), [](char c) {
        const auto u = static_cast<unsigned char>(c);
        return u == '\r' || u == '\n' || u == '\t' || (u >= 0x20 && u < 0x7f);
    });
}

// base64 with line breaks (a certrep pasted from a log), or nullopt.
std::optional<bytes> loose_base64(std::string_view text) {
    std::string packed;
    for (char c : text)
        if (c != '\r' && c != '\n' && c != ' ' && c != '\t') packed += c;
    if (packed.empty()) return std::nullopt;
    return base64_decode(packed);
}

result<std::string> read_input(const std::string& file, const std::string& what) {
    std::error_code ec;
    const auto status = std::filesystem::status(file, ec);
    if (ec || !std::filesystem::exists(status)) return make_error(what + " " + file + ": no such file");
    if (!std::filesystem::is_regular_file(status)) return make_error(what + " " + file + ": not a regular file");
    const auto size = std::filesystem::file_size(file, ec);
    if (ec) return make_error(what + " " + file + ": " + ec.message());
    if (size > max_input_bytes)
        return make_error(what + " " + file + ": " + std::to_string(size) + " bytes, more than the " +
                          std::to_string(max_input_bytes) + " a SCEP server's answer can be");
    if (size == 0) return make_error(what + " " + file + ": the file is empty");
    std::ifstream in(file, std::ios::binary);
    std::string data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (!in.good() && !in.eof()) return make_error(what + " " + file + ": cannot read it");
    return data;
}

bool is_ca(const X509& cert) {
    return (X509_get_extension_flags(const_cast<X509*>(&cert)) & EXFLAG_CA) != 0;
}
bool self_signed(const X509& cert) {
    return X509_check_issued(const_cast<X509*>(&cert), const_cast<X509*>(&cert)) == X509_V_OK;
}
bool issued_by(const X509& child, const X509& parent) {
    return X509_check_issued(const_cast<X509*>(&parent), const_cast<X509*>(&child)) == X509_V_OK;
}
std::uint32_t key_usage_of(const X509& cert) {
    return X509_get_key_usage(const_cast<X509*>(&cert));
}

}  // namespace

result<std::vector<x509_ptr>> read_certificates(const std::string& data, const std::string& what, bool* single) {
    if (single) *single = false;
    if (data.empty()) return make_error(what + ": empty, no certificate");
    if (data.size() > max_input_bytes) return make_error(what + ": larger than " + std::to_string(max_input_bytes) + " bytes");
    std::vector<x509_ptr> certs;
    const byte_view der(reinterpret_cast<const std::uint8_t*>(data.data()), data.size());
    if (data.find("-----BEGIN") != std::string::npos) {
        if (!is_text(data)) return make_error(what + ": PEM with binary bytes in it");
        if (data.find("-----BEGIN PKCS7-----") != std::string::npos ||
            data.find("-----BEGIN CERTIFICATE CHAIN-----") != std::string::npos) {
            const auto begin = data.find('\n', data.find("-----BEGIN"));
            const auto end = data.find("-----END");
            auto body = begin == std::string::npos || end == std::string::npos || end < begin
                            ? std::nullopt
                            : loose_base64(std::string_view(data).substr(begin + 1, end - begin - 1));
            if (!body) return make_error(what + ": the PKCS7 PEM block is not base64");
            auto p7 = parse_degenerate(*body);
            if (!p7) return make_error(what + ": " + p7.message());
            certs = std::move(*p7);
        } else {
            auto list = x509_list_from_pem(data);
            if (!list) return make_error(what + ": " + list.message());
            certs = std::move(*list);
            if (single) *single = certs.size() == 1;
        }
    } else if (!data.empty() && static_cast<unsigned char>(data[0]) == 0x30) {
        // A degenerate SignedData, or one DER certificate (a CA that is its own RA).
        if (auto p7 = parse_degenerate(der)) {
            certs = std::move(*p7);
        } else if (auto one = x509_from_der(der)) {
            certs.push_back(std::move(*one));
            if (single) *single = true;
        } else {
            return make_error(what + ": neither a PKCS#7 certificate bundle nor a DER certificate (" + p7.message() + ")");
        }
    } else if (auto decoded = is_text(data) ? loose_base64(data) : std::nullopt) {
        return read_certificates(std::string(decoded->begin(), decoded->end()), what + " (base64)", single);
    } else {
        return make_error(what + ": not a certificate bundle (PKCS#7 DER or PEM, a DER or PEM certificate)");
    }
    ERR_clear_error();
    if (certs.empty()) return make_error(what + ": the bundle holds no certificate");
    if (certs.size() > max_certificates)
        return make_error(what + ": " + std::to_string(certs.size()) + " certificates, more than the " +
                          std::to_string(max_certificates) + " a GetCACert answer can hold");
    return certs;
}

result<void> check_caps(const std::string& body, const std::string& what) {
    if (body.size() > 64 * 1024) return make_error(what + ": " + std::to_string(body.size()) + " bytes is no GetCACaps answer");
    if (!is_text(body)) return make_error(what + ": GetCACaps is ASCII text, one capability per line (RFC 8894 §3.5.2); this has binary bytes");
    return {};
}

result<server_view> read_files(const input_files& files) {
    server_view view;
    if (files.cacert.empty() && files.certrep.empty())
        return make_error("--cacert: the GetCACert answer (p7b, DER or PEM) is needed, or at least a --certrep");
    view.source = files.cacert.empty() ? files.certrep : files.cacert;
    if (!files.caps.empty()) {
        auto caps = read_input(files.caps, "--caps");
        if (!caps) return caps.err();
        if (auto ok = check_caps(*caps, "--caps " + files.caps); !ok) return ok.err();
        view.caps = std::move(*caps);
        view.source = files.caps + ", " + view.source;
    }
    if (!files.cacert.empty()) {
        auto cacert = read_input(files.cacert, "--cacert");
        if (!cacert) return cacert.err();
        auto certs = read_certificates(*cacert, "--cacert " + files.cacert, &view.single);
        if (!certs) return certs.err();
        view.certs = std::move(*certs);
    }
    if (!files.admin_page.empty()) {
        auto page = read_input(files.admin_page, "--admin-page");
        if (!page) return page.err();
        view.admin_page = std::move(*page);
        view.admin_status = 200;
        view.source += ", " + files.admin_page;
    }
    if (!files.certrep.empty()) {
        auto rep = read_input(files.certrep, "--certrep");
        if (!rep) return rep.err();
        bytes der(rep->begin(), rep->end());
        if (!rep->empty() && static_cast<unsigned char>((*rep)[0]) != 0x30) {
            // PEM ("-----BEGIN PKCS7-----") or bare base64.
            std::string body = *rep;
            if (const auto begin = body.find("-----BEGIN"); begin != std::string::npos) {
                const auto start = body.find('\n', begin);
                const auto end = body.find("-----END");
                body = start == std::string::npos || end == std::string::npos || end < start ? "" : body.substr(start + 1, end - start - 1);
            }
            auto decoded = is_text(*rep) ? loose_base64(body) : std::nullopt;
            if (!decoded) return make_error("--certrep " + files.certrep + ": neither DER nor base64 of a CertRep");
            der = std::move(*decoded);
        }
        auto p7 = pkcs7_from_der(der);
        ERR_clear_error();
        if (!p7 || !PKCS7_type_is_signed(p7->get()))
            return make_error("--certrep " + files.certrep + ": not a CertRep (a CMS SignedData, RFC 8894 §3.3)");
        view.certrep = std::move(der);
        if (!files.cacert.empty()) view.source += ", " + files.certrep;
        if (view.certs.empty() && !certrep_signer_issuer(*view.certrep))
            return make_error("--certrep " + files.certrep + ": no signer names its CA, and no --cacert: nothing to clone");
    }
    return view;
}

x509_name_ptr certrep_signer_issuer(const bytes& certrep) {
    auto p7 = pkcs7_from_der(certrep);
    ERR_clear_error();
    if (!p7 || !PKCS7_type_is_signed(p7->get())) return nullptr;
    STACK_OF(PKCS7_SIGNER_INFO)* sis = PKCS7_get_signer_info(p7->get());
    if (!sis || sk_PKCS7_SIGNER_INFO_num(sis) != 1) return nullptr;
    const PKCS7_SIGNER_INFO* si = sk_PKCS7_SIGNER_INFO_value(sis, 0);
    if (!si->issuer_and_serial || !si->issuer_and_serial->issuer) return nullptr;
    return x509_name_ptr(X509_NAME_dup(si->issuer_and_serial->issuer));
}

std::vector<std::string> tier_names(std::size_t n) {
    std::vector<std::string> out;
    for (std::size_t i = 0; i < n; ++i) {
        if (i == 0 && n > 1) out.emplace_back("root");
        else if (i + 1 == n) out.emplace_back("issuing");
        else out.emplace_back(i == 1 ? "intermediate" : "intermediate" + std::to_string(i));
    }
    return out;
}

std::string roles::role_of(const X509* cert) const {
    const auto names = tier_names(tiers.size() + (root_missing ? 1 : 0));
    for (std::size_t i = 0; i < tiers.size(); ++i)
        if (tiers[i] == cert) return names[i + (root_missing ? 1 : 0)];
    if (cert == ra_signing) return ra_encryption ? "ra-signing" : "ra";
    if (cert == ra_encryption) return "ra-encryption";
    for (std::size_t i = 0; i < others.size(); ++i)
        if (others[i] == cert) return "other" + std::to_string(i + 1);
    return "?";
}

result<roles> assign_roles(const std::vector<x509_ptr>& certs) {
    roles out;
    std::vector<const X509*> cas, ras;
    for (const auto& c : certs) (is_ca(*c) || self_signed(*c) ? cas : ras).push_back(c.get());
    // The issuing CA: the one that issued the RA certificates, else the CA
    // that issued no other CA sent.
    const X509* issuing = nullptr;
    for (const X509* ra : ras)
        for (const X509* ca : cas)
            if (!issuing && issued_by(*ra, *ca)) issuing = ca;
    if (!issuing)
        for (const X509* ca : cas) {
            bool parent = false;
            for (const X509* other : cas)
                if (other != ca && issued_by(*other, *ca)) parent = true;
            if (!parent) issuing = ca;
        }
    if (!issuing && cas.empty() && ras.size() == 1) {
        // One certificate without CA:TRUE: a CA that is its own RA but marks
        // itself badly; treat it as the CA.
        issuing = ras.front();
        ras.clear();
        cas.push_back(issuing);
    }
    if (!issuing) return make_error("no CA certificate among the " + std::to_string(certs.size()) + " sent");
    std::vector<const X509*> up{issuing};
    for (std::size_t guard = 0; guard < max_certificates && !self_signed(*up.back()); ++guard) {
        const X509* parent = nullptr;
        for (const X509* ca : cas)
            if (std::find(up.begin(), up.end(), ca) == up.end() && issued_by(*up.back(), *ca)) parent = ca;
        if (!parent) break;
        up.push_back(parent);
    }
    if (up.size() > 4) return make_error(std::to_string(up.size()) + " CA tiers: the lab has at most 4");
    out.root_missing = !self_signed(*up.back());
    if (out.root_missing && up.size() == 4)
        return make_error("4 CA tiers sent and the root is not among them: the lab has at most 4");
    std::reverse(up.begin(), up.end());
    out.tiers = up;
    for (const X509* ca : cas)
        if (std::find(up.begin(), up.end(), ca) == up.end()) out.others.push_back(ca);
    // RA certificates: issued by the issuing CA. A pair is told apart by key usage.
    std::vector<const X509*> mine;
    for (const X509* ra : ras) (issued_by(*ra, *issuing) ? mine : out.others).push_back(ra);
    if (mine.size() == 1) {
        out.ra_signing = mine.front();
    } else if (mine.size() == 2) {
        // The one with keyEncipherment is the one clients encrypt to; when
        // both or neither have it, the order sent decides (signing first).
        const bool first = key_usage_of(*mine[0]) & KU_KEY_ENCIPHERMENT;
        const bool second = key_usage_of(*mine[1]) & KU_KEY_ENCIPHERMENT;
        const bool swap = first && !second;
        out.ra_signing = mine[swap ? 1 : 0];
        out.ra_encryption = mine[swap ? 0 : 1];
    } else {
        for (const X509* ra : mine) out.others.push_back(ra);
    }
    return out;
}

}  // namespace scep::clone
