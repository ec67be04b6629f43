// A stand-in for a SCEP client that crashes (peer.conformance_catalogue): a
// wrapper script runs it after the real client, as a client that dies while
// it reads a reply. It raises SIGSEGV when its first argument (the case's
// directory) names the case given second; otherwise it exits 0.
#include <csignal>
#include <string>

int main(int argc, char** argv) {
    if (argc < 3) return 2;
    const std::string dir = argv[1], crash_on = argv[2];
    if (dir.ends_with("/" + crash_on)) std::raise(SIGSEGV);
    return 0;
}
