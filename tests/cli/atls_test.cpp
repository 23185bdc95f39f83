// `tdxkit atls-connect` and `tdxkit atls-serve` through the real binaries, on loopback: the
// simulated TD end to end, and every attack rejected with its own reason before any application
// request is sent.

#include <doctest/doctest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <functional>

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <openssl/pem.h>
#include <openssl/sha.h>
#include <openssl/x509.h>

#include "atls/peers.hpp"
#include "crypto/ossl.hpp"
#include "support/test_support.hpp"
#include "tdxkit/attestation.hpp"
#include "tdxkit/bytes.hpp"
#include "tdxkit/eventlog.hpp"
#include "tdxkit/ratls.hpp"

using nlohmann::json;
using tdxkit::test::run_tdxkit;
using namespace tdxkit::test::atls;

namespace {

const std::string kSecretPath = "/application-secret";

// `tdxkit atls-serve` in the background; its first stdout line names the port.
struct Server {
    std::unique_ptr<Background> process;
    std::string port;

    Server(const fs::path& dir, const std::string& name, std::vector<std::string> args) {
        std::vector<std::string> argv{"timeout", "120", TDXKIT_BINARY, "atls-serve", "--listen", "127.0.0.1:0"};
        argv.insert(argv.end(), args.begin(), args.end());
        process = std::make_unique<Background>(argv, dir, name);
        const auto line = wait_line(dir / (name + ".out"));
        port = line.substr(line.rfind(':') + 1, line.find(' ', line.rfind(':')) - line.rfind(':') - 1);
    }
    [[nodiscard]] std::string address() const { return "127.0.0.1:" + port; }
};

std::vector<std::string> connect_args(const std::string& address, const std::string& ca,
                                      std::vector<std::string> extra = {}) {
    std::vector<std::string> args{"atls-connect", address,    "--ca-file", ca,  "--collateral", collateral_dir(),
                                  "--trust-root", root_pem(), "--at",      kAt, "--timeout",    "10"};
    args.insert(args.end(), extra.begin(), extra.end());
    return args;
}

// `tdxkit --json ARGS...`: its document, with the exit status as "_exit".
json run_json(std::vector<std::string> args) {
    args.insert(args.begin(), "--json");
    const auto r = run_tdxkit(args);
    INFO(r.err);
    REQUIRE(!r.out.empty());
    auto doc = json::parse(r.out);
    doc["_exit"] = r.exit_code;
    return doc;
}

json connect_json(const std::string& address, const std::string& ca, std::vector<std::string> extra = {}) {
    return run_json(connect_args(address, ca, std::move(extra)));
}

std::string fingerprint(const std::string& cert) {
    const auto fp = tdxkit::test::run_process({"openssl", "x509", "-in", cert, "-noout", "-fingerprint", "-sha256"});
    std::string hex;
    for (const char c : fp.out.substr(fp.out.find('=') + 1)) {
        if (std::isxdigit(static_cast<unsigned char>(c))) hex += static_cast<char>(std::tolower(c));
    }
    return hex;
}

// A rejected connection: exit 1, the named step failed, the reason mentions `needle`, and the
// application request (--http-get) never reached `log`.
void check_rejected(const json& doc, const std::string& step, const std::string& needle) {
    CAPTURE(doc.dump(2));
    CHECK(doc["_exit"] == 1);
    CHECK(doc["result"] == "rejected");
    CHECK(doc["failed_step"] == step);
    CHECK(doc["reason"].get<std::string>().find(needle) != std::string::npos);
    CHECK_FALSE(doc.contains("http"));
}

struct Fixture {
    fs::path dir;
    TestCert cert;
    TestCert other;
    std::unique_ptr<Peer> upstream;

    explicit Fixture(const std::string& name)
        : dir(scratch_dir("atls-" + name)), cert(make_cert(dir, "server")), other(make_cert(dir, "other")) {
        upstream = std::make_unique<Peer>(dir, "upstream", std::vector<std::string>{"upstream"});
    }
    [[nodiscard]] std::string upstream_address() const { return "127.0.0.1:" + upstream->value; }
    [[nodiscard]] bool application_reached() const {
        return upstream->requests().find(kSecretPath) != std::string::npos;
    }
    Server simulated_server(const std::string& name, std::vector<std::string> extra = {}) const {
        std::vector<std::string> args{"--cert",    cert.cert, "--key",   cert.key,     "--provider",
                                      "simulated", "--pki",   pki_dir(), "--upstream", upstream_address()};
        args.insert(args.end(), extra.begin(), extra.end());
        return Server(dir, name, args);
    }
};

// atls-serve with the dstack provider, its guest agent a fake one in `mode` (fake_peers.py dstack).
struct DstackTd {
    Peer agent;
    Server server;
    DstackTd(const Fixture& f, const std::string& mode)
        : agent(f.dir, "agent-" + mode,
                {"dstack", "--socket", (f.dir / (mode + ".sock")).string(), "--mode", mode, "--cert", f.cert.cert,
                 "--other-cert", f.other.cert}),
          server(start(f, mode, agent.value)) {}

