#include "pki/evidence/tls_decrypt.hpp"

#include <openssl/core_names.h>
#include <openssl/err.h>

#include <cstdio>

#include "pki/crypto/encoding.hpp"
#include "pki/crypto/ossl.hpp"

namespace scep::evidence {

namespace {

struct suite_info {
    std::uint16_t id;
    const char* name;
    const char* cipher;  // OpenSSL's name
    std::size_t key_len, iv_len;
    const char* digest;
    bool tls13;
    bool explicit_nonce;  // TLS 1.2 AES-GCM: 8 bytes of nonce before each record's ciphertext
};

constexpr suite_info suites[] = {
    {0x1301, "TLS_AES_128_GCM_SHA256", "aes-128-gcm", 16, 12, "SHA256", true, false},
    {0x1302, "TLS_AES_256_GCM_SHA384", "aes-256-gcm", 32, 12, "SHA384", true, false},
    {0x1303, "TLS_CHACHA20_POLY1305_SHA256", "chacha20-poly1305", 32, 12, "SHA256", true, false},
    {0xC02F, "ECDHE-RSA-AES128-GCM-SHA256", "aes-128-gcm", 16, 4, "SHA256", false, true},
    {0xC030, "ECDHE-RSA-AES256-GCM-SHA384", "aes-256-gcm", 32, 4, "SHA384", false, true},
    {0xC02B, "ECDHE-ECDSA-AES128-GCM-SHA256", "aes-128-gcm", 16, 4, "SHA256", false, true},
    {0xC02C, "ECDHE-ECDSA-AES256-GCM-SHA384", "aes-256-gcm", 32, 4, "SHA384", false, true},
    {0x009E, "DHE-RSA-AES128-GCM-SHA256", "aes-128-gcm", 16, 4, "SHA256", false, true},
    {0x009F, "DHE-RSA-AES256-GCM-SHA384", "aes-256-gcm", 32, 4, "SHA384", false, true},
    {0x009C, "AES128-GCM-SHA256", "aes-128-gcm", 16, 4, "SHA256", false, true},
    {0x009D, "AES256-GCM-SHA384", "aes-256-gcm", 32, 4, "SHA384", false, true},
    {0xCCA8, "ECDHE-RSA-CHACHA20-POLY1305", "chacha20-poly1305", 32, 12, "SHA256", false, false},
    {0xCCA9, "ECDHE-ECDSA-CHACHA20-POLY1305", "chacha20-poly1305", 32, 12, "SHA256", false, false},
    {0xCCAA, "DHE-RSA-CHACHA20-POLY1305", "chacha20-poly1305", 32, 12, "SHA256", false, false},
};

const suite_info* find_suite(std::uint16_t id) {
    for (const auto& s : suites)
        if (s.id == id) return &s;
    return nullptr;
}

constexpr std::size_t max_record = 16384 + 2048;  // RFC 8446 §5.2: a ciphertext's limit
constexpr std::size_t tag_len = 16;

std::uint16_t be16(std::string_view s, std::size_t i) {
    return static_cast<std::uint16_t>(static_cast<std::uint8_t>(s[i]) << 8 | static_cast<std::uint8_t>(s[i + 1]));
}
std::size_t be24(std::string_view s, std::size_t i) {
    return static_cast<std::size_t>(static_cast<std::uint8_t>(s[i])) << 16 |
           static_cast<std::size_t>(static_cast<std::uint8_t>(s[i + 1])) << 8 | static_cast<std::uint8_t>(s[i + 2]);
}

std::string derive(const char* kdf_name, std::string digest, std::string secret, std::string info_or_seed,
                   std::size_t len, bool hkdf) {
    evp_kdf_ptr kdf(EVP_KDF_fetch(nullptr, kdf_name, nullptr));
    if (!kdf) return {};
    evp_kdf_ctx_ptr ctx(EVP_KDF_CTX_new(kdf.get()));
    if (!ctx) return {};
    int mode = EVP_KDF_HKDF_MODE_EXPAND_ONLY;
    OSSL_PARAM params[5];
    std::size_t n = 0;
    params[n++] = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, digest.data(), 0);
    params[n++] = OSSL_PARAM_construct_octet_string(hkdf ? OSSL_KDF_PARAM_KEY : OSSL_KDF_PARAM_SECRET, secret.data(),
                                                    secret.size());
    params[n++] = OSSL_PARAM_construct_octet_string(hkdf ? OSSL_KDF_PARAM_INFO : OSSL_KDF_PARAM_SEED,
                                                    info_or_seed.data(), info_or_seed.size());
    if (hkdf) params[n++] = OSSL_PARAM_construct_int(OSSL_KDF_PARAM_MODE, &mode);
    params[n] = OSSL_PARAM_construct_end();
    std::string out(len, '\0');
    if (EVP_KDF_derive(ctx.get(), reinterpret_cast<unsigned char*>(out.data()), len, params) != 1) {
        ERR_clear_error();
        return {};
    }
    return out;
}

// RFC 8446 §7.1 HKDF-Expand-Label with an empty context.
std::string expand_label(const std::string& digest, const std::string& secret, std::string_view label, std::size_t len) {
    const std::string full = "tls13 " + std::string(label);
    std::string info;
    info += static_cast<char>(len >> 8);
    info += static_cast<char>(len & 0xFF);
    info += static_cast<char>(full.size());
    info += full;
    info += '\0';
    return derive("HKDF", digest, secret, info, len, true);
}

// One AEAD record opened; false when the tag does not verify.
bool aead_open(const char* cipher_name, const std::string& key, const std::string& nonce, std::string_view aad,
               std::string_view sealed, std::string& out) {
    if (sealed.size() < tag_len) return false;
    const EVP_CIPHER* cipher = EVP_get_cipherbyname(cipher_name);
    evp_cipher_ctx_ptr ctx(EVP_CIPHER_CTX_new());
    if (!cipher || !ctx) return false;
    const auto* k = reinterpret_cast<const unsigned char*>(key.data());
    const auto* iv = reinterpret_cast<const unsigned char*>(nonce.data());
    int len = 0;
    out.assign(sealed.size() - tag_len, '\0');
    std::string tag(sealed.substr(sealed.size() - tag_len));
    const bool ok =
        EVP_DecryptInit_ex(ctx.get(), cipher, nullptr, nullptr, nullptr) == 1 &&
        EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_AEAD_SET_IVLEN, static_cast<int>(nonce.size()), nullptr) == 1 &&
        EVP_DecryptInit_ex(ctx.get(), nullptr, nullptr, k, iv) == 1 &&
        EVP_DecryptUpdate(ctx.get(), nullptr, &len, reinterpret_cast<const unsigned char*>(aad.data()),
                          static_cast<int>(aad.size())) == 1 &&
        EVP_DecryptUpdate(ctx.get(), reinterpret_cast<unsigned char*>(out.data()), &len,
                          reinterpret_cast<const unsigned char*>(sealed.data()), static_cast<int>(out.size())) == 1 &&
        EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_AEAD_SET_TAG, static_cast<int>(tag_len), tag.data()) == 1 &&
        EVP_DecryptFinal_ex(ctx.get(), reinterpret_cast<unsigned char*>(out.data()) + len, &len) == 1;
    ERR_clear_error();
    return ok;
}

