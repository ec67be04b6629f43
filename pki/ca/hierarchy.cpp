#include "pki/ca/hierarchy.hpp"

#include <openssl/err.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <set>
#include <sstream>

namespace scep {

namespace fs = std::filesystem;

std::string with_lab_url(std::string line, const std::string& lab_url) {
    for (auto at = line.find("${lab}"); at != std::string::npos; at = line.find("${lab}", at + lab_url.size()))
        line.replace(at, 6, lab_url);
    return line;
}

result<x509_ext_ptr> check_extension_line(const std::string& line) {
    return extension_from_line(with_lab_url(line, "http://lab.invalid"));
}

namespace {

constexpr const char* manifest_name = "hierarchy.txt";
constexpr const char* previous_name = "previous.txt";  // stems of replaced issuing CAs, oldest first

std::string ca_extensions_key_usage(bool decrypts) {
    // RFC 8894 §2.1.2: a CA that acts as RA needs digitalSignature and, since
    // it decrypts requests, keyEncipherment.
    return decrypts ? "critical,keyCertSign,cRLSign,digitalSignature,keyEncipherment"
                    : "critical,keyCertSign,cRLSign,digitalSignature";
}

result<void> check_pair(const X509& cert, const EVP_PKEY& key, const fs::path& key_file) {
    if (X509_check_private_key(&cert, &key) != 1) {
        ERR_clear_error();
        return make_error(key_file.string() + ": private key does not match its certificate");
    }
    return {};
}

result<void> check_issued(const X509& child, const fs::path& child_file, const X509& parent,
                          const fs::path& parent_file) {
    EVP_PKEY* parent_key = X509_get0_pubkey(&parent);
    if (X509_check_issued(const_cast<X509*>(&parent), const_cast<X509*>(&child)) != X509_V_OK ||
        !parent_key || X509_verify(const_cast<X509*>(&child), parent_key) != 1) {
        ERR_clear_error();
        return make_error(child_file.string() + ": certificate \"" + name_to_string(*X509_get_subject_name(&child)) +
                          "\" is not signed by \"" + name_to_string(*X509_get_subject_name(&parent)) + "\" (" +
                          parent_file.string() + "): broken chain");
    }
    return {};
}

result<x509_ptr> load_cert(const fs::path& file) {
    auto text = read_file(file);
    if (!text) return text.err();
    auto cert = x509_from_pem(*text);
    if (!cert) return make_error(file.string() + ": " + cert.message());
    return std::move(*cert);
}

result<evp_pkey_ptr> load_key(const fs::path& file, const std::string& passphrase) {
    auto text = read_file(file);
    if (!text) return text.err();
    auto key = private_key_from_pem(*text, passphrase);
    if (!key) return make_error(file.string() + ": " + key.message());
    return std::move(*key);
}

result<void> write_pair(const fs::path& dir, const std::string& stem, const X509& cert, const EVP_PKEY& key,
                        const std::string& passphrase) {
    if (auto r = write_file(dir / (stem + ".key"), private_key_to_pem(key, passphrase), true); !r) return r;
    return write_file(dir / (stem + ".crt"), x509_to_pem(cert), false);
}

// The subject a shape or its text gives; `what` names the setting in errors.
result<x509_name_ptr> shaped_subject(const cert_shape& shape, const std::string& text, const std::string& what) {
    if (!shape.subject_der.empty()) {
        const unsigned char* p = shape.subject_der.data();
        x509_name_ptr name(d2i_X509_NAME(nullptr, &p, static_cast<long>(shape.subject_der.size())));
        ERR_clear_error();
        if (!name || p != shape.subject_der.data() + shape.subject_der.size())
            return make_error(what + ".subject_der: not one DER-encoded Name");
        return name;
    }
    auto name = parse_subject(text);
    if (!name) return make_error(what + ".subject: " + name.message());
    return name;
}

// The shape's dates and extensions on `req` (validity counted from the
// backdated notBefore); "${lab}" in extension lines becomes `lab_url`.
void apply_shape(cert_request& req, const cert_shape& shape, std::chrono::seconds validity, time_point now,
                 const std::string& lab_url) {
    req.not_before = shape.not_before.value_or(now - std::chrono::minutes(5));
    req.not_after = shape.not_after.value_or(req.not_before + validity);
    req.signature = shape.signature;
    if (!shape.extensions) return;
    std::vector<std::string> lines;
    for (const auto& line : *shape.extensions) lines.push_back(with_lab_url(line, lab_url));
    req.exact_extensions = std::move(lines);
}

// An RA certificate for `key` and `subject`, issued by `issuing`. key_usage
// and eku are OpenSSL configuration strings; empty = extension left out. A
// clone's shape replaces the extensions and dates.
result<x509_ptr> sign_ra(const ra_spec& spec, const ca_entry& issuing, time_point now, const X509_NAME& subject,
                         const EVP_PKEY& key, const std::string& key_usage, const std::string& eku,
                         const cert_shape& shape = {}, std::optional<std::chrono::seconds> validity = {},
                         const std::string& lab_url = "") {
    cert_request req;
    req.subject = &subject;
    req.public_key = &key;
    req.not_before = now - std::chrono::minutes(5);
    req.not_after = std::min(now + validity.value_or(spec.validity), asn1_time_point(*X509_get0_notAfter(issuing.cert.get())));
    req.extensions = {{NID_basic_constraints, "critical,CA:FALSE"}};
    if (!key_usage.empty()) req.extensions.push_back({NID_key_usage, "critical," + key_usage});
    if (!eku.empty()) req.extensions.push_back({NID_ext_key_usage, eku});
    if (!shape.empty()) apply_shape(req, shape, validity.value_or(spec.validity), now, lab_url);
    return sign_certificate(req, issuing.cert.get(), *issuing.key);
}

// A new RA key and its certificate; the plain RA both signs and decrypts.
result<std::pair<x509_ptr, evp_pkey_ptr>> make_ra(const ra_spec& spec, const ca_entry& issuing, time_point now,
                                                  const std::string& subject_text, const std::string& key_usage,
                                                  const std::string& eku, const ra_half_spec& half,
                                                  const std::string& lab_url) {
    auto subject = shaped_subject(half.shape, subject_text.empty() ? spec.subject : subject_text, "pki.ra");
    if (!subject) return subject.err();
    auto key = generate_key(half.key.value_or(spec.key));
    if (!key) return key.err();
    auto cert = sign_ra(spec, issuing, now, *subject->get(), **key, key_usage, eku, half.shape, half.validity, lab_url);
    if (!cert) return cert.err();
    return std::make_pair(std::move(*cert), std::move(*key));
}

std::string comma_list(const std::vector<std::string>& v) {
    std::string out;
    for (const auto& s : v) out += (out.empty() ? "" : ",") + s;
    return out;
}

// The plain RA with the usages pki.ra asks for.
result<std::pair<x509_ptr, evp_pkey_ptr>> make_plain_ra(const ra_spec& spec, const ca_entry& issuing, time_point now,
                                                        const std::string& lab_url) {
    ra_half_spec plain;
    plain.shape = spec.shape;
    return make_ra(spec, issuing, now, "", comma_list(spec.key_usage), comma_list(spec.extended_key_usage), plain,
                   lab_url);
}

// Whether `cert` carries exactly the extension `nid` would get from `value`
// (an OpenSSL configuration string; empty = no extension).
bool extension_is(const X509& cert, int nid, const std::string& value) {
    const int at = X509_get_ext_by_NID(&cert, nid, -1);
    if (value.empty()) return at < 0;
    if (at < 0) return false;
    x509_ext_ptr want(X509V3_EXT_conf_nid(nullptr, nullptr, nid, value.c_str()));
    ERR_clear_error();
    if (!want) return false;
    const X509_EXTENSION* have = X509_get_ext(&cert, at);
    return X509_EXTENSION_get_critical(have) == X509_EXTENSION_get_critical(want.get()) &&
           ASN1_OCTET_STRING_cmp(X509_EXTENSION_get_data(const_cast<X509_EXTENSION*>(have)),
                                 X509_EXTENSION_get_data(want.get())) == 0;
}

// The NDES pair's two halves. Both carry Certificate Request Agent
// (1.3.6.1.4.1.311.20.2.1), the application policy of Microsoft's
// EnrollmentAgentOffline and CEPEncryption templates.
struct ndes_ra_half {
    const char* stem;
    const char* key_usage;
    const char* what;
};
constexpr ndes_ra_half ndes_ra_sign{"ndes-ra-sign", "digitalSignature", "NDES RA signing certificate"};
constexpr ndes_ra_half ndes_ra_enc{"ndes-ra-enc", "keyEncipherment", "NDES RA encryption certificate"};
constexpr const char* certificate_request_agent = "1.3.6.1.4.1.311.20.2.1";

// A CA certificate for tier `t`, signed by `parent` (self-signed when null),
// never outliving it; pathLen counts the CAs that may follow (RFC 5280 §4.2.1.9).
result<std::pair<x509_ptr, evp_pkey_ptr>> make_ca(const tier_spec& t, const ca_entry* parent, std::size_t pathlen,
                                                  bool decrypts, time_point now, const std::string& lab_url) {
    auto subject = shaped_subject(t.shape, t.subject, "pki.tiers." + t.name);
    if (!subject) return subject.err();
    auto key = generate_key(t.key);
    if (!key) return key.err();
    cert_request req;
    req.subject = subject->get();
    req.public_key = key->get();
    req.not_before = now - std::chrono::minutes(5);
    req.not_after = now + t.validity;
    if (parent) req.not_after = std::min(req.not_after, asn1_time_point(*X509_get0_notAfter(parent->cert.get())));
    req.extensions = {{NID_basic_constraints, "critical,CA:TRUE,pathlen:" + std::to_string(pathlen)}};
    if (!t.key_usage)
        req.extensions.push_back({NID_key_usage, ca_extensions_key_usage(decrypts)});
    else if (!t.key_usage->empty())
        req.extensions.push_back({NID_key_usage, "critical," + comma_list(*t.key_usage)});
    if (!t.shape.empty()) {
        apply_shape(req, t.shape, t.validity, now, lab_url);
        // A clone keeps the original's length even past its parent's end
        // (the dates are the original's, or counted from now).
    }
    auto cert = sign_certificate(req, parent ? parent->cert.get() : nullptr, parent ? *parent->key : **key);
    if (!cert) return cert.err();
    return std::make_pair(std::move(*cert), std::move(*key));
}

std::string manifest_text(const hierarchy_spec& spec) {
    std::string out;
    for (const auto& t : spec.tiers) out += t.name + "\n";
    return out;
}

}  // namespace

namespace {
// A shape's parts checked without generating anything; `signer` is the key
// type that signs the certificate (nullopt: not known here).
result<void> check_shape(const cert_shape& shape, const std::string& what, std::optional<key_type> signer) {
    if (!shape.subject_der.empty())
        if (auto n = shaped_subject(shape, "", what); !n) return n.err();
    if (shape.signature && shape.signature->pss && signer && !is_rsa(*signer))
        return make_error(what + ".signature: " + to_string(*shape.signature) + " needs an RSA signing key, and the key "
                          "that signs it is " + std::string(to_string(*signer)));
    if (shape.extensions)
        for (const auto& line : *shape.extensions)
            if (auto ext = check_extension_line(line); !ext) return make_error(what + ".extensions: " + ext.message());
    if (shape.not_before && shape.not_after && *shape.not_after <= *shape.not_before)
        return make_error(what + ": not_after must come after not_before");
    return {};
}
}  // namespace

result<void> validate(const hierarchy_spec& spec) {
    for (std::size_t i = 0; i < spec.tiers.size() && !spec.bring_your_own; ++i)
        if (auto r = check_shape(spec.tiers[i].shape, "pki.tiers." + spec.tiers[i].name,
                                 spec.tiers[i == 0 ? 0 : i - 1].key);
            !r)
            return r;
    std::optional<key_type> issuing_key;
    if (!spec.bring_your_own && !spec.tiers.empty()) issuing_key = spec.tiers.back().key;
    if (auto r = check_shape(spec.ra.shape, "pki.ra", issuing_key); !r) return r;
    for (const auto& [what, half] : {std::pair{"pki.ra.signing", &spec.ra.signing}, std::pair{"pki.ra.encryption", &spec.ra.encryption}}) {
        if (auto r = check_shape(half->shape, what, issuing_key); !r) return r;
        if (half->key && !is_rsa(*half->key))
            return make_error(std::string(what) + ".key: the RA certificates must be RSA (clients encrypt to them), not " +
                              std::string(to_string(*half->key)));
        if (!half->subject.empty() && half->shape.subject_der.empty())
            if (auto n = parse_subject(half->subject); !n) return make_error(std::string(what) + ".subject: " + n.message());
    }
    for (std::size_t i = 0; i < spec.tiers.size(); ++i)
        for (const auto& u : spec.tiers[i].key_usage.value_or(std::vector<std::string>{})) {
            x509_ext_ptr ext(X509V3_EXT_conf_nid(nullptr, nullptr, NID_key_usage, u.c_str()));
            ERR_clear_error();
            if (!ext || u.find(',') != std::string::npos)
                return make_error("pki.tiers[" + std::to_string(i) + "].key_usage: \"" + u +
                                  "\" is not a key usage OpenSSL knows (one name per entry)");
        }
    for (const auto& [what, nid, list] :
         {std::tuple{"pki.ra.key_usage", NID_key_usage, &spec.ra.key_usage},
          std::tuple{"pki.ra.extended_key_usage", NID_ext_key_usage, &spec.ra.extended_key_usage}}) {
        for (const auto& u : *list) {
            x509_ext_ptr ext(X509V3_EXT_conf_nid(nullptr, nullptr, nid, u.c_str()));
            ERR_clear_error();
            if (!ext || u.find(',') != std::string::npos)
                return make_error(std::string(what) + ": \"" + u + "\" is not a usage OpenSSL knows (one name or OID per entry)");
        }
    }
    if (spec.bring_your_own) {
        if (spec.byo.chain.empty()) return make_error("pki.files.chain: name at least the issuing CA certificate");
        if (spec.byo.issuing_key.empty()) return make_error("pki.files.issuing_key: the issuing CA key is required");
        if (spec.byo.ra_cert.empty() != spec.byo.ra_key.empty())
            return make_error("pki.files: ra_cert and ra_key go together");
    } else {
        if (spec.tiers.empty() || spec.tiers.size() > 4)
            return make_error("pki.tiers: the hierarchy has 1 to 4 tiers, not " + std::to_string(spec.tiers.size()));
        std::set<std::string> names;
        for (const auto& t : spec.tiers) {
            if (t.name.empty() || t.name == "ra" || t.name.find_first_of("/\\. ") != std::string::npos)
                return make_error("pki.tiers: invalid tier name \"" + t.name +
                                  "\" (letters, digits, '-' and '_'; not \"ra\")");
            if (!names.insert(t.name).second) return make_error("pki.tiers: duplicate tier name \"" + t.name + "\"");
            if (auto s = parse_subject(t.subject); !s && t.shape.subject_der.empty())
                return make_error("pki.tiers." + t.name + ".subject: " + s.message());
            if (t.validity <= std::chrono::seconds::zero())
                return make_error("pki.tiers." + t.name + ".validity must be positive");
        }
        if (spec.ca_as_ra && !is_rsa(spec.tiers.back().key))
            return make_error("pki.ca_as_ra: the issuing CA \"" + spec.tiers.back().name + "\" has a " +
                              std::string(to_string(spec.tiers.back().key)) +
                              " key, but a CA that acts as RA must be RSA: SCEP clients encrypt requests to it "
                              "(RFC 8894 §2.1.2). Use an RSA issuing CA or a separate RA (ca_as_ra = false).");
    }
    if (spec.ca_as_ra && spec.ra.ndes_pair)
        return make_error("pki.ca_as_ra: NDES always has its own RA certificates; set ndes.ra_pair = false to let "
                          "the CA act as RA in NDES mode");
    if (auto s = parse_subject(spec.ra.ndes_subject); spec.ra.ndes_pair && !s)
        return make_error("ndes.ra_subject: " + s.message());
    if (!spec.ca_as_ra && !is_rsa(spec.ra.key))
        return make_error("pki.ra.key: the RA certificate must be RSA (clients encrypt to it), not " +
                          std::string(to_string(spec.ra.key)));
    return {};
}

std::vector<const X509*> hierarchy::chain(bool include_root) const {
    std::vector<const X509*> out;
    for (auto it = tiers_.rbegin(); it != tiers_.rend(); ++it) {
        bool is_root = std::next(it) == tiers_.rend() &&
                       X509_check_issued(it->cert.get(), it->cert.get()) == X509_V_OK;
        if (is_root && !include_root && out.size() > 0) continue;
        out.push_back(it->cert.get());
    }
    return out;
}

std::vector<const ca_entry*> hierarchy::all_cas() const {
    std::vector<const ca_entry*> out;
    for (const auto& t : tiers_) out.push_back(&t);
    for (const auto& p : previous_) out.push_back(&p);
    return out;
}

std::vector<const X509*> hierarchy::ra_certs() const {
    std::vector<const X509*> out;
    if (ca_as_ra_) return out;
    out.push_back(ra_cert_.get());
    if (ra_enc_cert_) out.push_back(ra_enc_cert_.get());
    return out;
}

result<void> hierarchy::expire_ra(time_point now) {
    if (ca_as_ra_) return make_error("quirks.expired_ra needs a separate RA certificate (pki.ca_as_ra = false)");
    if (!issuing().key) return make_error("quirks.expired_ra needs the issuing CA key");
    auto expired = [&](x509_ptr& cert, const EVP_PKEY& key) -> result<void> {
        cert_request req;
        req.subject = X509_get_subject_name(cert.get());
        req.public_key = &key;
        req.not_before = now - std::chrono::hours(24 * 366);
        req.not_after = now - std::chrono::hours(24);
        for (int nid : {NID_basic_constraints, NID_key_usage, NID_ext_key_usage}) {
            int at = X509_get_ext_by_NID(cert.get(), nid, -1);
            if (at >= 0) req.copied_extensions.push_back(X509_get_ext(cert.get(), at));
        }
        auto made = sign_certificate(req, issuing().cert.get(), *issuing().key);
        if (!made) return made.err();
        cert = std::move(*made);
        return {};
    };
    if (auto r = expired(ra_cert_, *ra_key_); !r) return r;
    if (ra_enc_cert_)
        if (auto r = expired(ra_enc_cert_, *ra_enc_key_); !r) return r;
    return {};
}

struct hierarchy_builder {
    static result<void> attach_rollover(hierarchy& h, const hierarchy_spec& spec, const fs::path& dir) {
        const std::string issuing = spec.tiers.back().name;
        if (auto list = read_file(dir / previous_name)) {
            std::istringstream in(*list);
            for (std::string stem; std::getline(in, stem);) {
                if (stem.empty()) continue;
                auto cert = load_cert(dir / (stem + ".crt"));
                if (!cert) return cert.err();
                auto key = load_key(dir / (stem + ".key"), spec.key_passphrase);
                if (!key) return key.err();
                h.previous_.push_back(ca_entry{stem, std::move(*cert), std::move(*key), dir / (stem + ".crt")});
            }
        }
        if (fs::exists(dir / (issuing + ".next.crt"))) {
            auto cert = load_cert(dir / (issuing + ".next.crt"));
            if (!cert) return cert.err();
            auto key = load_key(dir / (issuing + ".next.key"), spec.key_passphrase);
            if (!key) return key.err();
            if (auto r = check_pair(**cert, **key, dir / (issuing + ".next.key")); !r) return r;
            h.next_ = ca_entry{issuing + ".next", std::move(*cert), std::move(*key), dir / (issuing + ".next.crt")};
            if (fs::exists(dir / "ra.next.crt")) {
                auto ra = load_cert(dir / "ra.next.crt");
                if (!ra) return ra.err();
                auto ra_key = load_key(dir / "ra.next.key", spec.key_passphrase);
                if (!ra_key) return ra_key.err();
                h.next_ra_cert_ = std::move(*ra);
                h.next_ra_key_ = std::move(*ra_key);
            }
        }
        return {};
    }