    static Server start(const Fixture& f, const std::string& mode, const std::string& socket) {
        ::setenv("DSTACK_SIMULATOR_ENDPOINT", socket.c_str(), 1);
        Server s(
            f.dir, "serve-" + mode,
            {"--cert", f.cert.cert, "--key", f.cert.key, "--provider", "dstack", "--upstream", f.upstream_address()});
        ::unsetenv("DSTACK_SIMULATOR_ENDPOINT");
        return s;
    }
};

// Plain HTTP POST over TCP (the --ekm-header side of atls-serve is behind a TLS proxy).
std::string http_post(const std::string& port, const std::string& path, const std::string& body,
                      const std::string& extra_headers) {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<std::uint16_t>(std::stoi(port)));
    inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr);
    REQUIRE(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
    const auto request = "POST " + path + " HTTP/1.1\r\nHost: x\r\nContent-Length: " + std::to_string(body.size()) +
                         "\r\nConnection: close\r\n" + extra_headers + "\r\n" + body;
    REQUIRE(::send(fd, request.data(), request.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(request.size()));
    std::string response;
    char buf[65536];
    ssize_t n = 0;
    while ((n = ::recv(fd, buf, sizeof buf, 0)) > 0) response.append(buf, static_cast<std::size_t>(n));
    ::close(fd);
    return response;
}

// An accepted session's --json: the quote's REPORTDATA is the expected binding, the log replays to
// the quote's RTMRs, and the request reached the application behind the server.
void check_bound_and_served(const json& doc, const Fixture& f) {
    CHECK(doc["binding"]["report_data_bound"] == true);
    CHECK(doc["binding"]["report_data"] == doc["binding"]["expected_report_data"]);
    for (int i = 0; i < 4; ++i) {
        CHECK(doc["event_log"]["replayed_rtmrs"][i] == doc["quote"]["rtmr" + std::to_string(i)]);
    }
    CHECK(doc["http"]["status"] == 200);
    CHECK(doc["http"]["body"] == "hello from upstream\n");
    CHECK(f.application_reached());
}

std::string sha512_hex(const tdxkit::Bytes& data) {
    unsigned char md[SHA512_DIGEST_LENGTH];
    SHA512(data.data(), data.size(), md);
    return tdxkit::to_hex(tdxkit::ByteSpan(md, sizeof md));
}

}  // namespace

