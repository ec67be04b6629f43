#include "pki/crypto/ossl.hpp"

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/provider.h>
#include <openssl/rand.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <mutex>
#include <sstream>

namespace scep {

std::string ossl_error(std::string_view what) {
    std::string out(what);
    bool first = true;
    while (unsigned long code = ERR_get_error()) {
        char buf[256];
        ERR_error_string_n(code, buf, sizeof buf);
        out += first ? ": " : "; ";
        out += buf;
        first = false;
    }
    return out;
}

namespace {
// Holds the provider references for the life of the process and releases
// them at exit, before libcrypto's own clean-up (so nothing is left behind).
struct provider_holder {
    OSSL_PROVIDER* default_provider = nullptr;
    OSSL_PROVIDER* legacy = nullptr;
    ~provider_holder() {
        if (legacy) OSSL_PROVIDER_unload(legacy);
        if (default_provider) OSSL_PROVIDER_unload(default_provider);
    }
};
std::once_flag providers_once;
bool legacy_loaded = false;
}  // namespace

bool load_providers() {
    std::call_once(providers_once, [] {
        // Loading "legacy" explicitly stops the implicit default provider from
        // being loaded, so load "default" as well.
        OSSL_PROVIDER* default_provider = OSSL_PROVIDER_load(nullptr, "default");
        OSSL_PROVIDER* legacy = OSSL_PROVIDER_load(nullptr, "legacy");
        // Constructed after libcrypto registered its exit handler, so this
        // destructor runs first (exit handlers run in reverse order).
        static provider_holder holder{default_provider, legacy};
        legacy_loaded = legacy != nullptr;
        ERR_clear_error();
    });
    return legacy_loaded;
}

bool legacy_provider_loaded() { return legacy_loaded; }

bytes random_bytes(std::size_t n) {
    bytes out(n);
    if (n > 0 && RAND_bytes(out.data(), static_cast<int>(n)) != 1)
        throw std::runtime_error(ossl_error("RAND_bytes"));
    return out;
}

std::string to_hex(byte_view data, bool upper) {
    static constexpr char lower_digits[] = "0123456789abcdef";
    static constexpr char upper_digits[] = "0123456789ABCDEF";
    const char* digits = upper ? upper_digits : lower_digits;
    std::string out;
    out.reserve(data.size() * 2);
    for (auto b : data) {
        out.push_back(digits[b >> 4]);
        out.push_back(digits[b & 0xf]);
    }
    return out;
}

bytes digest(const EVP_MD* md, byte_view data) {
    bytes out(EVP_MAX_MD_SIZE);
    unsigned int len = 0;
    if (EVP_Digest(data.data(), data.size(), out.data(), &len, md, nullptr) != 1)
        throw std::runtime_error(ossl_error("EVP_Digest"));
    out.resize(len);
    return out;
}

bytes sha256(byte_view data) { return digest(EVP_sha256(), data); }


result<x509_ptr> x509_from_pem(std::string_view pem) {
    bio_ptr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
    x509_ptr cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
    if (!cert) return make_error(ossl_error("no PEM certificate"));
    return cert;
}

result<std::vector<x509_ptr>> x509_list_from_pem(std::string_view pem) {
    bio_ptr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
    std::vector<x509_ptr> out;
    while (X509* c = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr)) out.emplace_back(c);
    unsigned long err = ERR_peek_last_error();
    if (ERR_GET_LIB(err) == ERR_LIB_PEM && ERR_GET_REASON(err) == PEM_R_NO_START_LINE) ERR_clear_error();
    if (out.empty()) return make_error(ossl_error("no PEM certificate"));
    ERR_clear_error();
    return out;
}

namespace {
// For objects this process built or already parsed, encoding fails only when
// memory runs out: that is an exception, not a result.
bytes must(result<bytes> r) {
    if (!r) throw std::runtime_error(r.message());
    return std::move(*r);
}
}  // namespace

bytes x509_to_der(const X509& cert) { return must(der_encode(cert, i2d_X509, "i2d_X509")); }