    // Writes every file into `out` (a fresh temporary directory); the entries
    // name their final place in `dir`.
    static result<hierarchy> generate(const hierarchy_spec& spec, const fs::path& out, const fs::path& dir,
                                      time_point now, const std::function<void(const std::string&)>& note) {
        hierarchy h;
        h.ca_as_ra_ = spec.ca_as_ra;
        for (std::size_t i = 0; i < spec.tiers.size(); ++i) {
            const auto& t = spec.tiers[i];
            bool last = i + 1 == spec.tiers.size();
            const ca_entry* parent = i == 0 ? nullptr : &h.tiers_.back();
            // RSA 4096 keys take seconds each: say what is being made.
            note("generating the " + t.name + " CA (" + std::string(to_string(t.key)) + ", " + std::to_string(i + 1) +
                 " of " + std::to_string(spec.tiers.size()) + ")");
            auto made = make_ca(t, parent, spec.tiers.size() - 1 - i, last && spec.ca_as_ra, now, spec.lab_url);
            if (!made) return made.err();
            auto& [cert, key] = *made;
            ca_entry e{t.name, std::move(cert), std::move(key), dir / (t.name + ".crt")};
            if (auto r = write_pair(out, t.name, *e.cert, *e.key, spec.key_passphrase); !r) return r.err();
            h.tiers_.push_back(std::move(e));
        }
        if (spec.ra.ndes_pair && !spec.ca_as_ra) {
            if (auto r = attach_ndes_pair(h, spec, out, now, [](const std::string&) {}); !r) return r.err();
        } else if (!spec.ca_as_ra) {
            auto ra = make_plain_ra(spec.ra, h.tiers_.back(), now, spec.lab_url);
            if (!ra) return ra.err();
            if (auto r = write_pair(out, "ra", *ra->first, *ra->second, spec.key_passphrase); !r) return r.err();
            h.ra_cert_ = std::move(ra->first);
            h.ra_key_ = std::move(ra->second);
        }
        if (auto r = write_file(out / manifest_name, manifest_text(spec), false); !r) return r.err();
        h.generated_now_ = true;
        return h;
    }