TEST_CASE("end to end: simulated TD, quote bound to the session, RTMRs replayed, certificate bound, then GET") {
    Fixture f("e2e");
    const auto server = f.simulated_server("serve");
    const auto doc = connect_json(server.address(), f.cert.cert, {"--http-get", kSecretPath});
    CAPTURE(doc.dump(2));
    CHECK(doc["_exit"] == 0);
    CHECK(doc["schema"] == "tdxkit.atls/v1");
    CHECK(doc["result"] == "ok");
    CHECK(doc["failed_step"].is_null());
    for (const auto& s : doc["steps"]) CHECK_MESSAGE(s["passed"] == true, s.dump());
    CHECK(doc["steps"].size() == 12);
    CHECK(doc["server"]["tls_version"] == "TLSv1.3");
    CHECK(doc["server"]["certificate_validated"] == true);
    CHECK(doc["server"]["certificate_sha256"] == fingerprint(f.cert.cert));
    CHECK(doc["binding"]["bound_certificate_sha256"] == fingerprint(f.cert.cert));
    check_bound_and_served(doc, f);
    CHECK(doc["verification"]["tcb_status"] == "UpToDate");
    CHECK(doc["policy"]["satisfied"] == true);
    for (const auto* t : {"connect", "handshake", "quote_fetch", "verify"})
        CHECK(doc["timings_ms"][t].get<double>() > 0);

    // Human output; --http-get prints only the body on stdout.
    const auto text = run_tdxkit(connect_args(server.address(), f.cert.cert));
    CHECK(text.exit_code == 0);
    CHECK(text.out.rfind("OK: 127.0.0.1:", 0) == 0);
    CHECK(text.out.find("[ ok ] certificate_binding") != std::string::npos);
    const auto get = run_tdxkit(connect_args(server.address(), f.cert.cert, {"--http-get", "/x"}));
    CHECK(get.exit_code == 0);
    CHECK(get.out == "hello from upstream\n");

    // --pipe: the session carries a raw HTTP request from stdin.
    const auto piped = run_tdxkit(connect_args(server.address(), f.cert.cert, {"--pipe"}),
                                  "GET /piped HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    CHECK(piped.exit_code == 0);
    CHECK(piped.out.find("hello from upstream") != std::string::npos);
}

TEST_CASE("the server certificate must be trusted, or the skip must be explicit and loud") {
    Fixture f("trust");
    const auto server = f.simulated_server("serve");
    const auto untrusted = connect_json(server.address(), f.other.cert, {"--http-get", kSecretPath});
    check_rejected(untrusted, "tls_handshake", "did not verify");
    auto args = connect_args(server.address(), f.other.cert, {"--insecure-skip-tls-verify"});
    const auto skipped = run_tdxkit(args);
    CHECK(skipped.exit_code == 0);
    CHECK(skipped.err.find("WARNING: --insecure-skip-tls-verify") != std::string::npos);
    CHECK_FALSE(f.application_reached());
}

TEST_CASE("attack: a relaying man-in-the-middle gets a quote for its own session") {
    Fixture f("mitm");
    const auto server = f.simulated_server("serve");
    // The relay holds a certificate the victim trusts (other.pem).
    Peer mitm(f.dir, "mitm", {"mitm", "--cert", f.other.cert, "--key", f.other.key, "--upstream", server.address()});
    const auto doc = connect_json("127.0.0.1:" + mitm.value, f.other.cert, {"--http-get", kSecretPath});
    check_rejected(doc, "report_data_binding", "not made for this TLS session");
    CHECK(mitm.requests() == "POST /tdx_quote HTTP/1.1\n");
    CHECK_FALSE(f.application_reached());
}

TEST_CASE("attack: a quote replayed for an old nonce") {
    Fixture f("replay");
    const auto old =
        run_tdxkit({"-q", "quote", "generate", "--provider", "simulated", "--pki", pki_dir(), "--report-data",
                    std::string(128, 'a'), "--bind-cert", f.cert.cert, "--format", "json"});
    REQUIRE(old.exit_code == 0);
    json response{{"success", true}, {"quote", json::parse(old.out)}, {"quote_type", "tdx"}};
    const auto canned = f.dir / "canned.json";
    std::ofstream(canned) << response.dump();
    Peer replay(f.dir, "replay", {"canned", "--cert", f.cert.cert, "--key", f.cert.key, "--response", canned.string()});
    const auto doc = connect_json("127.0.0.1:" + replay.value, f.cert.cert, {"--http-get", kSecretPath});
    check_rejected(doc, "report_data_binding", "report_data is " + std::string(128, 'a'));
    CHECK(replay.requests() == "POST /tdx_quote HTTP/1.1\n");
    // Everything else about the replayed quote is genuine: only the binding fails.
    for (const auto& s : doc["steps"]) {
        if (s["id"] != "report_data_binding") CHECK_MESSAGE(s["passed"] == true, s.dump());
    }
}

TEST_CASE("attack: the certificate is not the one in the event log, or none is") {
    Fixture f("cert");
    for (const std::string mode : {"othercert", "nocert"}) {
        CAPTURE(mode);
        const DstackTd td(f, mode);
        const auto& server = td.server;
        const auto doc = connect_json(server.address(), f.cert.cert, {"--http-get", kSecretPath});
        if (mode == "othercert") {
            check_rejected(doc, "certificate_binding", "names certificate " + fingerprint(f.other.cert));
        } else {
            check_rejected(doc, "certificate_binding", "no RTMR3 \"New TLS Certificate\" event");
        }
        CHECK_FALSE(f.application_reached());
        // --no-cert-binding relaxes exactly this check, loudly.
        const auto relaxed = run_tdxkit(connect_args(server.address(), f.cert.cert, {"--no-cert-binding"}));
        CHECK(relaxed.exit_code == 0);
        CHECK(relaxed.err.find("WARNING: --no-cert-binding") != std::string::npos);
    }
}

TEST_CASE("attack: the certificate event relabelled as a non-runtime event (digest kept, so it replays)") {
    Fixture f("relabel");
    const DstackTd td(f, "relabel");
    const auto doc = connect_json(td.server.address(), f.cert.cert, {"--http-get", kSecretPath});
    check_rejected(doc, "rtmr_replay", "(RTMR3, type 0x00000001) is not a dstack runtime event");
    CHECK_FALSE(f.application_reached());
}

TEST_CASE("attack: an event log whose RTMR3 does not replay") {
    Fixture f("tamper");
    const DstackTd td(f, "tamper");
    const auto& server = td.server;
    const auto doc = connect_json(server.address(), f.cert.cert, {"--http-get", kSecretPath});
    check_rejected(doc, "rtmr_replay", "RTMR3 replayed from the event log is");
    CHECK_FALSE(f.application_reached());
}

TEST_CASE("attack: a TLS 1.2-only server") {
    Fixture f("tls12");
    Peer old(f.dir, "tls12", {"tls12", "--cert", f.cert.cert, "--key", f.cert.key});
    const auto doc = connect_json("127.0.0.1:" + old.value, f.cert.cert, {"--http-get", kSecretPath});
    check_rejected(doc, "tls_handshake", "requires TLS 1.3");
    CHECK(old.requests().find("HTTP/1.1") == std::string::npos);
}

TEST_CASE("a policy mismatch is rejected with the policy's own message") {
    Fixture f("policy");
    const auto server = f.simulated_server("serve");
    const auto policy = f.dir / "policy.json";
    std::ofstream(policy) << R"({"version":1,"td":{"mrtd":[")" << std::string(96, '0') << R"("]}})";
    const auto doc =
        connect_json(server.address(), f.cert.cert, {"--policy", policy.string(), "--http-get", kSecretPath});
    check_rejected(doc, "policy", "td.mrtd");
    CHECK(doc["policy"]["satisfied"] == false);
    CHECK_FALSE(f.application_reached());
}

TEST_CASE("the policy's dstack rules see the event log that came with the quote") {
    Fixture f("dstackpolicy");
    const auto server = f.simulated_server("serve");
    // The simulated provider measures this app-compose (lib/src/provider/simulated.cpp).
    const auto compose_hash = tdxkit::to_hex(tdxkit::sha256(
        tdxkit::as_bytes(R"({"manifest_version":2,"name":"tdxkit-simulated","runner":"docker-compose"})")));
    const auto accept = f.dir / "accept.json";
    std::ofstream(accept) << R"({"version":1,"dstack":{"compose_hashes":[")" << compose_hash << R"("]}})";
    const auto ok = connect_json(server.address(), f.cert.cert, {"--policy", accept.string()});
    CHECK(ok["result"] == "ok");
    CHECK(ok["policy"]["satisfied"] == true);

    const auto reject = f.dir / "reject.json";
    std::ofstream(reject) << R"({"version":1,"dstack":{"compose_hashes":[")" << std::string(64, 'a') << R"("]}})";
    const auto doc =
        connect_json(server.address(), f.cert.cert, {"--policy", reject.string(), "--http-get", kSecretPath});
    check_rejected(doc, "policy", "dstack.compose_hashes");
    CHECK_FALSE(f.application_reached());
}

TEST_CASE("attack: oversized, slow and malformed quote responses") {
    Fixture f("misbehave");
    {
        Peer big(f.dir, "oversized", {"oversized", "--cert", f.cert.cert, "--key", f.cert.key});
        const auto doc = connect_json("127.0.0.1:" + big.value, f.cert.cert, {"--http-get", kSecretPath});
        check_rejected(doc, "quote_request", "exceeds the limit");
        CHECK(big.requests() == "POST /tdx_quote HTTP/1.1\n");
    }
    {
        Peer slow(f.dir, "slow", {"slow", "--cert", f.cert.cert, "--key", f.cert.key});
        const auto start = std::chrono::steady_clock::now();
        auto args = connect_args("127.0.0.1:" + slow.value, f.cert.cert, {"--http-get", kSecretPath});
        args.insert(args.begin(), "--json");
        args[args.size() - 3] = "2";  // --timeout 2 (after --http-get PATH)
        const auto r = run_tdxkit(args);
        const auto elapsed = std::chrono::steady_clock::now() - start;
        auto doc = json::parse(r.out);
        doc["_exit"] = r.exit_code;
        check_rejected(doc, "quote_request", "timed out");
        // --timeout 2 against a server that dribbles for 60 s; the margin absorbs a loaded (ASan) machine.
        CHECK(elapsed < std::chrono::seconds(20));
        CHECK(slow.requests() == "POST /tdx_quote HTTP/1.1\n");
    }
    {
        Peer bad(f.dir, "malformed", {"malformed", "--cert", f.cert.cert, "--key", f.cert.key});
        const auto doc = connect_json("127.0.0.1:" + bad.value, f.cert.cert, {"--http-get", kSecretPath});
        check_rejected(doc, "quote_response", "not valid JSON");
        CHECK(bad.requests() == "POST /tdx_quote HTTP/1.1\n");
    }
    {
        // 100,000 nested arrays (200 KB, under the response limit) once crashed the client.
        const auto deep = f.dir / "deep.json";
        std::ofstream(deep) << R"({"quote":{"quote":"00","event_log":)" << std::string(100000, '[')
                            << std::string(100000, ']') << "}}";
        Peer nested(f.dir, "deep", {"canned", "--cert", f.cert.cert, "--key", f.cert.key, "--response", deep.string()});
        const auto doc = connect_json("127.0.0.1:" + nested.value, f.cert.cert, {"--http-get", kSecretPath});
        check_rejected(doc, "quote_response", "JSON nested too deeply");
    }
    {
        // A quote whose PCK chain does not parse: without --collateral, finding its collateral reads
        // that chain. The server's broken evidence is a rejection, not a client error (once exit 3).
        auto quote = tdxkit::test::read_file(tdxkit::test::source_dir() / "testdata/quotes/sim-tdx-v4.bin");
        const std::string begin = "-----BEGIN CERTIFICATE-----\n";
        const auto at = std::search(quote.begin(), quote.end(), begin.begin(), begin.end());
        REQUIRE(at != quote.end());
        *(at + static_cast<std::ptrdiff_t>(begin.size())) = '*';
        const auto broken = f.dir / "broken-chain.json";
        std::ofstream(broken) << R"({"quote":{"quote":")" << tdxkit::to_hex(quote) << R"(","event_log":"[]"}})";
        Peer peer(f.dir, "broken-chain",
                  {"canned", "--cert", f.cert.cert, "--key", f.cert.key, "--response", broken.string()});
        const auto empty_cache = f.dir / "empty-cache";
        auto args = connect_args("127.0.0.1:" + peer.value, f.cert.cert,
                                 {"--offline", "--cache-dir", empty_cache.string(), "--http-get", kSecretPath});
        const auto collateral = std::find(args.begin(), args.end(), "--collateral");
        args.erase(collateral, collateral + 2);
        args.insert(args.begin(), "--json");
        const auto r = run_tdxkit(args);
        INFO(r.err);
        const auto doc = json::parse(r.out);
        CAPTURE(doc.dump(2));
        CHECK(r.exit_code == 1);
        CHECK(doc["result"] == "rejected");
        // A canned quote is not bound to this session either; the step after it is the one here.
        CHECK(doc["failed_step"] == "report_data_binding");
        bool found = false;
        for (const auto& step : doc["steps"]) {
            if (step["id"] == "quote_verification") {
                found = true;
                CHECK(step["passed"] == false);
                CHECK(step["detail"].get<std::string>().find("collateral cannot be determined") != std::string::npos);
            }
        }
        CHECK(found);
        CHECK_FALSE(doc.contains("http"));
    }
}

TEST_CASE("an unreachable server is exit 4 (outcome unknown), not a rejection") {
    const auto r = run_tdxkit(
        {"atls-connect", "127.0.0.1:1", "--collateral", collateral_dir(), "--trust-root", root_pem(), "--at", kAt});
    CHECK(r.exit_code == 4);
    CHECK(r.out.find("tcp_connect") != std::string::npos);
}

TEST_CASE("atls-serve --ekm-header: missing header 400, wrong HMAC 403, bad nonce 400, correct 200") {
    Fixture f("ekm");
    const auto key = f.dir / "hmac.key";
    std::ofstream(key) << "dev-mode-ekm-placeholder-not-for-production\n";
    // Like ssh with private keys: a key file its group or others can read is refused.
    fs::permissions(key, fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read);
    const auto exposed =
        run_tdxkit({"atls-serve", "--listen", "127.0.0.1:0", "--cert", f.cert.cert, "--provider", "simulated", "--pki",
                    pki_dir(), "--ekm-header", "--ekm-hmac-key-file", key.string()});
    CHECK(exposed.exit_code == 2);
    CHECK(exposed.err.find("mode 0640); run `chmod 600 " + key.string()) != std::string::npos);
    fs::permissions(key, fs::perms::owner_read | fs::perms::owner_write);
    const Server server(f.dir, "serve",
                        {"--cert", f.cert.cert, "--provider", "simulated", "--pki", pki_dir(), "--ekm-header",
                         "--ekm-hmac-key-file", key.string()});
    const std::string nonce(64, '1');
    const std::string body = R"({"nonce_hex":")" + nonce + "\"}";
    // Reference vector (dstack-atls-eventlog.md §5): EKM 20..3f with this key.
    std::string ekm;
    for (int i = 0x20; i < 0x40; ++i) ekm += fmt::format("{:02x}", i);
    const std::string good = ekm + ":52323983cc0cd6c10d87a8a977558647a2c97e2a15aff691c2282824c2ddcbc2";
    std::string bad = good;
    bad.back() = bad.back() == '2' ? '3' : '2';

    CHECK(http_post(server.port, "/tdx_quote", body, "").rfind("HTTP/1.1 400", 0) == 0);
    CHECK(http_post(server.port, "/tdx_quote", body, "X-TLS-EKM-Channel-Binding: " + bad + "\r\n")
              .rfind("HTTP/1.1 403", 0) == 0);
    CHECK(http_post(server.port, "/tdx_quote", R"({"nonce_hex":"abc"})", "X-TLS-EKM-Channel-Binding: " + good + "\r\n")
              .rfind("HTTP/1.1 400", 0) == 0);
    const auto ok = http_post(server.port, "/tdx_quote", body, "X-TLS-EKM-Channel-Binding: " + good + "\r\n");
    REQUIRE(ok.rfind("HTTP/1.1 200", 0) == 0);
    const auto doc = json::parse(ok.substr(ok.find("\r\n\r\n") + 4));
    CHECK(doc["success"] == true);
    CHECK(doc["quote_type"] == "tdx");
    const auto expected = sha512_hex(tdxkit::from_hex(nonce + ekm));
    CHECK(doc["quote"]["report_data"] == expected);
    // The quote itself carries it, and its event log binds the proxy's certificate (--cert).
    const auto quote_file = f.dir / "q.hex";
    std::ofstream(quote_file) << doc["quote"]["quote"].get<std::string>();
    const auto decoded = run_tdxkit({"--json", "quote", "decode", quote_file.string()});
    CHECK(json::parse(decoded.out)["body"]["report_data"] == expected);
    CHECK(doc["quote"]["event_log"].get<std::string>().find("New TLS Certificate") != std::string::npos);
}

