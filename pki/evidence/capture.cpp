// pcap and pcapng, read with our own bounded reader rather than libpcap (or
// libtins on top of it): libpcap reads from a FILE and reports a damaged
// file without the offset, cannot be given a memory bound per block, and
// is awkward to fuzz. The formats are small: pcap
// (https://www.tcpdump.org/manpages/pcap-savefile.5.html) and pcapng
// (https://www.ietf.org/archive/id/draft-ietf-opsawg-pcapng-02.html, IETF
// OPSAWG), link types from https://www.tcpdump.org/linktypes.html.
//
// Then IPv4/IPv6 and TCP, each connection reassembled in sequence order
// (bounded out-of-order buffer; a hole that never fills is a gap), and HTTP
// read from each direction (http_stream). TLS connections are reported as
// sessions: their content is not readable here.
#include <algorithm>
#include <array>
#include <cstring>
#include <deque>
#include <map>
#include <memory>
#include <unordered_map>

#include "pki/evidence/evidence.hpp"
#include "pki/evidence/http_stream.hpp"
#include "pki/evidence/text_time.hpp"
#include "pki/evidence/tls_decrypt.hpp"

namespace scep::evidence {

namespace {

using detail::http_stream;

std::uint16_t be16(const std::uint8_t* p) { return static_cast<std::uint16_t>(p[0] << 8 | p[1]); }
std::uint32_t be32(const std::uint8_t* p) {
    return static_cast<std::uint32_t>(p[0]) << 24 | static_cast<std::uint32_t>(p[1]) << 16 |
           static_cast<std::uint32_t>(p[2]) << 8 | p[3];
}

std::string ipv4_text(const std::uint8_t* p) {
    return std::to_string(p[0]) + "." + std::to_string(p[1]) + "." + std::to_string(p[2]) + "." + std::to_string(p[3]);
}

// RFC 5952 text: lower case, the longest run of zero groups as "::".
std::string ipv6_text(const std::uint8_t* p) {
    std::array<unsigned, 8> g{};
    for (int i = 0; i < 8; ++i) g[i] = be16(p + 2 * i);
    int best = -1, best_len = 0;
    for (int i = 0; i < 8;) {
        if (g[i] != 0) {
            ++i;
            continue;
        }
        int j = i;
        while (j < 8 && g[j] == 0) ++j;
        if (j - i > best_len && j - i >= 2) {
            best = i;
            best_len = j - i;
        }
        i = j;
    }
    static const char* hex = "0123456789abcdef";
    auto group = [&](unsigned v) {
        std::string s;
        bool lead = true;
        for (int shift = 12; shift >= 0; shift -= 4) {
            unsigned d = (v >> shift) & 0xF;
            if (d == 0 && lead && shift > 0) continue;
            lead = false;
            s += hex[d];
        }
        return s;
    };
    std::string out;
    for (int i = 0; i < 8; ++i) {
        if (i == best) {
            out += "::";
            i += best_len - 1;
            continue;
        }
        if (!out.empty() && out.back() != ':') out += ':';
        out += group(g[i]);
    }
    return out;
}

// One captured packet, after the link layer.
struct packet {
    time_point time;
    const std::uint8_t* data = nullptr;  // the network-layer header
    std::size_t size = 0;
    std::uint64_t number = 0;  // 1-based, as Wireshark counts
    std::uint64_t offset = 0;  // the record's offset in the file
};

struct tcp_segment {
    std::string src, dst;
    std::uint16_t sport = 0, dport = 0;
    std::uint32_t seq = 0;
    bool syn = false, ack = false, fin = false, rst = false;
    std::string_view payload;
};

// One direction of a connection, in sequence order.
struct half {
    bool have_seq = false;
    std::uint32_t next = 0;      // the next sequence number expected
    std::uint64_t position = 0;  // the same, counted from the first byte (no wrap)
    std::map<std::uint64_t, std::string> pending;  // out of order, by position
    std::size_t pending_bytes = 0;
    bool fin = false;
};

enum class conn_kind { unknown, http, tls, other };

struct connection {
    // side 0 is the one that sent the first packet; `client` says which is the client.
    std::string addr[2];
    std::uint16_t port[2] = {0, 0};
    int client = -1;
    conn_kind kind = conn_kind::unknown;
    half halves[2];
    std::unique_ptr<http_stream> requests, responses;
    std::unique_ptr<detail::tls_decryptor> tls;  // with a key log: TLS opened, HTTP read inside
    std::deque<http_message> waiting;  // requests without their response yet
    time_point first{}, last{};
    std::uint64_t bytes = 0;
    std::string sni;
    place at;
    bool syn_seen = false;
    int syn_side = -1;
};

// The SNI of a TLS ClientHello in the first record, when it is all there.
std::string client_hello_sni(std::string_view rec) {
    if (rec.size() < 9 || static_cast<std::uint8_t>(rec[0]) != 0x16 || static_cast<std::uint8_t>(rec[5]) != 0x01) return {};
    return detail::client_hello_server_name(rec.substr(9));
}

class tcp_follower {
public:
    tcp_follower(std::string file, sink& out, const limits& lim) : file_(std::move(file)), out_(out), lim_(lim) {}