    static result<hierarchy> load(const hierarchy_spec& spec, const fs::path& dir,
                                  const std::function<void(const std::string&)>& note) {
        auto manifest = read_file(dir / manifest_name);
        if (!manifest) return make_error(manifest.message() + " (the lab PKI in " + dir.string() + " is incomplete)");
        if (*manifest != manifest_text(spec)) {
            std::string want, have;
            for (const auto& t : spec.tiers) want += (want.empty() ? "" : ", ") + t.name;
            std::istringstream in(*manifest);
            for (std::string line; std::getline(in, line);)
                if (!line.empty()) have += (have.empty() ? "" : ", ") + line;
            return make_error("the lab PKI in " + dir.string() + " has tiers [" + have +
                              "] but the configuration asks for [" + want +
                              "]. It is never regenerated silently: restore the configuration, or move " +
                              dir.string() + " away to generate a new PKI.");
        }
        hierarchy h;
        h.ca_as_ra_ = spec.ca_as_ra;
        for (const auto& t : spec.tiers) {
            auto cert_file = dir / (t.name + ".crt");
            auto key_file = dir / (t.name + ".key");
            auto cert = load_cert(cert_file);
            if (!cert) return cert.err();
            auto key = load_key(key_file, spec.key_passphrase);
            if (!key) return key.err();
            if (auto r = check_pair(**cert, **key, key_file); !r) return r.err();
            if (!h.tiers_.empty())
                if (auto r = check_issued(**cert, cert_file, *h.tiers_.back().cert, h.tiers_.back().cert_file); !r)
                    return r.err();
            // A CA is never re-issued behind the user's back: say that the
            // setting waits for a new lab.
            if (t.key_usage &&
                !extension_is(**cert, NID_key_usage, t.key_usage->empty() ? "" : "critical," + comma_list(*t.key_usage)))
                note(cert_file.string() + " keeps its key usage: pki.tiers key_usage applies when a lab is generated "
                                          "(move the data directory away for a new one)");
            h.tiers_.push_back(ca_entry{t.name, std::move(*cert), std::move(*key), cert_file});
        }
        return h;
    }