TEST_CASE("atls-serve: usage errors and graceful SIGTERM") {
    Fixture f("serve-usage");
    CHECK(run_tdxkit({"atls-serve", "--listen", "127.0.0.1:0", "--cert", f.cert.cert, "--provider", "simulated",
                      "--pki", pki_dir()})
              .exit_code == 2);  // no --key
    CHECK(run_tdxkit({"atls-serve", "--listen", "127.0.0.1:0", "--cert", f.cert.cert, "--ekm-header", "--provider",
                      "simulated", "--pki", pki_dir()})
              .exit_code == 2);  // no HMAC key
    CHECK(run_tdxkit({"atls-serve", "--listen", "nonsense", "--cert", f.cert.cert, "--key", f.cert.key}).exit_code ==
          2);
    Server server = f.simulated_server("serve");
    CHECK(server.process->stop() == 0);
    CHECK(server.process->err().find("stopped") != std::string::npos);
}

// ---- RA-TLS (dstack): the certificate is the evidence ----

namespace {

namespace ratls = tdxkit::ratls;

// The simulated PKI's collateral is valid at kAt; certificates made now would not be yet.
const std::string kCertNotBefore = "2026-01-01T00:00:00Z";

// `quote generate --ra-tls-cert`: a fresh key and a certificate whose quote binds it.
TestCert ra_tls_pair(const fs::path& dir, const std::string& name, std::vector<std::string> extra = {}) {
    TestCert c{(dir / (name + ".pem")).string(), (dir / (name + ".key")).string()};
    std::vector<std::string> args{
        "-q",   "quote", "generate", "--provider",        "simulated",   "--pki", pki_dir(), "--ra-tls-cert",
        c.cert, "--key", c.key,      "--cert-not-before", kCertNotBefore};
    args.insert(args.end(), extra.begin(), extra.end());
    const auto r = run_tdxkit(args);
    INFO(r.err);
    REQUIRE(r.exit_code == 0);
    return c;
}

std::vector<std::string> ra_connect_args(const std::string& address, std::vector<std::string> extra = {}) {
    std::vector<std::string> args{
        "atls-connect", "--ra-tls", address, "--collateral", collateral_dir(), "--trust-root", root_pem(), "--at", kAt,
        "--timeout",    "10"};
    args.insert(args.end(), extra.begin(), extra.end());
    return args;
}

json ra_connect_json(const std::string& address, std::vector<std::string> extra = {}) {
    return run_json(ra_connect_args(address, std::move(extra)));
}

std::string pem_of(X509* cert) {
    const tdxkit::ossl::BioPtr bio{BIO_new(BIO_s_mem())};
    REQUIRE(PEM_write_bio_X509(bio.get(), cert) == 1);
    char* data = nullptr;
    const auto size = BIO_get_mem_data(bio.get(), &data);
    return std::string(data, static_cast<std::size_t>(size));
}

tdxkit::ossl::EvpPkeyPtr read_key(const std::string& path) {
    const auto pem = slurp(path);
    const tdxkit::ossl::BioPtr bio{BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()))};
    tdxkit::ossl::EvpPkeyPtr key{PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr)};
    REQUIRE(key);
    return key;
}

