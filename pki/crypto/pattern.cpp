#include "pki/crypto/pattern.hpp"

#include <re2/re2.h>

namespace scep {

result<pattern> pattern::compile(std::string_view expr) {
    if (expr.size() > max_length)
        return make_error("pattern longer than " + std::to_string(max_length) + " characters");
    RE2::Options opts;
    opts.set_log_errors(false);
    opts.set_max_mem(1 << 20);  // compiled program and DFA cache: 1 MiB a pattern
    auto re = std::make_shared<const re2::RE2>(re2::StringPiece(expr.data(), expr.size()), opts);
    if (!re->ok()) return make_error("\"" + std::string(expr) + "\" is not a regular expression: " + re->error());
    pattern p;
    p.re_ = std::move(re);
    p.source_ = std::string(expr);
    return p;
}

bool pattern::search(std::string_view text) const {
    if (!re_ || text.size() > max_input) return false;
    return re2::RE2::PartialMatch(re2::StringPiece(text.data(), text.size()), *re_);
}

bool pattern::full_match(std::string_view text) const {
    if (!re_ || text.size() > max_input) return false;
    return re2::RE2::FullMatch(re2::StringPiece(text.data(), text.size()), *re_);
}

std::string pattern::exactly(std::string_view text) {
    return "^" + re2::RE2::QuoteMeta(re2::StringPiece(text.data(), text.size())) + "$";
}

}  // namespace scep