    void segment(const packet& pk, const tcp_segment& s) {
        packet_ = pk.number;
        const std::string key_a = s.src + "|" + std::to_string(s.sport) + "|" + s.dst + "|" + std::to_string(s.dport);
        const std::string key_b = s.dst + "|" + std::to_string(s.dport) + "|" + s.src + "|" + std::to_string(s.sport);
        auto it = conns_.find(key_a);
        int side = 0;
        if (it == conns_.end()) {
            it = conns_.find(key_b);
            side = 1;
        }
        // A new SYN on a connection that carried data: the ports were reused.
        if (it != conns_.end() && s.syn && !s.ack && it->second->bytes > 0) {
            finish(*it->second);
            conns_.erase(it);
            it = conns_.end();
        }
        if (it == conns_.end()) {
            if (s.rst || (s.fin && s.payload.empty())) return;  // the end of something not followed
            if (conns_.size() >= lim_.max_connections) evict(pk);
            auto c = std::make_unique<connection>();
            c->addr[0] = s.src;
            c->addr[1] = s.dst;
            c->port[0] = s.sport;
            c->port[1] = s.dport;
            c->first = pk.time;
            c->at = {file_, "packet " + std::to_string(pk.number)};
            it = conns_.emplace(key_a, std::move(c)).first;
            side = 0;
        }
        connection& c = *it->second;
        c.last = pk.time;
        if (s.syn && !s.ack && !c.syn_seen) {
            c.syn_seen = true;
            c.syn_side = side;
        }
        half& h = c.halves[side];
        if (s.syn) {
            h.have_seq = true;
            h.next = s.seq + 1;
        } else if (!h.have_seq) {
            h.have_seq = true;
            h.next = s.seq;
        }
        const std::uint32_t data_seq = s.syn ? s.seq + 1 : s.seq;
        if (!s.payload.empty()) {
            c.bytes += s.payload.size();
            // TLS without a key log and other protocols are counted, not followed.
            if (c.kind == conn_kind::unknown || c.kind == conn_kind::http || c.tls)
                accept(c, side, data_seq, s.payload, pk.time);
        }
        if (s.fin) {
            h.fin = true;
            flush_pending(c, side, pk.time);
        }
        if (s.rst || (c.halves[0].fin && c.halves[1].fin)) {
            finish(c);
            conns_.erase(it);
        }
    }

    void end_of_capture() {
        for (auto& [k, c] : conns_) finish(*c);
        conns_.clear();
    }

private:
    void evict(const packet& pk) {
        auto oldest = conns_.begin();
        for (auto i = conns_.begin(); i != conns_.end(); ++i)
            if (i->second->last < oldest->second->last) oldest = i;
        out_.note({file_, "packet " + std::to_string(pk.number)},
                  "more than " + std::to_string(lim_.max_connections) +
                      " TCP connections open at once: the least recently active one was closed early");
        finish(*oldest->second);
        conns_.erase(oldest);
    }