// The genuine certificate with every extension (quote, event log, attestation) kept, but for another
// key and self-signed by it: what a relay that cannot use the TD's key would present.
std::string with_other_key(const std::string& genuine_pem, const std::string& other_key_path) {
    const auto genuine = tdxkit::ossl::parse_pem_cert(slurp(genuine_pem), "genuine");
    const tdxkit::ossl::X509Ptr forged{X509_dup(genuine.get())};
    const auto key = read_key(other_key_path);
    REQUIRE(X509_set_pubkey(forged.get(), key.get()) == 1);
    REQUIRE(X509_sign(forged.get(), key.get(), EVP_sha256()) > 0);
    return pem_of(forged.get());
}

// A certificate for the genuine key (so it is validly self-signed and its quote binds it) whose
// evidence the test rewrites.
std::string remade(const TestCert& genuine, const std::function<void(ratls::CertificateRequest&)>& edit) {
    const auto cert = ratls::parse_certificate(tdxkit::as_bytes(slurp(genuine.cert)));
    const auto key_pem = slurp(genuine.key);
    ratls::KeyPair key{tdxkit::SecretBytes(tdxkit::Bytes(key_pem.begin(), key_pem.end())), cert.spki_der};
    ratls::CertificateRequest request;
    request.not_before = cert.not_before;
    request.not_after = cert.not_after;
    request.quote = *cert.quote;
    request.event_log = cert.event_log;
    request.attestation = cert.attestation;
    edit(request);
    return ratls::make_certificate(key, request);
}

