#include "server/ndes_events.hpp"

#include <stdexcept>

#include "pki/store/store.hpp"

namespace scep::server {

ndes_event_log::ndes_event_log(std::filesystem::path file, event_log& log) : file_(std::move(file)), log_(log) {
    const bool fresh = !std::filesystem::exists(file_);
    out_.open(file_, std::ios::app);
    if (!out_) throw std::runtime_error("cannot open the NDES event log " + file_.string() + " for writing");
    if (fresh) out_ << "Level\tDate and Time\tSource\tEvent ID\tTask Category\n" << std::flush;
}

void ndes_event_log::write(int event_id, const std::string& text, const std::string& transaction_id) {
    const std::string when = now_iso8601();
    {
        std::lock_guard lock(mu_);
        out_ << "Error\t" << when << '\t' << source << '\t' << event_id << "\tNone\t" << text << '\n' << std::flush;
    }
    log_.event(spdlog::level::warn, "ndes event",
               {{"source", source}, {"event_id", std::to_string(event_id)}, {"level", "Error"},
                {"txid", transaction_id}, {"text", text}});
}

}  // namespace scep::server
