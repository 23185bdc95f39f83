// Attested-TLS bindings against the reference vectors (dstack-atls-eventlog.md §5, computed there
// with Python hashlib), address parsing, and mutual RA-TLS through the library on loopback.

#include <doctest/doctest.h>

#include <atomic>
#include <csignal>
#include <filesystem>
#include <mutex>
#include <thread>

#include <unistd.h>

#include "support/test_support.hpp"
#include "tdxkit/atls.hpp"
#include "tdxkit/error.hpp"
#include "tdxkit/file.hpp"
#include "tdxkit/ratls.hpp"
#include "tdxkit/testing.hpp"

using namespace tdxkit;

namespace {

Bytes range(int from, int to) {
    Bytes out;
    for (int i = from; i < to; ++i) out.push_back(static_cast<std::uint8_t>(i));
    return out;
}

const std::string kKey = "dev-mode-ekm-placeholder-not-for-production";
const std::string kHmac = "52323983cc0cd6c10d87a8a977558647a2c97e2a15aff691c2282824c2ddcbc2";

}  // namespace

TEST_CASE("report data = SHA-512(nonce || ekm): nonce 00..1f, EKM 20..3f") {
    CHECK(to_hex(atls::session_report_data(range(0, 32), range(32, 64))) ==
          "ee4320ebaf3fdb4f2c832b137200c08e235e0fa7bbd0eb1740c7063ba8a0d151"
          "da77e003398e1714a955d475b05e3e950b639503b452ec185de4229bc4873949");
    // The order matters: EKM first is a different value.
    CHECK(to_hex(atls::session_report_data(range(32, 64), range(0, 32))).rfind("ee4320eb", 0) != 0);
}

TEST_CASE("EKM header: shade's format, checked in constant time") {
    const auto ekm = range(32, 64);
    const auto header = atls::ekm_header_value(ekm, as_bytes(kKey));
    CHECK(header == to_hex(ekm) + ":" + kHmac);
    CHECK(atls::check_ekm_header(header, as_bytes(kKey)) == ekm);

    SUBCASE("wrong key or flipped bit: invalid_argument (403)") {
        auto flipped = header;
        flipped.back() = flipped.back() == '2' ? '3' : '2';
        for (const auto& [value, key] : {std::pair{header, std::string("another key")}, std::pair{flipped, kKey}}) {
            try {
                (void)atls::check_ekm_header(value, as_bytes(key));
                FAIL("accepted");
            } catch (const Error& e) {
                CHECK(e.code() == Errc::invalid_argument);
            }
        }
        // The EKM half is covered too.
        auto other_ekm = header;
        other_ekm[0] = '3';
        CHECK_THROWS_AS((void)atls::check_ekm_header(other_ekm, as_bytes(kKey)), Error);
    }
    SUBCASE("bad shape: malformed (400)") {
        for (const auto& bad :
             std::vector<std::string>{header.substr(1), header + "0", std::string(header).replace(64, 1, "-"),
                                      to_hex(ekm) + ":" + std::string(64, 'A'), std::string()}) {
            try {
                (void)atls::check_ekm_header(bad, as_bytes(kKey));
                FAIL("accepted " << bad);
            } catch (const Error& e) {
                CHECK(e.code() == Errc::malformed);
            }
        }
    }
}

TEST_CASE("HOST:PORT parsing") {
    CHECK(atls::split_host_port("127.0.0.1:8443", "x") == std::pair<std::string, std::uint16_t>{"127.0.0.1", 8443});
    CHECK(atls::split_host_port("[::1]:443", "x") == std::pair<std::string, std::uint16_t>{"::1", 443});
    CHECK(atls::split_host_port("example.com:0", "x").second == 0);
    for (const auto* bad : {"example.com", ":443", "host:", "host:65536", "host:-1", "::1:443", "[::1]443", "h:1x"}) {
        CAPTURE(bad);
        CHECK_THROWS_AS((void)atls::split_host_port(bad, "x"), Error);
    }
}

TEST_CASE("leaf certificate: first of a PEM chain, or DER; anything else is malformed") {
    const auto pem = std::string("-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n");
    CHECK_THROWS_AS((void)atls::leaf_certificate_der(as_bytes(pem)), Error);
    CHECK_THROWS_AS((void)atls::leaf_certificate_der(as_bytes("garbage")), Error);
}

namespace {

const std::string kAt = "2026-01-15T00:00:00Z";  // the simulated PKI's collateral is valid then

std::string pki() { return (test::source_dir() / "testdata/pki").string(); }

// A certificate for `key` carrying a simulated quote over `bound_spki`'s binding (the key's own SPKI
// for a genuine RA-TLS certificate).
std::string simulated_certificate(const ratls::KeyPair& key, ByteSpan bound_spki) {
    QuoteRequest request;
    request.provider = QuoteProvider::simulated;
    request.pki_dir = pki();
    request.report_data = ratls::content_report_data(ratls::kTagRaTlsCert, bound_spki);
    const auto q = testing::generate_simulated_quote(request);
    ratls::CertificateRequest cert;
    cert.not_before = parse_time("2026-01-01T00:00:00Z");
    cert.not_after = parse_time("2027-01-01T00:00:00Z");
    cert.quote = q.quote;
    cert.event_log = *q.event_log;
    return ratls::make_certificate(key, cert);
}

struct Files {
    std::string cert;
    std::string key;
};

Files write_pair(const std::filesystem::path& dir, const std::string& name, const std::string& cert_pem,
                 const ratls::KeyPair& key) {
    Files f{(dir / (name + ".pem")).string(), (dir / (name + ".key")).string()};
    write_file_atomically(f.cert, as_bytes(cert_pem));
    write_private_file_atomically(f.key, key.private_key_pem.view());
    return f;
}

atls::PeerAppraisalOptions simulated_appraisal() {
    atls::PeerAppraisalOptions o;
    const auto collateral = load_collateral((test::source_dir() / "testdata/collateral/sim").string());
    o.collateral = [collateral](const Quote&) { return collateral; };
    o.trust_root = custom_trust_root(test::read_file(test::source_dir() / "testdata/pki/root.pem"));
    o.at = parse_time(kAt);
    return o;
}

}  // namespace