// A well-formed dstack event log that is not the quote's: the simulated TD's, plus a certificate event.
std::string foreign_event_log(const Fixture& f) {
    const auto out = f.dir / "foreign-log.json";
    const auto r = run_tdxkit({"-q", "quote", "generate", "--provider", "simulated", "--pki", pki_dir(),
                               "--report-data", "00", "--bind-cert", f.cert.cert, "--event-log-out", out.string()});
    REQUIRE(r.exit_code == 0);
    return slurp(out);
}

Server ra_tls_server(const Fixture& f, const std::string& name, const TestCert& pair) {
    return Server(f.dir, name,
                  {"--ra-tls", "--cert", pair.cert, "--key", pair.key, "--upstream", f.upstream_address()});
}

}  // namespace

TEST_CASE("RA-TLS end to end: atls-serve --ra-tls makes its key and certificate, atls-connect --ra-tls verifies") {
    Fixture f("ratls-e2e");
    const Server server(f.dir, "serve",
                        {"--ra-tls", "--provider", "simulated", "--pki", pki_dir(), "--cert-not-before", kCertNotBefore,
                         "--upstream", f.upstream_address()});
    const auto listening = wait_line(f.dir / "serve.out");
    const auto served_sha256 = listening.substr(listening.rfind(' ') + 1, 64);
    const auto doc = ra_connect_json(server.address(), {"--http-get", kSecretPath});
    CAPTURE(doc.dump(2));
    CHECK(doc["_exit"] == 0);
    CHECK(doc["schema"] == "tdxkit.atls/v1");
    CHECK(doc["mode"] == "ra-tls");
    CHECK(doc["result"] == "ok");
    std::vector<std::string> ids;
    for (const auto& s : doc["steps"]) {
        CHECK_MESSAGE(s["passed"] == true, s.dump());
        ids.push_back(s["id"]);
    }
    CHECK(ids == std::vector<std::string>{"tcp_connect", "tls_handshake", "tls_version", "ra_tls_certificate",
                                          "quote_verification", "tcb_status", "certificate_validity",
                                          "certificate_signature", "certificate_key_usage", "attestation_report_data",
                                          "event_log_rtmr3", "report_data_binding", "event_log", "policy"});
    CHECK(doc["server"]["certificate_validated"] == false);
    CHECK(doc["server"]["certificate_sha256"] == served_sha256);
    CHECK(doc["ra_tls"]["certificate"]["sha256"] == served_sha256);
    CHECK(doc["ra_tls"]["source"].get<std::string>().find("1.3.6.1.4.1.62397.1.8") != std::string::npos);
    CHECK(doc["ra_tls"]["attestation"]["wire"] == "SCALE (V0)");
    CHECK(doc["binding"]["nonce"].is_null());
    check_bound_and_served(doc, f);

    const auto text = run_tdxkit(ra_connect_args(server.address()));
    CHECK(text.exit_code == 0);
    CHECK(text.out.rfind("OK: 127.0.0.1:", 0) == 0);
    CHECK(text.out.find("[ ok ] report_data_binding") != std::string::npos);
    CHECK(text.out.find("its signer's word, not attested") != std::string::npos);
    // An RA-TLS server answers no quote requests: its quote path is an ordinary one (relayed).
    const auto quote_path = run_tdxkit(connect_args(server.address(), f.cert.cert, {"--insecure-skip-tls-verify"}));
    CHECK(quote_path.exit_code == 1);
}

