// Parsing certificates, PKCS#10 requests and PKCS#7 messages without OpenSSL
// 3.0's provider decoders: the largest cost of an enrollment after its three
// private-key operations (docs/benchmarks.md, "Where the time goes").
//
// OpenSSL 3.0 decodes the public key of every SubjectPublicKeyInfo it parses
// by building an OSSL_DECODER context, which walks every decoder and key
// manager of the default provider under locks: 80-95 µs per key on the lab
// VM, a third of an RSA-2048 signature, and a SCEP request carries two keys
// (its signer certificate and its CSR). Here the structure is parsed through
// a library context holding only the "null" provider, where that step finds
// no decoder and OpenSSL leaves the key undecoded; each RSA or named-curve EC
// key is then read by the pre-3.0 reader (d2i_RSA_PUBKEY, d2i_EC_PUBKEY: a
// few µs) and attached. Attaching marks the structure modified, so OpenSSL
// encodes it again from its fields from then on (signature checks included);
// the result is therefore kept only when that encoding is byte for byte what
// was parsed. Anything else (other key types, explicit curve parameters,
// non-DER encodings inside, keys the old reader refuses) returns nullptr and
// the caller parses the standard way: accepted input, results and error
// messages stay those of d2i_X509, d2i_X509_REQ and d2i_PKCS7.
#pragma once

#include "pki/crypto/ossl.hpp"

namespace scep::fast_parse {

x509_ptr certificate(byte_view der);
x509_req_ptr request(byte_view der);
// Every certificate of a SignedData (nested SignedData included) gets its key;
// the PKCS#7 itself may be BER (indefinite lengths), as Apple devices send.
pkcs7_ptr pkcs7(byte_view der);

}  // namespace scep::fast_parse