    static result<hierarchy> load_byo(const hierarchy_spec& spec) {
        hierarchy h;
        h.ca_as_ra_ = spec.ca_as_ra;
        std::vector<ca_entry> issuing_first;
        for (const auto& file : spec.byo.chain) {
            auto text = read_file(file);
            if (!text) return text.err();
            auto certs = x509_list_from_pem(*text);
            if (!certs) return make_error(file.string() + ": " + certs.message());
            for (auto& c : *certs) {
                std::string name = issuing_first.empty() ? "issuing" : "ca" + std::to_string(issuing_first.size());
                issuing_first.push_back(ca_entry{name, std::move(c), nullptr, file});
            }
        }
        for (std::size_t i = 0; i + 1 < issuing_first.size(); ++i)
            if (auto r = check_issued(*issuing_first[i].cert, issuing_first[i].cert_file, *issuing_first[i + 1].cert,
                                      issuing_first[i + 1].cert_file);
                !r)
                return r.err();
        auto key = load_key(spec.byo.issuing_key, spec.key_passphrase);
        if (!key) return key.err();
        if (auto r = check_pair(*issuing_first.front().cert, **key, spec.byo.issuing_key); !r) return r.err();
        issuing_first.front().key = std::move(*key);
        if (issuing_first.size() > 1) issuing_first.back().name = "root";
        if (spec.ca_as_ra && !key_is_rsa(*issuing_first.front().key))
            return make_error(spec.byo.issuing_key.string() +
                              ": a CA that acts as RA must have an RSA key (clients encrypt to it)");
        std::reverse(issuing_first.begin(), issuing_first.end());
        h.tiers_ = std::move(issuing_first);
        return h;
    }