// Calls fn(type, body) for each extension of a hello whose extensions
// block (its 2-byte length first) starts at `p`; stops at anything cut short.
template <class F>
void each_extension(std::string_view b, std::size_t p, F fn) {
    if (p + 2 > b.size()) return;
    const std::size_t end = std::min(b.size(), p + 2 + be16(b, p));
    p += 2;
    while (p + 4 <= end) {
        const std::uint16_t type = be16(b, p), len = be16(b, p + 2);
        p += 4;
        if (p + len > end) return;
        fn(type, b.substr(p, len));
        p += len;
    }
}

}  // namespace

namespace detail {

std::string client_hello_server_name(std::string_view b) {
    // version, random, session id, cipher suites, compression methods, then the extensions.
    std::size_t p = 34;
    if (p >= b.size()) return {};
    p += 1 + static_cast<std::uint8_t>(b[p]);
    if (p + 2 > b.size()) return {};
    p += 2 + be16(b, p);
    if (p >= b.size()) return {};
    p += 1 + static_cast<std::uint8_t>(b[p]);
    std::string name;
    each_extension(b, p, [&](std::uint16_t type, std::string_view ext) {
        // server_name (RFC 6066 §3): list length, name type 0, name length, name.
        if (type == 0 && ext.size() >= 5 && ext[2] == 0 && 5u + be16(ext, 3) <= ext.size())
            name = printable_text(ext.substr(5, be16(ext, 3)), 255, '?');
    });
    return name;
}

}  // namespace detail