    // Bytes at `seq` of one direction: delivered in order, held while a gap
    // before them may still fill (retransmissions, reordering).
    void accept(connection& c, int side, std::uint32_t seq, std::string_view data, time_point t) {
        half& h = c.halves[side];
        const auto diff = static_cast<std::int32_t>(seq - h.next);
        if (diff < 0 && h.position < static_cast<std::uint64_t>(-static_cast<std::int64_t>(diff))) {
            // Before the first byte followed: only the part after it counts.
            const auto skip = static_cast<std::size_t>(-static_cast<std::int64_t>(diff));
            if (skip >= data.size()) return;
            data.remove_prefix(skip);
            return accept(c, side, h.next, data, t);
        }
        const std::uint64_t at = h.position + static_cast<std::uint64_t>(static_cast<std::int64_t>(diff));
        if (at <= h.position) {
            const auto skip = static_cast<std::size_t>(h.position - at);
            if (skip >= data.size()) return;  // a retransmission of what was delivered
            advance(c, side, data.substr(skip), t);
            drain(c, side, t);
            return;
        }
        if (h.pending.size() >= 4096 || h.pending_bytes + data.size() > lim_.max_out_of_order ||
            total_pending_ + data.size() > 16 * lim_.max_out_of_order) {
            // The hole before what waits is not going to fill: a gap.
            flush_pending(c, side, t);
            return accept(c, side, seq, data, t);
        }
        auto [pos, inserted] = h.pending.emplace(at, std::string(data));
        if (inserted) {
            h.pending_bytes += data.size();
            total_pending_ += data.size();
        } else if (pos->second.size() < data.size()) {
            h.pending_bytes += data.size() - pos->second.size();
            total_pending_ += data.size() - pos->second.size();
            pos->second = std::string(data);
        }
    }

    void advance(connection& c, int side, std::string_view data, time_point t) {
        half& h = c.halves[side];
        h.next += static_cast<std::uint32_t>(data.size());
        h.position += data.size();
        deliver(c, side, data, t);
    }

    // What waited and now follows on.
    void drain(connection& c, int side, time_point t) {
        half& h = c.halves[side];
        while (!h.pending.empty() && h.pending.begin()->first <= h.position) {
            auto node = h.pending.extract(h.pending.begin());
            h.pending_bytes -= node.mapped().size();
            total_pending_ -= node.mapped().size();
            const auto skip = h.position - node.key();
            if (skip < node.mapped().size()) advance(c, side, std::string_view(node.mapped()).substr(skip), t);
        }
    }

    // The connection ends or the buffer is full: holes become gaps.
    void flush_pending(connection& c, int side, time_point t) {
        half& h = c.halves[side];
        while (!h.pending.empty()) {
            const auto first = h.pending.begin()->first;
            if (first > h.position) {
                lost(c, side, static_cast<std::size_t>(first - h.position));
                h.next += static_cast<std::uint32_t>(first - h.position);
                h.position = first;
            }
            drain(c, side, t);
        }
    }

    void lost(connection& c, int side, std::size_t n) {
        if (c.kind == conn_kind::http) stream(c, side).gap(n);
        // Records cannot be read across a hole: what was opened stays, the rest is not read.
        if (c.tls) c.tls->gap();
    }

    http_stream& stream(connection& c, int side) { return side == c.client ? *c.requests : *c.responses; }

    void classify(connection& c, int side, std::string_view data) {
        if (detail::looks_like_request(data)) {
            c.kind = conn_kind::http;
            c.client = side;
        } else if (detail::looks_like_response(data)) {
            c.kind = conn_kind::http;
            c.client = 1 - side;
        } else if (data.size() >= 6 && static_cast<std::uint8_t>(data[0]) == 0x16 &&
                   static_cast<std::uint8_t>(data[1]) == 0x03) {
            c.kind = conn_kind::tls;
            c.client = static_cast<std::uint8_t>(data[5]) == 0x01 ? side : 1 - side;
            if (c.client == side) c.sni = client_hello_sni(data);
            if (lim_.tls_keys) {
                c.tls = std::make_unique<detail::tls_decryptor>(*lim_.tls_keys);
                c.requests = std::make_unique<http_stream>(http_stream::role::requests, lim_);
                c.responses = std::make_unique<http_stream>(http_stream::role::responses, lim_);
            }
        } else {
            c.kind = conn_kind::other;
            c.client = c.syn_side >= 0 ? c.syn_side : 0;
        }
        if (c.kind == conn_kind::http) {
            c.requests = std::make_unique<http_stream>(http_stream::role::requests, lim_);
            c.responses = std::make_unique<http_stream>(http_stream::role::responses, lim_);
        }
    }