bytes bio_contents(BIO& bio) {
    char* data = nullptr;
    long len = BIO_get_mem_data(&bio, &data);
    return bytes(reinterpret_cast<std::uint8_t*>(data), reinterpret_cast<std::uint8_t*>(data) + len);
}

bool is_self_signed(const X509& cert) {
    X509* c = const_cast<X509*>(&cert);
    bool self = X509_NAME_cmp(X509_get_subject_name(c), X509_get_issuer_name(c)) == 0 &&
                X509_verify(c, X509_get0_pubkey(c)) == 1;
    ERR_clear_error();
    return self;
}

std::string x509_to_pem(const X509& cert) {
    bio_ptr bio(BIO_new(BIO_s_mem()));
    PEM_write_bio_X509(bio.get(), &cert);
    auto b = bio_contents(*bio);
    return std::string(b.begin(), b.end());
}



bytes x509_req_to_der(const X509_REQ& req) { return must(der_encode(req, i2d_X509_REQ, "i2d_X509_REQ")); }

std::string private_key_to_pem(const EVP_PKEY& key, const std::string& passphrase) {
    bio_ptr bio(BIO_new(BIO_s_mem()));
    int ok = passphrase.empty()
                 ? PEM_write_bio_PrivateKey(bio.get(), &key, nullptr, nullptr, 0, nullptr, nullptr)
                 : PEM_write_bio_PKCS8PrivateKey(bio.get(), &key, EVP_aes_256_cbc(), passphrase.data(),
                                                 static_cast<int>(passphrase.size()), nullptr, nullptr);
    if (ok != 1) throw std::runtime_error(ossl_error("PEM_write_bio_PrivateKey"));
    auto b = bio_contents(*bio);
    return std::string(b.begin(), b.end());
}

result<evp_pkey_ptr> private_key_from_pem(std::string_view pem, const std::string& passphrase) {
    bio_ptr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
    // The callback hands over the configured passphrase (or none), so an
    // encrypted key fails cleanly instead of prompting on the terminal.
    auto give = [](char* buf, int size, int, void* u) -> int {
        const auto* pass = static_cast<const std::string*>(u);
        int n = static_cast<int>(std::min<std::size_t>(pass->size(), static_cast<std::size_t>(size)));
        std::memcpy(buf, pass->data(), static_cast<std::size_t>(n));
        return n;
    };
    evp_pkey_ptr key(PEM_read_bio_PrivateKey(bio.get(), nullptr, give, const_cast<std::string*>(&passphrase)));
    if (!key) {
        bool encrypted = pem.find("ENCRYPTED") != std::string_view::npos;
        ERR_clear_error();
        if (encrypted)
            return make_error(passphrase.empty()
                                  ? "the private key is encrypted: give its passphrase in SCEP_LAB_KEY_PASSPHRASE "
                                    "or pki.key_passphrase_file"
                                  : "the private key does not open with the configured passphrase");
        return make_error("no readable PEM private key");
    }
    return key;
}

x509_ptr dup(const X509& cert) {
    X509_up_ref(const_cast<X509*>(&cert));
    return x509_ptr(const_cast<X509*>(&cert));
}

std::string name_to_string(const X509_NAME& name) {
    bio_ptr bio(BIO_new(BIO_s_mem()));
    X509_NAME_print_ex(bio.get(), &name, 0, XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB);
    auto b = bio_contents(*bio);
    return std::string(b.begin(), b.end());
}

std::string serial_hex(const X509& cert) {
    const ASN1_INTEGER* serial = X509_get0_serialNumber(&cert);
    bignum_ptr bn(ASN1_INTEGER_to_BN(serial, nullptr));
    char* hex = BN_bn2hex(bn.get());
    std::string out(hex);
    OPENSSL_free(hex);
    return out;
}

bytes public_key_sha256(const EVP_PKEY& key) { return sha256(must(der_encode(key, i2d_PUBKEY, "i2d_PUBKEY"))); }

bytes public_key_sha256(const X509_PUBKEY& spki) {
    return sha256(must(der_encode(spki, i2d_X509_PUBKEY, "i2d_X509_PUBKEY")));
}