result<tls_key_log> tls_key_log::read(std::istream& in, const std::string& name) {
    tls_key_log log;
    std::string line;
    std::size_t number = 0;
    while (std::getline(in, line)) {
        ++number;
        if (line.size() > 1024) return make_error(name + ": line " + std::to_string(number) + " is longer than 1 KiB: not a key log");
        if (!line.empty() && line.back() == '\r') line.pop_back();
        if (line.empty() || line[0] == '#') continue;
        const auto a = line.find(' ');
        const auto b = a == std::string::npos ? std::string::npos : line.find(' ', a + 1);
        if (b == std::string::npos) continue;
        auto random = hex_decode(line.substr(a + 1, b - a - 1));
        auto secret = hex_decode(line.substr(b + 1));
        if (!random || !secret || random->size() != 32 || secret->empty() || secret->size() > 64) continue;
        if (log.secrets_.size() >= 1000000)
            return make_error(name + ": more than 1,000,000 secrets (line " + std::to_string(number) + ")");
        log.secrets_[line.substr(0, a) + ' ' + std::string(random->begin(), random->end())] =
            std::string(secret->begin(), secret->end());
    }
    return log;
}

const std::string* tls_key_log::find(std::string_view label, std::string_view client_random) const {
    auto it = secrets_.find(std::string(label) + ' ' + std::string(client_random));
    return it == secrets_.end() ? nullptr : &it->second;
}