    void deliver(connection& c, int side, std::string_view data, time_point t) {
        if (c.kind == conn_kind::unknown) classify(c, side, data);
        if (c.tls) {
            std::string plain;
            c.tls->feed(side == c.client ? 0 : 1, data, plain);
            if (plain.empty()) return;
            stream(c, side).feed(plain, t, packet_);
            collect(c);
            return;
        }
        if (c.kind != conn_kind::http) return;
        http_stream& s = stream(c, side);
        s.feed(data, t, packet_);
        collect(c);
    }

    // Requests wait for their responses; each response answers the oldest.
    void collect(connection& c) {
        for (auto& m : c.requests->take()) {
            c.responses->expect_method(m.method);
            c.waiting.push_back(std::move(m));
        }
        for (auto& m : c.responses->take()) {
            if (c.waiting.empty()) continue;  // an answer to a request the capture does not have
            http_exchange x = base(c);
            x.request = std::move(c.waiting.front());
            c.waiting.pop_front();
            x.response = std::move(m);
            if (x.request.packet) x.at.where = "packet " + std::to_string(x.request.packet);
            out_.exchange(std::move(x));
        }
    }

    http_exchange base(const connection& c) const {
        http_exchange x;
        x.client = c.addr[c.client];
        x.server = c.addr[1 - c.client];
        x.client_port = c.port[c.client];
        x.server_port = c.port[1 - c.client];
        x.tls = c.tls != nullptr;
        x.at = c.at;
        return x;
    }

    void finish(connection& c) {
        for (int side = 0; side < 2; ++side) flush_pending(c, side, c.last);
        for (auto& h : c.halves) {
            total_pending_ -= std::min(total_pending_, h.pending_bytes);
            h.pending.clear();
            h.pending_bytes = 0;
        }
        if (c.kind == conn_kind::http || c.tls) {
            c.requests->end();
            c.responses->end();
            collect(c);
            for (const auto* s : {c.requests.get(), c.responses.get()})
                if (s->failed() && s->why().find("lost") == std::string::npos)
                    out_.note(c.at, "HTTP on " + c.addr[c.client] + ":" + std::to_string(c.port[c.client]) + " -> " +
                                        c.addr[1 - c.client] + ":" + std::to_string(c.port[1 - c.client]) +
                                        " not followed further: " + s->why());
            while (!c.waiting.empty()) {
                http_exchange x = base(c);
                x.request = std::move(c.waiting.front());
                c.waiting.pop_front();
                if (x.request.packet) x.at.where = "packet " + std::to_string(x.request.packet);
                out_.exchange(std::move(x));
            }
        }
        if (c.kind == conn_kind::tls) {
            tls_session t;
            t.content = c.tls ? c.tls->status() : "not readable: no key log (--tls-keylog) was given";
            if (c.tls && !c.tls->sni().empty()) c.sni = c.tls->sni();
            t.client = c.addr[c.client];
            t.server = c.addr[1 - c.client];
            t.client_port = c.port[c.client];
            t.server_port = c.port[1 - c.client];
            t.sni = c.sni;
            t.start = c.first;
            t.end = c.last;
            t.bytes = c.bytes;
            t.at = c.at;
            out_.tls(std::move(t));
        }
    }

