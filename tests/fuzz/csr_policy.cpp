// CSR parsing and every check scep-lab runs on a CSR: proof of possession,
// key policy, challengePassword extraction (all string types), template
// selection by keyUsage, subject rules, subjectAltName parsing and
// rebuilding, the pending-CSR copy without the challenge, and issuance when
// they pass.
#include <cstddef>
#include <cstdint>

#include "fuzz_support.hpp"
#include "pki/ca/issuer.hpp"
#include "pki/challenge/challenge.hpp"

using namespace scep;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const hierarchy& pki = fuzz::lab();
    static csr_policy policy{.min_rsa_bits = 1024, .min_ec_bits = 256};
    static issuer iss(pki, issuance_profile{}, policy, system_clock_fn());
    static issuance_profile strict = [] {
        issuance_profile p;
        p.name = "strict";
        p.required_subject = {"CN", "O"};
        return p;
    }();
    auto csr = x509_req_from_der(byte_view(data, size));
    if (!csr) return 0;
    (void)csr_challenge(**csr);
    (void)select_template_slot(**csr);
    (void)iss.check_subject(**csr, strict);
    (void)check_subject_name(*X509_REQ_get_subject_name(csr->get()), policy.names);
    // Whatever parses must rebuild, and a held copy must read back.
    for (bool wildcards : {false, true}) {
        auto sans = requested_sans(**csr, name_limits{.allow_wildcards = wildcards});
        if (sans && !build_san_extension(*sans, false)) __builtin_trap();
    }
    // What is kept of a held request reads back, or the request is refused.
    if (auto kept = csr_without_challenge(**csr); kept && !x509_req_from_der(*kept)) __builtin_trap();
    if (iss.check_csr(**csr)) {
        auto cert = iss.issue(**csr);
        if (!cert) __builtin_trap();  // a CSR that passes the checks must be issuable
    }
    return 0;
}