namespace detail {

struct tls_decryptor::direction {
    std::string buf;   // bytes of records not yet complete
    std::string hs;    // handshake bytes being read (plaintext, or decrypted in TLS 1.3)
    bool encrypted = false;
    bool application = false;  // TLS 1.3: past its Finished, on the traffic secret
    std::string secret, key, iv;
    std::uint64_t seq = 0;
};

tls_decryptor::tls_decryptor(const tls_key_log& keys) : keys_(keys) {
    dirs_[0] = std::make_unique<direction>();
    dirs_[1] = std::make_unique<direction>();
}

tls_decryptor::~tls_decryptor() = default;

bool tls_decryptor::decrypting() const { return ready_ && !failed_; }

std::string tls_decryptor::status() const {
    const suite_info* s = find_suite(suite_);
    if (ready_ && !failed_)
        return std::string("decrypted (") + (tls13_ ? "TLS 1.3, " : "TLS 1.2, ") + (s ? s->name : "?") + ")";
    if (!why_.empty()) return "not decrypted: " + why_;
    if (client_random_.empty()) return "not decrypted: no ClientHello in the capture";
    if (server_random_.empty()) return "not decrypted: no ServerHello in the capture";
    return "not decrypted";
}

void tls_decryptor::fail(std::string why) {
    if (failed_) return;
    failed_ = true;
    if (why_.empty()) why_ = std::move(why);
    for (auto& d : dirs_) {
        d->buf.clear();
        d->hs.clear();
    }
}

void tls_decryptor::feed(int dir, std::string_view data, std::string& plain) {
    if (failed_ || dir < 0 || dir > 1) return;
    direction& d = *dirs_[dir];
    d.buf.append(data);
    std::size_t pos = 0;
    while (!failed_ && d.buf.size() - pos >= 5) {
        const std::string_view rest(d.buf.data() + pos, d.buf.size() - pos);
        const auto type = static_cast<std::uint8_t>(rest[0]);
        const std::size_t len = be16(rest, 3);
        if (type < 20 || type > 24 || rest[1] != 0x03 || len > max_record) {
            fail("bytes that are not a TLS record");
            return;
        }
        if (rest.size() < 5 + len) break;
        record(dir, type, rest.substr(0, 5), rest.substr(5, len), plain);
        pos += 5 + len;
    }
    if (!failed_) d.buf.erase(0, pos);
}

void tls_decryptor::handshake_plain(int dir, std::string_view body) {
    direction& d = *dirs_[dir];
    d.hs.append(body);
    if (d.hs.size() > 65536) {
        fail("a handshake message longer than 64 KiB");
        return;
    }
    while (d.hs.size() >= 4) {
        const std::string_view m(d.hs);
        const std::size_t len = be24(m, 1);
        if (m.size() < 4 + len) return;
        const auto type = static_cast<std::uint8_t>(m[0]);
        const std::string_view b = m.substr(4, len);
        if (type == 1 && dir == 0 && b.size() >= 34) {  // ClientHello
            client_random_ = std::string(b.substr(2, 32));
            sni_ = client_hello_server_name(b);
        } else if (type == 2 && dir == 1 && b.size() >= 38) {  // ServerHello
            server_random_ = std::string(b.substr(2, 32));
            // RFC 8446 §4.1.3: a HelloRetryRequest is a ServerHello with this random.
            static const unsigned char hrr[32] = {0xCF, 0x21, 0xAD, 0x74, 0xE5, 0x9A, 0x61, 0x11, 0xBE, 0x1D, 0x8C,
                                                  0x02, 0x1E, 0x65, 0xB8, 0x91, 0xC2, 0xA2, 0x11, 0x16, 0x7A, 0xBB,
                                                  0x8C, 0x5E, 0x07, 0x9E, 0x09, 0xE2, 0xC8, 0xA8, 0x33, 0x9C};
            if (server_random_ == std::string(reinterpret_cast<const char*>(hrr), 32)) {
                fail("the server asked for another ClientHello (HelloRetryRequest)");
                return;
            }
            std::size_t p = 34;
            p += 1 + static_cast<std::uint8_t>(b[p]);
            if (p + 3 > b.size()) {
                fail("a ServerHello cut short");
                return;
            }
            suite_ = be16(b, p);
            each_extension(b, p + 3, [&](std::uint16_t type, std::string_view ext) {
                if (type == 43 && ext.size() == 2 && be16(ext, 0) == 0x0304) tls13_ = true;  // supported_versions
            });
            setup_keys();
            // TLS 1.3: everything after the ServerHello is encrypted, both ways.
            if (tls13_) dirs_[0]->encrypted = dirs_[1]->encrypted = true;
        }
        d.hs.erase(0, 4 + len);
    }
}

void tls_decryptor::setup_keys() {
    const suite_info* s = find_suite(suite_);
    if (!s || s->tls13 != tls13_) {
        char id[8];
        std::snprintf(id, sizeof id, "%04X", suite_);
        why_ = std::string("cipher suite 0x") + id + " is not decrypted here (the AEAD suites are)";
        return;
    }
    if (tls13_) {
        const std::string* c = keys_.find("CLIENT_HANDSHAKE_TRAFFIC_SECRET", client_random_);
        const std::string* sv = keys_.find("SERVER_HANDSHAKE_TRAFFIC_SECRET", client_random_);
        if (!c || !sv) {
            why_ = "the key log has no secrets for this session";
            return;
        }
        for (int i = 0; i < 2; ++i) {
            direction& d = *dirs_[i];
            d.secret = i == 0 ? *c : *sv;
            d.key = expand_label(s->digest, d.secret, "key", s->key_len);
            d.iv = expand_label(s->digest, d.secret, "iv", s->iv_len);
            d.seq = 0;
        }
    } else {
        const std::string* master = keys_.find("CLIENT_RANDOM", client_random_);
        if (!master) {
            why_ = "the key log has no secrets for this session";
            return;
        }
        const std::size_t n = 2 * s->key_len + 2 * s->iv_len;
        const std::string block = derive("TLS1-PRF", s->digest, *master,
                                         "key expansion" + server_random_ + client_random_, n, false);
        if (block.size() != n) {
            fail("the TLS 1.2 key block could not be derived");
            return;
        }
        dirs_[0]->key = block.substr(0, s->key_len);
        dirs_[1]->key = block.substr(s->key_len, s->key_len);
        dirs_[0]->iv = block.substr(2 * s->key_len, s->iv_len);
        dirs_[1]->iv = block.substr(2 * s->key_len + s->iv_len, s->iv_len);
    }
    if (dirs_[0]->key.empty() || dirs_[1]->key.empty()) {
        fail("the keys could not be derived");
        return;
    }
    ready_ = true;
}

void tls_decryptor::record(int dir, std::uint8_t type, std::string_view header, std::string_view body,
                           std::string& plain) {
    direction& d = *dirs_[dir];
    if (type == 20) {  // ChangeCipherSpec: TLS 1.2 encrypts what follows; TLS 1.3's is for middleboxes
        if (!tls13_) {
            d.encrypted = true;
            d.seq = 0;
        }
        return;
    }
    if (!d.encrypted) {
        if (type == 22) handshake_plain(dir, body);
        return;
    }
    if (!ready_ || failed_) return;
    const suite_info* s = find_suite(suite_);
    // The nonce: the IV with the sequence number XORed into its last 8 bytes
    // (TLS 1.3, ChaCha20), or the 4-byte salt and the record's explicit 8 bytes (TLS 1.2 AES-GCM).
    std::string nonce;
    std::string_view sealed = body;
    if (s->explicit_nonce) {
        if (body.size() < 8 + tag_len) return fail("an encrypted record cut short");
        nonce = d.iv + std::string(body.substr(0, 8));
        sealed = body.substr(8);
    } else {
        nonce = d.iv;
        for (int i = 0; i < 8; ++i) nonce[nonce.size() - 1 - i] ^= static_cast<char>((d.seq >> (8 * i)) & 0xFF);
    }
    std::string aad;
    if (tls13_) {
        aad = std::string(header);
    } else {
        for (int i = 7; i >= 0; --i) aad += static_cast<char>((d.seq >> (8 * i)) & 0xFF);
        const std::size_t plain_len = sealed.size() - std::min(sealed.size(), tag_len);
        aad += static_cast<char>(type);
        aad += header.substr(1, 2);
        aad += static_cast<char>(plain_len >> 8);
        aad += static_cast<char>(plain_len & 0xFF);
    }
    std::string out;
    if (!aead_open(s->cipher, d.key, nonce, aad, sealed, out))
        return fail("a record did not decrypt (record " + std::to_string(d.seq) + " of the " +
                    (dir == 0 ? "client" : "server") + "): the key log's secrets are not this session's");
    ++d.seq;
    std::uint8_t inner = type;
    if (tls13_) {
        // The inner plaintext: content, its real type, zero padding (RFC 8446 §5.2).
        while (!out.empty() && out.back() == '\0') out.pop_back();
        if (out.empty()) return fail("a TLS 1.3 record without a content type");
        inner = static_cast<std::uint8_t>(out.back());
        out.pop_back();
    }
    if (inner == 23) {
        plain.append(out);
        return;
    }
    if (inner != 22 || !tls13_) return;  // alerts; TLS 1.2's encrypted Finished
    // TLS 1.3 handshake messages: the Finished moves this direction to its
    // traffic secret, a KeyUpdate to the next one (RFC 8446 §7.2).
    d.hs.append(out);
    while (d.hs.size() >= 4) {
        const std::size_t len = be24(d.hs, 1);
        if (d.hs.size() < 4 + len) break;
        const auto htype = static_cast<std::uint8_t>(d.hs[0]);
        d.hs.erase(0, 4 + len);
        std::string next;
        if (htype == 20 && !d.application) {
            const std::string* secret =
                keys_.find(dir == 0 ? "CLIENT_TRAFFIC_SECRET_0" : "SERVER_TRAFFIC_SECRET_0", client_random_);
            if (!secret) return fail("the key log has the handshake secrets of this session but not its traffic secrets");
            next = *secret;
            d.application = true;
        } else if (htype == 24 && d.application) {
            next = expand_label(s->digest, d.secret, "traffic upd", d.secret.size());
        } else {
            continue;
        }
        d.secret = next;
        d.key = expand_label(s->digest, d.secret, "key", s->key_len);
        d.iv = expand_label(s->digest, d.secret, "iv", s->iv_len);
        d.seq = 0;
        if (d.key.empty()) return fail("the traffic keys could not be derived");
    }
    if (d.hs.size() > 65536) fail("a handshake message longer than 64 KiB");
}

}  // namespace detail
}  // namespace scep::evidence
