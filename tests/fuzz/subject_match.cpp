// Subject printing and matching, as every client-facing pattern sees a
// subject (docs/security.md, hardening round two): a Name built from the
// input — attributes of any type and length, in every ASN.1 string type, or
// the input read as a DER Name — goes through the bound check, the printed
// form patterns read, the fault plan's subject rules (one catastrophic for a
// backtracking engine) and a challenge binding by pattern.
#include <cstddef>
#include <cstdint>

#include <openssl/err.h>

#include "pki/ca/names.hpp"
#include "pki/crypto/ossl.hpp"
#include "pki/crypto/pattern.hpp"
#include "pki/scep/faults.hpp"

using namespace scep;

namespace {

constexpr int nids[] = {NID_commonName, NID_organizationName, NID_organizationalUnitName, NID_countryName,
                        NID_localityName, NID_pkcs9_emailAddress, NID_serialNumber, NID_domainComponent,
                        NID_title, NID_givenName};
constexpr int string_types[] = {V_ASN1_UTF8STRING, V_ASN1_PRINTABLESTRING, V_ASN1_IA5STRING, V_ASN1_T61STRING,
                                V_ASN1_BMPSTRING,  V_ASN1_UNIVERSALSTRING, V_ASN1_VISIBLESTRING, V_ASN1_NUMERICSTRING};

// mode 0: the rest is a DER Name. Otherwise: entries of
// [attribute][string type][length hi][length lo][bytes], a length repeated
// (mode's value times) to reach the long attributes of the attack.
x509_name_ptr name_from(const std::uint8_t* data, std::size_t size) {
    if (size == 0) return nullptr;
    if (data[0] == 0) {
        const unsigned char* p = data + 1;
        return x509_name_ptr(d2i_X509_NAME(nullptr, &p, static_cast<long>(size - 1)));
    }
    const std::size_t repeat = data[0];
    x509_name_ptr name(X509_NAME_new());
    std::size_t at = 1;
    while (at + 4 <= size && X509_NAME_entry_count(name.get()) < 32) {
        const int nid = nids[data[at] % std::size(nids)];
        const int type = string_types[data[at + 1] % std::size(string_types)];
        std::size_t len = (static_cast<std::size_t>(data[at + 2]) << 8 | data[at + 3]);
        at += 4;
        len = std::min(len, size - at);
        std::string value;
        for (std::size_t r = 0; r < repeat && value.size() < 300000; ++r)
            value.append(reinterpret_cast<const char*>(data + at), len);
        at += len;
        X509_NAME_add_entry_by_NID(name.get(), nid, type, reinterpret_cast<const unsigned char*>(value.data()),
                                   static_cast<int>(value.size()), -1, 0);
    }
    ERR_clear_error();
    return name;
}

fault_plan& plan() {
    static fault_plan* p = [] {
        auto* out = new fault_plan;  // lives as long as the process
        for (const char* s : {"(a+)+b", ".*CN=vip-.*", "^CN=laptop-42(,|$)", "O=.*x{2,}"}) {
            fault_rule r;
            r.kind = fault_kind::http_status;
            r.when.subject = s;
            if (!out->add(r)) __builtin_trap();
        }
        return out;
    }();
    return *p;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    auto name = name_from(data, size);
    if (!name) return 0;
    const name_limits limits;
    const bool within = check_subject_name(*name, limits).has_value();
    const std::string printed = subject_for_matching(*name);
    // What passes the bound check is printed for the patterns, and is short.
    if (within && printed.size() > 4 * name_limits::max_subject_bytes) __builtin_trap();
    (void)name_to_string(*name);
    (void)plan().take(fault_layer::http, {"PKIOperation", "PKCSReq", "T", "127.0.0.1", printed});
    static const pattern binding = *pattern::compile("CN=laptop-42(,.*)?");
    (void)binding.full_match(printed);
    ERR_clear_error();
    return 0;
}