    std::string file_;
    sink& out_;
    const limits& lim_;
    std::unordered_map<std::string, std::unique_ptr<connection>> conns_;
    std::size_t total_pending_ = 0;  // out-of-order bytes held, all connections
    std::uint64_t packet_ = 0;       // the packet being read
};

// The bytes of a file, read in order with the offset known; every length
// comes from the file and is checked before anything is allocated for it.
class file_reader {
public:
    file_reader(std::istream& in, std::string name) : in_(in), name_(std::move(name)) {}
    // false at the end of the file (nothing read); an error when it ends inside.
    result<bool> read(void* dst, std::size_t n, const char* what) {
        in_.read(static_cast<char*>(dst), static_cast<std::streamsize>(n));
        const auto got = static_cast<std::size_t>(in_.gcount());
        offset_ += got;
        if (got == n) return true;
        if (got == 0 && in_.eof()) return false;
        return make_error(name_ + ": the file ends inside " + what + " at offset " + std::to_string(offset_) + " (" +
                          std::to_string(got) + " of " + std::to_string(n) + " bytes)");
    }
    result<void> skip(std::size_t n, const char* what) {
        char tmp[4096];
        while (n > 0) {
            auto step = std::min(n, sizeof tmp);
            auto r = read(tmp, step, what);
            if (!r) return r.err();
            if (!*r) return make_error(name_ + ": the file ends inside " + what + " at offset " + std::to_string(offset_));
            n -= step;
        }
        return {};
    }
    std::uint64_t offset() const { return offset_; }
    const std::string& name() const { return name_; }

private:
    std::istream& in_;
    std::string name_;
    std::uint64_t offset_ = 0;
};

// Link types (https://www.tcpdump.org/linktypes.html) read here.
constexpr std::uint32_t link_null = 0, link_ethernet = 1, link_raw = 101, link_loop = 108, link_sll = 113,
                        link_ipv4 = 228, link_ipv6 = 229, link_sll2 = 276;

bool link_supported(std::uint32_t l) {
    return l == link_null || l == link_ethernet || l == link_raw || l == 12 || l == 14 || l == link_loop ||
           l == link_sll || l == link_ipv4 || l == link_ipv6 || l == link_sll2;
}

class packet_decoder {
public:
    packet_decoder(tcp_follower& tcp, sink& out, std::string file) : tcp_(tcp), out_(out), file_(std::move(file)) {}

    void frame(std::uint32_t link, const packet& pk) {
        const std::uint8_t* p = pk.data;
        std::size_t n = pk.size;
        int family = 0;  // 4 or 6; 0: from the IP version nibble
        switch (link) {
            case link_ethernet: {
                if (n < 14) return;
                std::uint16_t type = be16(p + 12);
                p += 14;
                n -= 14;
                while ((type == 0x8100 || type == 0x88a8) && n >= 4) {  // VLAN tags
                    type = be16(p + 2);
                    p += 4;
                    n -= 4;
                }
                if (type == 0x0800) family = 4;
                else if (type == 0x86dd) family = 6;
                else return;
                break;
            }
            case link_null:
            case link_loop: {
                if (n < 4) return;
                p += 4;  // the address family (host or network order): the IP version nibble says the same
                n -= 4;
                break;
            }
            case link_sll: {
                if (n < 16) return;
                const std::uint16_t type = be16(p + 14);
                if (type != 0x0800 && type != 0x86dd) return;
                p += 16;
                n -= 16;
                break;
            }
            case link_sll2: {
                if (n < 20) return;
                const std::uint16_t type = be16(p);
                if (type != 0x0800 && type != 0x86dd) return;
                p += 20;
                n -= 20;
                break;
            }
            default: break;  // raw IP
        }
        if (n < 1) return;
        const int version = p[0] >> 4;
        if (family != 0 && family != version) return;
        if (version == 4) ipv4(pk, p, n);
        else if (version == 6) ipv6(pk, p, n);
    }

private:
    void ipv4(const packet& pk, const std::uint8_t* p, std::size_t n) {
        if (n < 20) return;
        const std::size_t ihl = static_cast<std::size_t>(p[0] & 0x0F) * 4;
        const std::size_t total = be16(p + 2);
        if (ihl < 20 || total < ihl || n < ihl) return;
        if (total <= n) n = total;  // Ethernet padding
        const std::uint16_t frag = be16(p + 6);
        if ((frag & 0x3FFF) != 0) {  // a fragment (more-fragments set, or an offset)
            if (!fragment_said_) {
                out_.note({file_, "packet " + std::to_string(pk.number)},
                          "IP fragments are not reassembled: TCP in fragmented packets is not read");
                fragment_said_ = true;
            }
            return;
        }
        if (p[9] != 6) return;
        tcp(pk, ipv4_text(p + 12), ipv4_text(p + 16), p + ihl, n - ihl);
    }