TEST_CASE("quote generate --ra-tls-cert: a pair atls-serve --ra-tls serves, the key readable by its owner only") {
    Fixture f("ratls-pair");
    const auto pair = ra_tls_pair(f.dir, "pair");
    CHECK((fs::status(pair.key).permissions() & (fs::perms::group_all | fs::perms::others_all)) == fs::perms::none);
    CHECK(slurp(pair.key).rfind("-----BEGIN PRIVATE KEY-----", 0) == 0);
    const auto cert = ratls::parse_certificate(tdxkit::as_bytes(slurp(pair.cert)));
    CHECK(cert.quote.has_value());
    CHECK(cert.event_log.has_value());
    CHECK(cert.attestation.has_value());
    const auto server = ra_tls_server(f, "serve", pair);
    const auto doc = ra_connect_json(server.address());
    CHECK(doc["result"] == "ok");
    CHECK(doc["server"]["certificate_sha256"] == fingerprint(pair.cert));

    // --json names the files and the binding; usage errors exit 2.
    const auto json_run =
        run_tdxkit({"--json", "-q", "quote", "generate", "--provider", "simulated", "--pki", pki_dir(), "--ra-tls-cert",
                    (f.dir / "j.pem").string(), "--key", (f.dir / "j.key").string()});
    REQUIRE(json_run.exit_code == 0);
    const auto generated = json::parse(json_run.out);
    CHECK(generated["ra_tls_certificate"]["sha256"] == fingerprint((f.dir / "j.pem").string()));
    const auto spki = ratls::parse_certificate(tdxkit::as_bytes(slurp(f.dir / "j.pem"))).spki_der;
    CHECK(generated["report_data"] == tdxkit::to_hex(ratls::content_report_data(ratls::kTagRaTlsCert, spki)));
    CHECK(run_tdxkit({"quote", "generate", "--provider", "simulated", "--pki", pki_dir(), "--ra-tls-cert",
                      (f.dir / "x.pem").string()})
              .exit_code == 2);  // no --key
    CHECK(run_tdxkit({"quote", "generate", "--provider", "simulated", "--pki", pki_dir(), "--ra-tls-cert",
                      (f.dir / "x.pem").string(), "--key", (f.dir / "x.key").string(), "--report-data", "00"})
              .exit_code == 2);
    CHECK(run_tdxkit({"atls-serve", "--listen", "127.0.0.1:0", "--ra-tls", "--cert", f.cert.cert, "--key", f.cert.key})
              .exit_code == 2);  // not an RA-TLS certificate
    CHECK(run_tdxkit(ra_connect_args(server.address(), {"--ca-file", f.cert.cert})).exit_code == 2);
}

TEST_CASE("RA-TLS attack: a relay presents the genuine quote and extensions in a certificate for its own key") {
    Fixture f("ratls-mitm");
    const auto genuine = ra_tls_pair(f.dir, "genuine");
    const auto server = ra_tls_server(f, "serve", genuine);
    const auto forged = f.dir / "forged.pem";
    std::ofstream(forged) << with_other_key(genuine.cert, f.other.key);
    // The relay may also send the genuine certificate after its own: only the leaf the handshake
    // authenticated is appraised.
    const auto bundle = f.dir / "forged-bundle.pem";
    std::ofstream(bundle) << slurp(forged) << slurp(genuine.cert);
    for (const auto& presented : {forged, bundle}) {
        CAPTURE(presented);
        Peer mitm(f.dir, "mitm-" + presented.stem().string(),
                  {"mitm", "--cert", presented.string(), "--key", f.other.key, "--upstream", server.address()});
        const auto doc = ra_connect_json("127.0.0.1:" + mitm.value, {"--http-get", kSecretPath});
        check_rejected(doc, "report_data_binding", "REPORTDATA");
        CHECK(doc["binding"]["report_data_bound"] == false);
        CHECK(doc["binding"]["report_data"] != doc["binding"]["expected_report_data"]);
        // Everything else about the copied evidence is genuine: only the binding fails.
        for (const auto& s : doc["steps"]) {
            if (s["id"] != "report_data_binding") CHECK_MESSAGE(s["passed"] == true, s.dump());
        }
        CHECK(mitm.requests().empty());
    }
    CHECK_FALSE(f.application_reached());
}

TEST_CASE("RA-TLS attack: a certificate whose event log was swapped for another, well-formed one") {
    Fixture f("ratls-log");
    const auto genuine = ra_tls_pair(f.dir, "genuine");
    const auto foreign = foreign_event_log(f);
    const auto quote_bytes = *ratls::parse_certificate(tdxkit::as_bytes(slurp(genuine.cert))).quote;
    const auto attestation =
        tdxkit::decode_dstack_attestation(*ratls::parse_certificate(tdxkit::as_bytes(slurp(genuine.cert))).attestation);
    const std::vector<std::pair<std::string, std::function<void(ratls::CertificateRequest&)>>> swaps{
        // .1 and .2 only: the swapped .2 is the log the verifier reads.
        {"ext2",
         [&](ratls::CertificateRequest& r) {
             r.attestation.reset();
             r.event_log = foreign;
         }},
        // The log inside the versioned attestation (.8), which verifiers prefer.
        {"ext8", [&](ratls::CertificateRequest& r) {
             r.attestation = tdxkit::encode_dstack_attestation(quote_bytes, tdxkit::parse_dstack_event_log(foreign),
                                                               attestation.report_data, attestation.config);
         }}};
    for (const auto& [name, swap] : swaps) {
        CAPTURE(name);
        const TestCert tampered{(f.dir / (name + ".pem")).string(), genuine.key};
        std::ofstream(tampered.cert) << remade(genuine, swap);
        const auto server = ra_tls_server(f, "serve-" + name, tampered);
        const auto doc = ra_connect_json(server.address(), {"--http-get", kSecretPath});
        check_rejected(doc, "event_log_rtmr3", "RTMR3");
    }
    CHECK_FALSE(f.application_reached());
}

