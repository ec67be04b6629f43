// The TOML configuration reader: any text gives settings that validate, or an
// error message; never a crash or an exception escaping.
#include <cstddef>
#include <cstdint>
#include <string>

#include "config/config.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    std::string text(reinterpret_cast<const char*>(data), size);
    auto s = scep::config::load_string(text, "fuzz.toml", scep::config::defaults());
    if (s) {
        if (!scep::config::validate(*s)) __builtin_trap();
        // What is printed must read back to the same settings.
        auto again = scep::config::load_string(scep::config::to_toml(*s, true), "again.toml", scep::config::settings{});
        if (!again || scep::config::to_toml(*again, true) != scep::config::to_toml(*s, true)) __builtin_trap();
        (void)scep::config::service_settings(*s);
        (void)scep::config::active_quirks(*s);
    } else if (s.message().empty()) {
        __builtin_trap();
    }
    return 0;
}