    void ipv6(const packet& pk, const std::uint8_t* p, std::size_t n) {
        if (n < 40) return;
        const std::size_t payload = be16(p + 4);
        if (40 + payload <= n) n = 40 + payload;
        std::uint8_t next = p[6];
        std::size_t off = 40;
        // Extension headers before TCP: hop-by-hop, routing, destination options.
        for (int i = 0; i < 8 && (next == 0 || next == 43 || next == 60); ++i) {
            if (off + 8 > n) return;
            const std::uint8_t following = p[off];
            off += (static_cast<std::size_t>(p[off + 1]) + 1) * 8;
            next = following;
        }
        if (next == 44 && !fragment_said_) {
            out_.note({file_, "packet " + std::to_string(pk.number)},
                      "IP fragments are not reassembled: TCP in fragmented packets is not read");
            fragment_said_ = true;
        }
        if (next != 6 || off > n) return;
        tcp(pk, ipv6_text(p + 8), ipv6_text(p + 24), p + off, n - off);
    }

    void tcp(const packet& pk, std::string src, std::string dst, const std::uint8_t* p, std::size_t n) {
        if (n < 20) return;
        const std::size_t header = static_cast<std::size_t>(p[12] >> 4) * 4;
        if (header < 20 || header > n) return;
        tcp_segment s;
        s.src = std::move(src);
        s.dst = std::move(dst);
        s.sport = be16(p);
        s.dport = be16(p + 2);
        s.seq = be32(p + 4);
        const std::uint8_t flags = p[13];
        s.fin = flags & 0x01;
        s.syn = flags & 0x02;
        s.rst = flags & 0x04;
        s.ack = flags & 0x10;
        s.payload = std::string_view(reinterpret_cast<const char*>(p + header), n - header);
        tcp_.segment(pk, s);
    }

