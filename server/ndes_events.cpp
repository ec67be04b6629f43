#include "server/ndes_events.hpp"


#include "pki/store/store.hpp"

namespace scep::server {

result<std::unique_ptr<ndes_event_log>> ndes_event_log::open(std::filesystem::path file, event_log& log) {
    std::error_code ec;
    const bool fresh = !std::filesystem::exists(file, ec);
    std::ofstream out(file, std::ios::app);
    if (!out) return make_error("cannot open the NDES event log " + file.string() + " for writing");
    if (fresh) out << "Level\tDate and Time\tSource\tEvent ID\tTask Category\n" << std::flush;
    return std::unique_ptr<ndes_event_log>(new ndes_event_log(std::move(file), log, std::move(out)));
}

void ndes_event_log::write(int event_id, const std::string& text, const std::string& transaction_id) {
    const std::string when = now_iso8601();
    {
        std::lock_guard lock(mu_);
        out_ << "Error\t" << when << '\t' << source << '\t' << event_id << "\tNone\t" << text << '\n' << std::flush;
    }
    log_.event(spdlog::level::warn, "ndes event",
               {{"source", source}, {"event_id", event_id}, {"level", "Error"},
                {"txid", transaction_id}, {"text", text}});
}

}  // namespace scep::server