    // Loads an RA certificate and key, checking they match, are RSA and were
    // issued by the issuing CA (or, after a rollover with --keep-ra, a previous one).
    static result<std::pair<x509_ptr, evp_pkey_ptr>> load_ra(const hierarchy& h, const hierarchy_spec& spec,
                                                             const fs::path& cert_file, const fs::path& key_file) {
        auto cert = load_cert(cert_file);
        if (!cert) return cert.err();
        auto key = load_key(key_file, spec.key_passphrase);
        if (!key) return key.err();
        if (auto r = check_pair(**cert, **key, key_file); !r) return r.err();
        auto issued = check_issued(**cert, cert_file, *h.issuing().cert, h.issuing().cert_file);
        for (const auto& p : h.previous_)
            if (!issued && check_issued(**cert, cert_file, *p.cert, p.cert_file)) issued = {};
        if (!issued) return issued.err();
        if (!key_is_rsa(**key)) return make_error(key_file.string() + ": the RA key must be RSA (clients encrypt to it)");
        return std::make_pair(std::move(*cert), std::move(*key));
    }

    static result<void> attach_ndes_pair(hierarchy& h, const hierarchy_spec& spec, const fs::path& dir, time_point now,
                                         const std::function<void(const std::string&)>& note) {
        for (const ndes_ra_half* half : {&ndes_ra_sign, &ndes_ra_enc}) {
            fs::path cert_file = dir / (std::string(half->stem) + ".crt"), key_file = dir / (std::string(half->stem) + ".key");
            result<std::pair<x509_ptr, evp_pkey_ptr>> ra = make_error("unset");
            if (!fs::exists(cert_file) && !fs::exists(key_file)) {
                if (!h.issuing().key) return make_error("the NDES RA pair needs the issuing CA key to be created");
                const ra_half_spec& shape = half == &ndes_ra_sign ? spec.ra.signing : spec.ra.encryption;
                ra = make_ra(spec.ra, h.issuing(), now, shape.subject.empty() ? spec.ra.ndes_subject : shape.subject,
                             half->key_usage, certificate_request_agent, shape, spec.lab_url);
                if (!ra) return ra.err();
                if (auto r = write_pair(dir, half->stem, *ra->first, *ra->second, spec.key_passphrase); !r) return r;
                note("created " + std::string(half->what) + " " + cert_file.string());
            } else {
                ra = load_ra(h, spec, cert_file, key_file);
                if (!ra) return ra.err();
            }
            if (half == &ndes_ra_sign) {
                h.ra_cert_ = std::move(ra->first);
                h.ra_key_ = std::move(ra->second);
            } else {
                h.ra_enc_cert_ = std::move(ra->first);
                h.ra_enc_key_ = std::move(ra->second);
            }
        }
        return {};
    }