TEST_CASE("an RA-TLS certificate in DER decodes as DER, although its quote carries the PCK chain as PEM text") {
    const auto key = ratls::generate_key();
    const auto pem = simulated_certificate(key, key.spki_der);
    const auto der = atls::leaf_certificate_der(as_bytes(pem));
    const auto evidence = ratls::decode_evidence(der);
    REQUIRE(evidence.certificate);
    CHECK(evidence.certificate->der == der);
    CHECK(evidence.certificate->spki_der == key.spki_der);
    CHECK(evidence.quote == *evidence.certificate->quote);
}

TEST_CASE("mutual RA-TLS: the server appraises each client's certificate before reading its requests") {
    // As the CLI does: a peer that goes away must not kill the process (TLS writes are plain write(2)s).
    static_cast<void>(std::signal(SIGPIPE, SIG_IGN));
    const auto dir = std::filesystem::temp_directory_path() / ("tdxkit-mutual-ratls-" + std::to_string(::getpid()));
    std::filesystem::remove_all(dir);
    std::filesystem::create_directories(dir);

    auto server_key = ratls::generate_key();
    atls::ServerOptions server;
    server.cert_pem = simulated_certificate(server_key, server_key.spki_der);
    server.key_pem = std::move(server_key.private_key_pem);
    server.ra_tls = true;
    server.client_ra_tls = simulated_appraisal();
    server.io_timeout = std::chrono::seconds(10);
    std::atomic<int> port{0};
    server.on_listening = [&port](const std::string&, std::uint16_t p) { port = p; };
    std::mutex mutex;
    std::vector<std::string> log;
    server.log = [&](std::string_view line) {
        const std::lock_guard lock(mutex);
        log.emplace_back(line);
    };
    std::atomic<bool> stop{false};
    std::thread thread([&] { atls::serve(server, stop); });
    // Stops and joins also when an assertion below ends the test early.
    struct Joiner {
        std::atomic<bool>& stop;
        std::thread& thread;
        ~Joiner() {
            stop = true;
            thread.join();
        }
    } joiner{stop, thread};
    for (int i = 0; i < 500 && port == 0; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    REQUIRE(port != 0);

    const auto client_options = [&](const Files& files) {
        atls::ClientOptions o;
        o.host = "127.0.0.1";
        o.port = static_cast<std::uint16_t>(port.load());
        o.ra_tls = true;
        o.client_cert_file = files.cert;
        o.client_key_file = files.key;
        const auto appraisal = simulated_appraisal();
        o.collateral = appraisal.collateral;
        o.trust_root = appraisal.trust_root;
        o.at = appraisal.at;
        return o;
    };
    const auto logged = [&](const std::string& needle) {
        const std::lock_guard lock(mutex);
        return std::any_of(log.begin(), log.end(),
                           [&](const std::string& l) { return l.find(needle) != std::string::npos; });
    };

    SUBCASE("a genuine client certificate: its requests are served") {
        const auto key = ratls::generate_key();
        auto session =
            atls::connect(client_options(write_pair(dir, "client", simulated_certificate(key, key.spki_der), key)));
        REQUIRE(session.outcome().verified);
        CHECK(session.http_get("/x", std::chrono::seconds(10), 4096).status == 404);  // no upstream
        CHECK(logged("client RA-TLS certificate verified"));
    }
    SUBCASE("a client certificate whose quote binds another key: 403 naming the step, nothing served") {
        const auto key = ratls::generate_key();
        const auto other = ratls::generate_key();
        auto session =
            atls::connect(client_options(write_pair(dir, "forged", simulated_certificate(key, other.spki_der), key)));
        REQUIRE(session.outcome().verified);  // the server itself is genuine
        const auto answer = session.http_get("/x", std::chrono::seconds(10), 4096);
        CHECK(answer.status == 403);
        CHECK(answer.body.find("report_data_binding") != std::string::npos);
        CHECK(logged("client RA-TLS certificate rejected: report_data_binding"));
        CHECK_FALSE(logged("GET /x"));
    }
    SUBCASE("no client certificate: the handshake fails on the server side") {
        auto options = client_options({});
        options.client_cert_file.clear();
        options.client_key_file.clear();
        auto session = atls::connect(options);
        REQUIRE(session.outcome().verified);  // TLS 1.3: the client finishes before the server judges it
        CHECK_THROWS_AS((void)session.http_get("/x", std::chrono::seconds(10), 4096), Error);
        CHECK_FALSE(logged("GET /x"));
    }
    std::filesystem::remove_all(dir);
}