std::string subject_alt_names(const X509& cert) {
    general_names_ptr names(static_cast<GENERAL_NAMES*>(
        X509_get_ext_d2i(&cert, NID_subject_alt_name, nullptr, nullptr)));
    if (!names) return {};
    std::string out;
    for (int i = 0; i < sk_GENERAL_NAME_num(names.get()); ++i) {
        const GENERAL_NAME* gn = sk_GENERAL_NAME_value(names.get(), i);
        std::string item;
        auto str = [](const ASN1_STRING* s) {
            return std::string(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
                               static_cast<std::size_t>(ASN1_STRING_length(s)));
        };
        switch (gn->type) {
            case GEN_DNS: item = "DNS:" + str(gn->d.dNSName); break;
            case GEN_EMAIL: item = "email:" + str(gn->d.rfc822Name); break;
            case GEN_URI: item = "URI:" + str(gn->d.uniformResourceIdentifier); break;
            case GEN_IPADD: {
                bio_ptr bio(BIO_new(BIO_s_mem()));
                GENERAL_NAME_print(bio.get(), const_cast<GENERAL_NAME*>(gn));
                auto b = bio_contents(*bio);
                item.assign(b.begin(), b.end());
                // GENERAL_NAME_print writes "IP Address:1.2.3.4"; keep the short prefix.
                if (item.rfind("IP Address:", 0) == 0) item = "IP:" + item.substr(11);
                break;
            }
            default: {
                bio_ptr bio(BIO_new(BIO_s_mem()));
                GENERAL_NAME_print(bio.get(), const_cast<GENERAL_NAME*>(gn));
                auto b = bio_contents(*bio);
                item.assign(b.begin(), b.end());
            }
        }
        if (!out.empty()) out += ',';
        out += item;
    }
    return out;
}

std::string time_to_iso8601(const ASN1_TIME& t) {
    struct tm tm {};
    if (ASN1_TIME_to_tm(&t, &tm) != 1) return {};
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return buf;
}

result<std::string> read_file(const std::filesystem::path& p) {
    std::ifstream in(p, std::ios::binary);
    if (!in) return make_error("cannot read " + p.string() + ": " + std::strerror(errno));
    std::ostringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

result<void> write_file(const std::filesystem::path& p, std::string_view data, bool private_key) {
    // Write to a temporary name and rename, so a crash never leaves half a
    // key. The temporary file is made anew (O_EXCL) and never through a
    // symbolic link (O_NOFOLLOW): one planted at "<name>.tmp" in a shared
    // directory fails the write instead of redirecting it. A leftover from a
    // crash is unlinked first (unlink removes a link, never its target); the
    // rename replaces `p` itself, not what a link there points to.
    auto tmp = p;
    tmp += ".tmp";
    if (::unlink(tmp.c_str()) != 0 && errno != ENOENT)
        return make_error("cannot remove the leftover " + tmp.string() + ": " + std::strerror(errno));
    int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, private_key ? 0600 : 0644);
    if (fd < 0) return make_error("cannot create " + tmp.string() + ": " + std::strerror(errno));
    auto fail = [&](const std::string& what, int e) {
        ::close(fd);
        ::unlink(tmp.c_str());
        return make_error(what + tmp.string() + ": " + std::strerror(e));
    };
    if (private_key && ::fchmod(fd, 0600) != 0) return fail("cannot restrict ", errno);
    std::size_t off = 0;
    while (off < data.size()) {
        ssize_t n = ::write(fd, data.data() + off, data.size() - off);
        if (n < 0) {
            if (errno == EINTR) continue;
            return fail("cannot write ", errno);
        }
        off += static_cast<std::size_t>(n);
    }
    if (::fsync(fd) != 0) return fail("cannot flush ", errno);
    if (::close(fd) != 0) {
        const int e = errno;
        ::unlink(tmp.c_str());
        return make_error("cannot close " + tmp.string() + ": " + std::strerror(e));
    }
    std::error_code ec;
    std::filesystem::rename(tmp, p, ec);
    if (ec) {
        ::unlink(tmp.c_str());
        return make_error("cannot rename " + tmp.string() + " to " + p.string() + ": " + ec.message());
    }
    return {};
}

}  // namespace scep
