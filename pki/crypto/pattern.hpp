// One regular-expression facility for every pattern that a client's text is
// matched against: fault rules (`when.subject`), approval.pending_subjects
// and challenge bindings (`subject_regex`). It is RE2, which matches in time
// linear in the input, with bounded memory and without recursion: neither a
// pattern such as (a+)+b nor a subject of 200,000 characters can hang a
// worker or overflow its stack (std::regex did both). RE2's syntax is
// POSIX/Perl-like without backreferences or lookaround (docs/security.md).
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

#include "pki/crypto/result.hpp"

namespace re2 {
class RE2;
}

namespace scep {

class pattern {
public:
    // Longest pattern accepted, and longest text matched: longer text never
    // matches (subjects are bounded far below it, docs/security.md).
    static constexpr std::size_t max_length = 1024;
    static constexpr std::size_t max_input = 64 * 1024;

    // The pattern, or an error naming why it does not compile.
    static result<pattern> compile(std::string_view expr);
    // The pattern text that matches exactly `text` and nothing else, anchored
    // at both ends (RE2's QuoteMeta: every character that is not a letter,
    // digit, '_' or part of a UTF-8 sequence escaped).
    static std::string exactly(std::string_view text);

    bool search(std::string_view text) const;      // matches anywhere in text
    bool full_match(std::string_view text) const;   // matches the whole text
    const std::string& source() const { return source_; }

private:
    std::shared_ptr<const re2::RE2> re_;  // shared: immutable and thread-safe once built
    std::string source_;
};

}  // namespace scep
