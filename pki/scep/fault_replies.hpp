// What an armed CertRep or GetCACert fault changes in a reply
// (docs/faults.md). The service calls these only when a rule fired.
#pragma once

#include <vector>

#include "pki/ca/hierarchy.hpp"
#include "pki/crypto/x509_build.hpp"
#include "pki/scep/faults.hpp"
#include "pki/scep/message.hpp"

namespace scep {

// A CA and an RA that no GetCACert returns: faults sign, encrypt and issue
// with them. Made on first use (two RSA 2048 keys), then shared.
struct foreign_identity {
    evp_pkey_ptr ca_key, ra_key;
    x509_ptr ca_cert, ra_cert;  // the RA certificate is issued by the foreign CA
};
result<const foreign_identity*> foreign(time_point now);

// Changes `p` as `rule` says. A rebuilt issued certificate is kept in
// `holder`, which must outlive `p`. `issuing` signs rebuilt certificates;
// `chain` is the CA chain (issuing first) for chain-in-degenerate.
result<void> apply_certrep_fault(const fault_rule& rule, cert_rep_params& p, x509_ptr& holder, const ca_entry& issuing,
                                 const std::vector<const X509*>& chain, time_point now);

// A SignedData's signed attributes in reverse DER order (X.690 §11.6 sorts a
// SET OF), signed again over the bytes as sent (RFC 5652 §5.4): the
// attributes-out-of-order reply fault, and the probe suite's request.
result<bytes> reorder_signed_attributes(bytes der, const EVP_PKEY& key, digest_alg digest);

// What a CertRep fault changes once the reply is signed: signed attributes
// out of DER order (attributes-out-of-order), signed again as sent. `der` is
// returned as it is when the rule asks for nothing of the kind.
result<bytes> finish_certrep_fault(bytes der, const cert_rep_params& p, const EVP_PKEY& ra_key);

// The certificates GetCACert answers under a getcacert-* fault, from the
// ones it normally answers (`ras` and `chain`, issuing CA first).
result<std::vector<const X509*>> faulty_ca_certs(fault_kind kind, const std::vector<const X509*>& ras,
                                                 const std::vector<const X509*>& chain, time_point now);

}  // namespace scep