TEST_CASE("RA-TLS: a certificate without evidence, without an event log, expired, or failing DCAP or the policy") {
    Fixture f("ratls-reject");
    const auto genuine = ra_tls_pair(f.dir, "genuine");
    {
        // An aTLS server's ordinary certificate.
        const auto server = f.simulated_server("plain");
        check_rejected(ra_connect_json(server.address(), {"--http-get", kSecretPath}), "ra_tls_certificate",
                       "carries no RA-TLS evidence");
    }
    {
        // The quote alone (extension .1): what runs in the TD is not shown.
        const TestCert bare{(f.dir / "bare.pem").string(), genuine.key};
        std::ofstream(bare.cert) << remade(genuine, [](ratls::CertificateRequest& r) {
            r.attestation.reset();
            r.event_log.reset();
        });
        const auto server = ra_tls_server(f, "bare", bare);
        check_rejected(ra_connect_json(server.address(), {"--http-get", kSecretPath}), "event_log",
                       "carries no event log");
    }
    {
        const auto expired = ra_tls_pair(f.dir, "expired", {"--cert-not-after", "2026-01-10T00:00:00Z"});
        const auto server = ra_tls_server(f, "expired", expired);
        check_rejected(ra_connect_json(server.address(), {"--http-get", kSecretPath}), "certificate_validity",
                       "expired");
    }
    const auto server = ra_tls_server(f, "genuine", genuine);
    {
        // The TEST PKI's quote against Intel's root.
        auto args = ra_connect_args(server.address(), {"--http-get", kSecretPath});
        const auto root = std::find(args.begin(), args.end(), "--trust-root");
        args.erase(root, root + 2);
        args.insert(args.begin(), "--json");
        const auto r = run_tdxkit(args);
        auto doc = json::parse(r.out);
        doc["_exit"] = r.exit_code;
        check_rejected(doc, "quote_verification", "");
    }
    {
        const auto policy = f.dir / "policy.json";
        std::ofstream(policy) << R"({"version":1,"td":{"mrtd":[")" << std::string(96, '0') << R"("]}})";
        check_rejected(ra_connect_json(server.address(), {"--policy", policy.string(), "--http-get", kSecretPath}),
                       "policy", "td.mrtd");
    }
    CHECK_FALSE(f.application_reached());
}

TEST_CASE("mutual RA-TLS: atls-serve --client-ra-tls serves only clients whose RA-TLS certificate passes") {
    Fixture f("ratls-mutual");
    const auto server_pair = ra_tls_pair(f.dir, "server");
    const auto client_pair = ra_tls_pair(f.dir, "client");
    const Server server(f.dir, "serve",
                        {"--ra-tls", "--cert", server_pair.cert, "--key", server_pair.key, "--upstream",
                         f.upstream_address(), "--client-ra-tls", "--collateral", collateral_dir(), "--trust-root",
                         root_pem(), "--at", kAt});
    {
        // The client's genuine quote in a certificate for another key.
        const auto forged = f.dir / "forged-client.pem";
        std::ofstream(forged) << with_other_key(client_pair.cert, f.other.key);
        const auto doc = ra_connect_json(
            server.address(), {"--client-ra-tls", forged.string(), "--key", f.other.key, "--http-get", kSecretPath});
        CAPTURE(doc.dump(2));
        CHECK(doc["result"] == "ok");  // the server is genuine; it is the client that is refused
        CHECK(doc["http"]["status"] == 403);
        CHECK(doc["http"]["body"].get<std::string>().find("report_data_binding") != std::string::npos);
        CHECK_FALSE(f.application_reached());
    }
    {
        // No client certificate at all: the server ends the handshake.
        const auto r = run_tdxkit(ra_connect_args(server.address(), {"--http-get", kSecretPath}));
        CHECK(r.exit_code != 0);
        CHECK_FALSE(f.application_reached());
    }
    const auto doc = ra_connect_json(
        server.address(), {"--client-ra-tls", client_pair.cert, "--key", client_pair.key, "--http-get", kSecretPath});
    CAPTURE(doc.dump(2));
    CHECK(doc["result"] == "ok");
    CHECK(doc["http"]["status"] == 200);
    CHECK(f.application_reached());
    CHECK(server.process->err().find("client RA-TLS certificate verified") != std::string::npos);
    CHECK(server.process->err().find("client RA-TLS certificate rejected: report_data_binding") != std::string::npos);
    // Usage: a client key without its certificate; client verification options without --client-ra-tls.
    CHECK(run_tdxkit(ra_connect_args(server.address(), {"--key", client_pair.key})).exit_code == 2);
    CHECK(run_tdxkit({"atls-serve", "--listen", "127.0.0.1:0", "--ra-tls", "--cert", server_pair.cert, "--key",
                      server_pair.key, "--policy", "x.json"})
              .exit_code == 2);
}