    static result<void> attach_ra(hierarchy& h, const hierarchy_spec& spec, const fs::path& dir, time_point now,
                                  const std::function<void(const std::string&)>& note) {
        if (spec.ca_as_ra) return {};
        if (spec.ra.ndes_pair) return attach_ndes_pair(h, spec, dir, now, note);
        fs::path cert_file = dir / "ra.crt", key_file = dir / "ra.key";
        if (spec.bring_your_own && !spec.byo.ra_cert.empty()) {
            cert_file = spec.byo.ra_cert;
            key_file = spec.byo.ra_key;
        } else if (!fs::exists(cert_file) && !fs::exists(key_file)) {
            auto ra = make_plain_ra(spec.ra, h.issuing(), now, spec.lab_url);
            if (!ra) return ra.err();
            if (auto r = write_pair(dir, "ra", *ra->first, *ra->second, spec.key_passphrase); !r) return r;
            note("created RA certificate " + cert_file.string());
            h.ra_cert_ = std::move(ra->first);
            h.ra_key_ = std::move(ra->second);
            return {};
        }
        auto ra = load_ra(h, spec, cert_file, key_file);
        if (!ra) return ra.err();
        h.ra_cert_ = std::move(ra->first);
        h.ra_key_ = std::move(ra->second);
        // pki.ra's usages changed since the RA was made: re-issue it (same
        // key and subject, so clients that pinned the key keep working).
        const std::string ku = comma_list(spec.ra.key_usage);
        const std::string eku = comma_list(spec.ra.extended_key_usage);
        if (!spec.bring_your_own && !spec.ra.shape.extensions && (!extension_is(*h.ra_cert_, NID_key_usage, ku.empty() ? "" : "critical," + ku) ||
                                     !extension_is(*h.ra_cert_, NID_ext_key_usage, eku))) {
            if (!h.issuing().key) return make_error("pki.ra usages changed, but re-issuing the RA needs the issuing CA key");
            auto made = sign_ra(spec.ra, h.issuing(), now, *X509_get_subject_name(h.ra_cert_.get()), *h.ra_key_, ku, eku);
            if (!made) return made.err();
            if (auto r = write_file(cert_file, x509_to_pem(**made), false); !r) return r;
            h.ra_cert_ = std::move(*made);
            note("re-issued the RA certificate " + cert_file.string() + " with key usage [" +
                 ku + "] and extended key usage [" + eku + "] (pki.ra)");
        }
        return {};
    }
};

namespace {

// The manifest is written last, so a directory with files but no manifest is
// what an interrupted first start of an older version left (this one
// generates elsewhere and renames). It is moved aside, never deleted and never
// loaded: its keys were never handed out.
result<void> set_aside_incomplete(const fs::path& dir, time_point now, const std::function<void(const std::string&)>& note) {
    std::error_code ec;
    bool empty = true;
    for (const auto& entry : fs::directory_iterator(dir, ec)) {
        if (entry.path().extension() == ".tmp") {
            fs::remove(entry.path(), ec);  // half of an interrupted write_file
            continue;
        }
        empty = false;
    }
    if (ec) return make_error("cannot read " + dir.string() + ": " + ec.message());
    if (empty) return {};
    const std::time_t t = std::chrono::system_clock::to_time_t(now);
    std::tm tm{};
    ::gmtime_r(&t, &tm);
    char stamp[32] = {};
    std::strftime(stamp, sizeof stamp, "%Y%m%dT%H%M%SZ", &tm);
    fs::path aside = dir;
    aside += std::string(".incomplete-") + stamp;
    for (int n = 2; fs::exists(aside, ec); ++n) {
        aside = dir;
        aside += std::string(".incomplete-") + stamp + "-" + std::to_string(n);
    }
    fs::rename(dir, aside, ec);
    if (ec)
        return make_error("the lab PKI in " + dir.string() +
                          " is incomplete (no " + manifest_name + ": an interrupted first start) and cannot be moved "
                          "aside (" + ec.message() + "); move it away to generate a new one");
    note("warning: the lab PKI in " + dir.string() + " was incomplete (an interrupted first start): moved to " +
         aside.string() + "; a new lab PKI is generated");
    fs::create_directories(dir, ec);
    if (ec) return make_error("cannot create " + dir.string() + ": " + ec.message());
    ::chmod(dir.c_str(), 0700);
    return {};
}

// Whether the process that made a ".<name>.new-<pid>-*" directory is gone
// (this process has not made one yet: its own pid is a leftover too, as in a
// container restarted with pid 1).
bool maker_is_gone(const std::string& name, const std::string& prefix) {
    const std::string rest = name.substr(prefix.size());
    const auto dash = rest.find('-');
    if (dash == 0 || dash == std::string::npos) return true;
    char* end = nullptr;
    const long pid = std::strtol(rest.c_str(), &end, 10);
    if (end != rest.c_str() + dash || pid <= 0) return true;
    if (pid == ::getpid()) return true;
    return ::kill(static_cast<pid_t>(pid), 0) != 0 && errno == ESRCH;
}

// A first start generates the PKI in a private directory beside `dir` and
// renames it into place: an interrupted start leaves either no PKI or a whole
// one (and a leftover ".<name>.new-<pid>-*" directory that a later start
// removes once its maker is gone).
result<hierarchy> generate_into_place(const hierarchy_spec& spec, const fs::path& dir, time_point now,
                                      const std::function<void(const std::string&)>& note) {
    std::error_code ec;
    const fs::path parent = dir.parent_path().empty() ? fs::path(".") : dir.parent_path();
    const std::string prefix = "." + dir.filename().string() + ".new-";
    for (const auto& entry : fs::directory_iterator(parent, ec)) {
        const std::string name = entry.path().filename().string();
        if (name.rfind(prefix, 0) == 0 && maker_is_gone(name, prefix)) {
            std::error_code ignored;
            fs::remove_all(entry.path(), ignored);
        }
    }
    std::string tmpl = (parent / (prefix + std::to_string(::getpid()) + "-XXXXXX")).string();
    if (!::mkdtemp(tmpl.data())) return make_error("cannot create a directory beside " + dir.string() + ": " + std::strerror(errno));
    const fs::path out(tmpl);
    auto h = hierarchy_builder::generate(spec, out, dir, now, note);
    if (h) {
        // `dir` is empty here: rename(2) replaces an empty directory in one step.
        fs::rename(out, dir, ec);
        if (ec && fs::exists(dir / manifest_name)) {
            // Another command generated one at the same time and was first:
            // that one is the lab's PKI.
            std::error_code ignored;
            fs::remove_all(out, ignored);
            note("another scep-lab generated the lab PKI at the same time; using it");
            return hierarchy_builder::load(spec, dir, note);
        }
        if (ec) h = make_error("cannot move the new lab PKI into " + dir.string() + ": " + ec.message());
    }
    if (!h) {
        std::error_code ignored;
        fs::remove_all(out, ignored);
    }
    return h;
}

}  // namespace

result<hierarchy> hierarchy::open(const hierarchy_spec& spec, const fs::path& dir, time_point now,
                                  const std::function<void(const std::string&)>& note) {
    if (auto r = validate(spec); !r) return r.err();
    std::error_code ec;
    fs::create_directories(dir, ec);
    if (ec) return make_error("cannot create " + dir.string() + ": " + ec.message());
    ::chmod(dir.c_str(), 0700);

    result<hierarchy> h = make_error("unreachable");
    if (spec.bring_your_own) {
        h = hierarchy_builder::load_byo(spec);
    } else if (fs::exists(dir / manifest_name)) {
        h = hierarchy_builder::load(spec, dir, note);
    } else {
        if (auto r = set_aside_incomplete(dir, now, note); !r) return r.err();
        h = generate_into_place(spec, dir, now, note);
        if (h) note("generated a new lab PKI in " + dir.string());
    }
    if (!h) return h;
    if (!spec.bring_your_own)
        if (auto r = hierarchy_builder::attach_rollover(*h, spec, dir); !r) return r.err();
    if (!h->generated_now_)
        if (auto r = hierarchy_builder::attach_ra(*h, spec, dir, now, note); !r) return r.err();

    // Warn about keys others can read (a copied data dir, a restored backup).
    for (const auto& entry : fs::directory_iterator(dir, ec)) {
        if (entry.path().extension() != ".key") continue;
        struct stat st {};
        if (::stat(entry.path().c_str(), &st) == 0 && (st.st_mode & 077))
            note("warning: " + entry.path().string() + " is readable by group or others; run chmod 600 on it");
    }

    std::string chain_pem;
    for (const X509* c : h->chain(true)) chain_pem += x509_to_pem(*c);
    // Replaced issuing CAs too, so that what they issued keeps verifying.
    for (const auto& p : h->previous_) chain_pem += x509_to_pem(*p.cert);
    h->chain_file_ = dir / "ca-chain.pem";
    if (auto r = write_file(h->chain_file_, chain_pem, false); !r) return r.err();
    return h;
}

result<std::string> prepare_rollover(const hierarchy_spec& spec, const fs::path& dir, time_point now, bool keep_ra) {
    if (spec.bring_your_own) return make_error("rollover works on a generated lab PKI, not on pki.source = \"files\"");
    auto h = hierarchy::open(spec, dir, now, [](const std::string&) {});
    if (!h) return h.err();
    if (h->next_issuing())
        return make_error("a next CA is already prepared (" + h->next_issuing()->cert_file.string() +
                          "); activate it with `scep-lab rollover --activate`");
    const tier_spec& t = spec.tiers.back();
    const std::size_t n = h->tiers().size();
    const ca_entry* parent = n >= 2 ? &h->tiers()[n - 2] : nullptr;
    // The next CA is a new CA: the lab's dates, not a clone's fixed ones.
    tier_spec next_tier = t;
    next_tier.shape.not_before.reset();
    next_tier.shape.not_after.reset();
    auto made = make_ca(next_tier, parent, 0, spec.ca_as_ra, now, spec.lab_url);
    if (!made) return made.err();
    auto& [cert, key] = *made;
    const std::string stem = t.name + ".next";
    if (auto r = write_pair(dir, stem, *cert, *key, spec.key_passphrase); !r) return r.err();
    std::string out = "prepared the next issuing CA " + (dir / (stem + ".crt")).string();
    if (!spec.ca_as_ra && !keep_ra) {
        ca_entry next{stem, std::move(cert), std::move(key), dir / (stem + ".crt")};
        auto ra = make_plain_ra(spec.ra, next, now, spec.lab_url);
        if (!ra) return ra.err();
        if (auto r = write_pair(dir, "ra.next", *ra->first, *ra->second, spec.key_passphrase); !r) return r.err();
        out += " and its RA " + (dir / "ra.next.crt").string();
    }
    return out;
}

result<std::string> activate_rollover(const hierarchy_spec& spec, const fs::path& dir) {
    const std::string name = spec.tiers.back().name;
    if (!fs::exists(dir / (name + ".next.crt")))
        return make_error("no next CA to activate: run `scep-lab rollover` first");
    auto previous = read_file(dir / previous_name);
    std::string list = previous ? *previous : std::string();
    int index = 1;
    while (fs::exists(dir / (name + ".old" + std::to_string(index) + ".crt"))) ++index;
    const std::string old_stem = name + ".old" + std::to_string(index);
    std::error_code ec;
    auto move = [&](const std::string& from, const std::string& to) {
        if (fs::exists(dir / from)) fs::rename(dir / from, dir / to, ec);
        return !ec;
    };
    bool ok = move(name + ".crt", old_stem + ".crt") && move(name + ".key", old_stem + ".key") &&
              move(name + ".next.crt", name + ".crt") && move(name + ".next.key", name + ".key");
    if (ok && fs::exists(dir / "ra.next.crt"))
        ok = move("ra.crt", "ra.old" + std::to_string(index) + ".crt") &&
             move("ra.key", "ra.old" + std::to_string(index) + ".key") && move("ra.next.crt", "ra.crt") &&
             move("ra.next.key", "ra.key");
    if (!ok) return make_error("activating the next CA in " + dir.string() + ": " + ec.message());
    if (auto r = write_file(dir / previous_name, list + old_stem + "\n", false); !r) return r.err();
    return "the next CA is now the issuing CA; the old one is kept as " + (dir / (old_stem + ".crt")).string() +
           ". Restart the server to use it.";
}

}  // namespace scep
