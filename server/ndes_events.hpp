// ndes.event_log: the Application-log events NDES would write for each
// failure (docs/ndes.md), as lines beside the normal log and in
// <data_dir>/ndes-events.log, tab-separated like Event Viewer's "Save All
// Events As... Text": Level, Date and Time, Source, Event ID, Task Category,
// then the text with the HRESULT. A customer's export can then be compared
// line by line.
#pragma once

#include <filesystem>
#include <fstream>
#include <memory>
#include <mutex>
#include <string>

#include "pki/crypto/result.hpp"
#include "server/logging.hpp"

namespace scep::server {

class ndes_event_log {
public:
    static constexpr const char* source = "Microsoft-Windows-NetworkDeviceEnrollmentService";

    // Opens (creates) the file for appending; an error names the file.
    static result<std::unique_ptr<ndes_event_log>> open(std::filesystem::path file, event_log& log);

    // One event (all of NDES's failure events are of level Error); the
    // transactionID goes to the normal log line only, as NDES's text has none.
    void write(int event_id, const std::string& text, const std::string& transaction_id);

    const std::filesystem::path& file() const { return file_; }

private:
    ndes_event_log(std::filesystem::path file, event_log& log, std::ofstream out)
        : file_(std::move(file)), log_(log), out_(std::move(out)) {}
    std::filesystem::path file_;
    event_log& log_;
    std::mutex mu_;
    std::ofstream out_;
};

}  // namespace scep::server
