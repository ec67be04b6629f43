#include "pki/scep/challenge.hpp"

#include "pki/scep/service.hpp"

namespace scep {

std::optional<challenge_attr> csr_challenge(const X509_REQ& req) {
    int idx = X509_REQ_get_attr_by_NID(&req, NID_pkcs9_challengePassword, -1);
    if (idx < 0) return std::nullopt;
    X509_ATTRIBUTE* attr = X509_REQ_get_attr(&req, idx);
    ASN1_TYPE* t = X509_ATTRIBUTE_get0_type(attr, 0);
    if (!t) return std::nullopt;
    switch (t->type) {
        case V_ASN1_PRINTABLESTRING:
        case V_ASN1_UTF8STRING:
        case V_ASN1_IA5STRING:
        case V_ASN1_T61STRING:
        case V_ASN1_BMPSTRING:
        case V_ASN1_UNIVERSALSTRING:
        case V_ASN1_VISIBLESTRING: break;
        default: return std::nullopt;
    }
    const ASN1_STRING* s = t->value.asn1_string;
    challenge_attr out;
    out.asn1_type = t->type;
    if (t->type == V_ASN1_BMPSTRING || t->type == V_ASN1_UNIVERSALSTRING) {
        unsigned char* utf8 = nullptr;
        int len = ASN1_STRING_to_UTF8(&utf8, s);
        ossl_buffer_ptr owned(utf8);
        if (len < 0) return std::nullopt;
        out.value.assign(reinterpret_cast<char*>(utf8), static_cast<std::size_t>(len));
    } else {
        out.value.assign(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
                         static_cast<std::size_t>(ASN1_STRING_length(s)));
    }
    return out;
}

bytes csr_without_challenge(const X509_REQ& req) {
    x509_req_ptr copy(X509_REQ_dup(&req));
    if (!copy) throw std::bad_alloc();
    for (int idx; (idx = X509_REQ_get_attr_by_NID(copy.get(), NID_pkcs9_challengePassword, -1)) >= 0;)
        x509_attribute_ptr(X509_REQ_delete_attr(copy.get(), idx));
    return x509_req_to_der(*copy);
}


std::optional<challenge_refusal> static_challenge::verify(const std::optional<challenge_attr>& challenge) {
    using k = challenge_refusal::kind;
    if (secret_.empty()) return std::nullopt;
    if (!challenge) return challenge_refusal{k::missing, "the CSR has no challengePassword"};
    if (!constant_time_equal(challenge->value, secret_)) return challenge_refusal{k::wrong, "wrong challenge password"};
    return std::nullopt;
}

one_time_passwords::one_time_passwords(std::chrono::seconds validity, std::size_t capacity, std::size_t bytes,
                                       clock_fn clock)
    : validity_(validity), capacity_(capacity), bytes_(bytes), clock_(std::move(clock)) {}

void one_time_passwords::expire_locked(time_point now) {
    constexpr std::size_t remembered_expired = 64;
    for (auto it = unused_.begin(); it != unused_.end();) {
        if (it->second > now) {
            ++it;
            continue;
        }
        if (expired_.size() >= remembered_expired) expired_.erase(expired_.begin());
        expired_.insert(*it);
        it = unused_.erase(it);
    }
    std::erase_if(used_, [&](const auto& kv) { return kv.second <= now; });
}

std::optional<std::string> one_time_passwords::issue() {
    std::lock_guard lock(mu_);
    auto now = clock_();
    expire_locked(now);
    if (unused_.size() >= capacity_) return std::nullopt;
    std::string password = to_hex(random_bytes(bytes_), true);
    unused_.emplace(password, now + validity_);
    return password;
}

std::size_t one_time_passwords::unused() {
    std::lock_guard lock(mu_);
    expire_locked(clock_());
    return unused_.size();
}

std::optional<challenge_refusal> one_time_passwords::verify(const std::optional<challenge_attr>& challenge) {
    using k = challenge_refusal::kind;
    if (!challenge || challenge->value.empty()) return challenge_refusal{k::missing, "the CSR has no challengePassword"};
    std::lock_guard lock(mu_);
    auto now = clock_();
    // Look the password up before expiring, to tell "expired" from "unknown".
    expire_locked(now);
    auto it = unused_.find(challenge->value);
    if (it != unused_.end()) {
        used_.emplace(it->first, it->second);
        unused_.erase(it);  // single use (KB959193)
        return std::nullopt;
    }
    if (expired_.count(challenge->value))
        return challenge_refusal{k::expired, "the challenge password has expired (valid " +
                                                 std::to_string(validity_.count() / 60) +
                                                 " minutes); get a new one from the admin page"};
    if (used_.count(challenge->value))
        return challenge_refusal{k::used, "the challenge password has already been used; get a new one from the admin page"};
    return challenge_refusal{k::wrong, "unknown challenge password"};
}

}  // namespace scep