    tcp_follower& tcp_;
    sink& out_;
    std::string file_;
    bool fragment_said_ = false;
};

std::uint32_t swap32(std::uint32_t v) {
    return (v >> 24) | ((v >> 8) & 0xFF00) | ((v << 8) & 0xFF0000) | (v << 24);
}
std::uint16_t swap16(std::uint16_t v) { return static_cast<std::uint16_t>((v >> 8) | (v << 8)); }

std::uint32_t le32(const std::uint8_t* p) {
    return static_cast<std::uint32_t>(p[3]) << 24 | static_cast<std::uint32_t>(p[2]) << 16 |
           static_cast<std::uint32_t>(p[1]) << 8 | p[0];
}

time_point from_units(std::uint64_t units, std::uint64_t per_second) {
    // Microsecond resolution is plenty for a timeline; no overflow for any 64-bit value.
    const std::uint64_t secs = units / per_second;
    const std::uint64_t frac = units % per_second;
    const auto micros = static_cast<std::int64_t>(per_second >= 1000000 ? frac / (per_second / 1000000)
                                                                         : frac * (1000000 / per_second));
    return clamped_time(static_cast<std::int64_t>(std::min<std::uint64_t>(secs, 1ull << 40)), micros);
}

result<void> read_pcap(file_reader& f, const std::uint8_t* magic, const std::string& name, sink& out,
                       const limits& lim) {
    std::uint8_t rest[20];
    auto got = f.read(rest, sizeof rest, "the pcap file header");
    if (!got) return got.err();
    if (!*got) return make_error(name + ": the pcap file header is cut short");
    const std::uint32_t m = le32(magic);
    const bool swapped = m == 0xd4c3b2a1 || m == 0x4d3cb2a1;
    const bool nano = m == 0xa1b23c4d || m == 0x4d3cb2a1;
    auto u32 = [&](const std::uint8_t* p) { return swapped ? swap32(le32(p)) : le32(p); };
    const std::uint32_t link = u32(rest + 16) & 0x0FFFFFFF;
    if (!link_supported(link))
        return make_error(name + ": pcap link type " + std::to_string(link) +
                          " is not read (Ethernet, Linux cooked, loopback and raw IP are)");
    tcp_follower tcp(name, out, lim);
    packet_decoder dec(tcp, out, name);
    std::vector<std::uint8_t> buf;
    std::uint64_t number = 0;
    for (;;) {
        std::uint8_t h[16];
        const auto at = f.offset();
        auto r = f.read(h, sizeof h, "a packet record header");
        if (!r) {
            tcp.end_of_capture();
            return r.err();
        }
        if (!*r) break;
        ++number;
        const std::uint32_t caplen = u32(h + 8);
        if (caplen > lim.max_packet) {
            tcp.end_of_capture();
            return make_error(name + ": packet " + std::to_string(number) + " at offset " + std::to_string(at) +
                              " claims " + std::to_string(caplen) + " captured bytes (at most " +
                              std::to_string(lim.max_packet) + " are read): the file is damaged");
        }
        buf.resize(caplen);
        auto d = f.read(buf.data(), caplen, "a packet");
        if (!d || !*d) {
            tcp.end_of_capture();
            if (!d) return d.err();
            if (caplen == 0) break;
            return make_error(name + ": the file ends inside packet " + std::to_string(number) + " at offset " +
                              std::to_string(f.offset()));
        }
        const std::uint64_t secs = u32(h), frac = u32(h + 4);
        packet pk{from_units(secs * (nano ? 1000000000ull : 1000000ull) + frac, nano ? 1000000000ull : 1000000ull),
                  buf.data(), caplen, number, at};
        dec.frame(link, pk);
    }
    tcp.end_of_capture();
    return {};
}

// `magic`: the first four bytes, already read.
result<void> read_pcapng(file_reader& f, const std::uint8_t* magic, const std::string& name, sink& out,
                         const limits& lim) {
    tcp_follower tcp(name, out, lim);
    packet_decoder dec(tcp, out, name);
    struct interface {
        std::uint32_t link = 0;
        std::uint64_t per_second = 1000000;
    };
    std::vector<interface> interfaces;
    bool swapped = false;
    bool first = true;
    std::uint64_t number = 0;
    std::vector<std::uint8_t> body;
    auto fail = [&](std::string why) -> result<void> {
        tcp.end_of_capture();
        return make_error(name + ": " + why);
    };
    for (;;) {
        const auto at = first ? 0 : f.offset();
        std::uint8_t h[8];
        if (first) std::memcpy(h, magic, 4);
        auto r = first ? f.read(h + 4, 4, "a pcapng block header") : f.read(h, sizeof h, "a pcapng block header");
        if (!r) return fail(r.message().substr(name.size() + 2));
        if (!*r) break;
        std::uint32_t type = le32(h), length = le32(h + 4);
        if (type == 0x0A0D0D0A) {  // section header: its byte-order magic decides the section's order
            std::uint8_t bom[4];
            auto b = f.read(bom, 4, "a section header");
            if (!b || !*b) return fail("the file ends inside the section header at offset " + std::to_string(f.offset()));
            const std::uint32_t magic = le32(bom);
            if (magic == 0x1A2B3C4D) swapped = false;
            else if (magic == 0x4D3C2B1A) swapped = true;
            else return fail("a section header at offset " + std::to_string(at) + " with an unknown byte-order magic");
            if (swapped) length = swap32(length);
            interfaces.clear();
            if (length < 28 || length % 4 != 0 || length > lim.max_block)
                return fail("a section header at offset " + std::to_string(at) + " with length " + std::to_string(length));
            auto s = f.skip(length - 12, "a section header");
            if (!s) return fail(s.message().substr(name.size() + 2));
            first = false;
            continue;
        }
        if (first) return fail("the file does not start with a pcapng section header");
        if (swapped) {
            type = swap32(type);
            length = swap32(length);
        }
        if (length < 12 || length % 4 != 0 || length > lim.max_block)
            return fail("a block at offset " + std::to_string(at) + " with length " + std::to_string(length) +
                        (length > lim.max_block ? " (at most " + std::to_string(lim.max_block) + " are read)" : ""));
        body.resize(length - 8);
        auto d = f.read(body.data(), body.size(), "a pcapng block");
        if (!d || !*d) return fail("the file ends inside the block at offset " + std::to_string(at));
        auto u32 = [&](const std::uint8_t* p) { return swapped ? swap32(le32(p)) : le32(p); };
        auto u16 = [&](const std::uint8_t* p) {
            const std::uint16_t v = static_cast<std::uint16_t>(p[0] | p[1] << 8);
            return swapped ? swap16(v) : v;
        };
        if (u32(body.data() + body.size() - 4) != length)
            return fail("the block at offset " + std::to_string(at) + " does not end with its length");
        const std::size_t content = body.size() - 4;
        if (type == 1) {  // interface description
            if (content < 8) return fail("an interface description at offset " + std::to_string(at) + " is too short");
            if (interfaces.size() >= 65536) return fail("more than 65536 interfaces");
            interface i;
            i.link = u16(body.data());
            // Options: if_tsresol (9) sets the timestamp resolution.
            std::size_t o = 8;
            while (o + 4 <= content) {
                const std::uint16_t code = u16(body.data() + o), len = u16(body.data() + o + 2);
                o += 4;
                if (code == 0 || o + len > content) break;
                if (code == 9 && len >= 1) {
                    const std::uint8_t res = body[o];
                    const unsigned exp = res & 0x7F;
                    std::uint64_t per = 1;
                    if (res & 0x80) per = exp < 64 ? (1ull << exp) : 0;
                    else for (unsigned k = 0; k < exp && per <= 1000000000000000000ull; ++k) per *= 10;
                    if (per == 0 || exp > 18) return fail("an interface at offset " + std::to_string(at) + " with timestamp resolution " + std::to_string(res));
                    i.per_second = per;
                }
                o += (len + 3u) & ~3u;
            }
            interfaces.push_back(i);
        } else if (type == 6 || type == 3 || type == 2) {  // enhanced, simple, obsolete packet blocks
            ++number;
            std::uint32_t iface = 0, caplen = 0;
            std::uint64_t units = 0;
            std::size_t data_at = 0;
            if (type == 6 || type == 2) {
                if (content < 20) return fail("packet " + std::to_string(number) + " at offset " + std::to_string(at) + " is too short");
                iface = type == 6 ? u32(body.data()) : u16(body.data());
                units = static_cast<std::uint64_t>(u32(body.data() + 4)) << 32 | u32(body.data() + 8);
                caplen = u32(body.data() + 12);
                data_at = 20;
            } else {
                if (content < 4) return fail("packet " + std::to_string(number) + " at offset " + std::to_string(at) + " is too short");
                caplen = static_cast<std::uint32_t>(std::min<std::size_t>(u32(body.data()), content - 4));
                data_at = 4;
            }
            if (caplen > content - data_at || caplen > lim.max_packet)
                return fail("packet " + std::to_string(number) + " at offset " + std::to_string(at) + " claims " +
                            std::to_string(caplen) + " captured bytes in a block of " + std::to_string(length));
            if (iface >= interfaces.size())
                return fail("packet " + std::to_string(number) + " at offset " + std::to_string(at) +
                            " names interface " + std::to_string(iface) + ", which was not described");
            const interface& i = interfaces[iface];
            if (!link_supported(i.link)) continue;
            packet pk{from_units(units, i.per_second), body.data() + data_at, caplen, number, at};
            dec.frame(i.link, pk);
        }
        // Other blocks (name resolution, statistics, decryption secrets, custom) are skipped.
    }
    tcp.end_of_capture();
    return {};
}

}  // namespace

result<void> read_capture(std::istream& in, const std::string& name, sink& out, const limits& lim) {
    file_reader f(in, name);
    std::uint8_t magic[4];
    auto r = f.read(magic, 4, "the file header");
    if (!r) return r.err();
    if (!*r) return make_error(name + ": empty file");
    const std::uint32_t m = le32(magic);
    if (m == 0xa1b2c3d4 || m == 0xd4c3b2a1 || m == 0xa1b23c4d || m == 0x4d3cb2a1)
        return read_pcap(f, magic, name, out, lim);
    if (m == 0x0A0D0D0A) return read_pcapng(f, magic, name, out, lim);
    return make_error(name + ": neither pcap nor pcapng (the first four bytes are not a capture's magic)");
}

}  // namespace scep::evidence
