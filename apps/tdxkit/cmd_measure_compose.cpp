// `tdxkit measure-compose`: what a dstack TD measures for an app-compose.json.

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli.hpp"
#include "tdxkit/measure.hpp"
#include "tdxkit/policy.hpp"

namespace tdxkit::cli {
namespace {

using nlohmann::json;

struct MeasureCommand {
    std::string compose;
    bool normalize = false;
    bool preprocess = false;
    std::string write_normalized;
    std::string app_id;
    std::string key_provider;
    std::string key_provider_id;
    std::string policy_out;
};

constexpr std::size_t kMaxComposeSize = 4 * 1024 * 1024;

template <std::size_t N>
Octets<N> octets_option(const std::string& text, std::string_view option) {
    const auto bytes = from_hex(text, option);
    if (bytes.size() != N) {
        throw Error(Errc::invalid_argument,
                    fmt::format("{} must be {} bytes ({} hex digits), got {} bytes", option, N, 2 * N, bytes.size()));
    }
    Octets<N> out{};
    std::copy(bytes.begin(), bytes.end(), out.begin());
    return out;
}

// A policy accepting exactly this application; the rest stays at the defaults.
Policy snippet(const ComposeMeasurement& m) {
    Policy p = default_policy();
    p.td.mrconfigid = DigestList{Bytes(m.mr_config_id.begin(), m.mr_config_id.end())};
    auto& d = p.dstack.emplace();
    d.compose_hashes = DigestList{Bytes(m.compose_hash.begin(), m.compose_hash.end())};
    d.app_ids = DigestList{Bytes(m.app_id.begin(), m.app_id.end())};
    return p;
}

int run_measure(const MeasureCommand& cmd, const GlobalOptions& global) {
    if ((cmd.preprocess || !cmd.write_normalized.empty()) && !cmd.normalize) {
        throw Error(Errc::invalid_argument, "--preprocess and --write-normalized need --normalize");
    }
    const auto file = read_input(cmd.compose, kMaxComposeSize);
    const std::string_view text(reinterpret_cast<const char*>(file.data()), file.size());
    for (const auto& w : check_app_compose(text)) warn(w);

    const auto normalized = cmd.normalize ? std::optional(normalize_app_compose(text, cmd.preprocess)) : std::nullopt;
    const ByteSpan measured = normalized ? as_bytes(*normalized) : ByteSpan(file);
    if (normalized && !cmd.write_normalized.empty()) write_output(cmd.write_normalized, measured);
    if (normalized && !std::equal(measured.begin(), measured.end(), file.begin(), file.end()) && !global.quiet) {
        warn("the normalized form differs from the file: a dstack TD measures the bytes it is given, so deploy the "
             "normalized bytes (--write-normalized) for this hash to apply");
    }

    ComposeOptions opts;
    if (!cmd.app_id.empty()) opts.app_id = octets_option<20>(cmd.app_id, "--app-id");
    if (!cmd.key_provider.empty()) opts.key_provider = parse_key_provider_kind(cmd.key_provider);
    if (!cmd.key_provider_id.empty()) opts.key_provider_id = from_hex(cmd.key_provider_id, "--key-provider-id");
    const auto m = measure_compose(measured, opts);
    const auto policy = snippet(m);
    if (!cmd.policy_out.empty()) write_output(cmd.policy_out, as_bytes(policy_to_json(policy) + "\n"));

    const auto source = normalized ? (cmd.preprocess ? "normalized (SDK canonical form, preprocessed)"
                                                     : "normalized (SDK canonical form)")
                                   : "file bytes";
    if (global.json) {
        const json doc{{"schema", "tdxkit.measure-compose/v1"},
                       {"measured", normalized ? "normalized" : "file"},
                       {"preprocessed", cmd.preprocess},
                       {"measured_size", measured.size()},
                       {"compose_hash", to_hex(m.compose_hash)},
                       {"app_id", to_hex(m.app_id)},
                       {"app_id_source", opts.app_id ? "option" : "compose_hash"},
                       {"compose_hash_event_digest", to_hex(m.compose_event_digest)},
                       {"app_id_event_digest", to_hex(m.app_id_event_digest)},
                       {"mr_config_id", to_hex(m.mr_config_id)},
                       {"mr_config_id_version", m.mr_config_version},
                       {"key_provider", key_provider_kind_name(m.key_provider)},
                       {"key_provider_id", to_hex(m.key_provider_id)},
                       {"policy", json::parse(policy_to_json(policy))}};
        write_output("-", as_bytes(doc.dump(2) + "\n"));
        return kOk;
    }
    std::string out;
    const auto line = [&](std::string_view key, const std::string& value) {
        out += fmt::format("{:<28}{}\n", key, value);
    };
    line("Compose hash:",
         fmt::format("{}  (SHA-256 of the {}, {} bytes)", to_hex(m.compose_hash), source, measured.size()));
    line("App id:",
         fmt::format("{}  ({})", to_hex(m.app_id), opts.app_id ? "--app-id" : "first 20 bytes of the compose hash"));
    line("RTMR3 compose-hash digest:", to_hex(m.compose_event_digest));
    line("RTMR3 app-id digest:", to_hex(m.app_id_event_digest));
    line(fmt::format("MRCONFIGID (V{}):", m.mr_config_version), to_hex(m.mr_config_id));
    line("Key provider:", m.key_provider_id.empty() ? std::string(key_provider_kind_name(m.key_provider))
                                                    : fmt::format("{}, id {}", key_provider_kind_name(m.key_provider),
                                                                  to_hex(m.key_provider_id)));
    if (!cmd.policy_out.empty()) line("Policy written to:", cmd.policy_out);
    write_output("-", as_bytes(out));
    return kOk;
}

}  // namespace

void register_measure_compose(CLI::App& root, const GlobalOptions& global, int& rc) {
    auto cmd = std::make_shared<MeasureCommand>();
    auto* sub = root.add_subcommand("measure-compose", "Compute the dstack compose hash and derived measurements");
    sub->add_option("app_compose", cmd->compose, "app-compose.json, '-' for stdin")->required();
    sub->add_flag("--normalize", cmd->normalize, "Hash the dstack SDK canonical form instead of the file's bytes");
    sub->add_flag("--preprocess", cmd->preprocess, "With --normalize: the SDK's optional preprocessing too");
    sub->add_option("--write-normalized", cmd->write_normalized, "With --normalize: write the canonical bytes here");
    sub->add_option("--app-id", cmd->app_id, "App id (20 bytes hex), when it is not the compose hash prefix");
    sub->add_option("--key-provider", cmd->key_provider, "Key provider for MRCONFIGID V2 (default: from the file)")
        ->check(CLI::IsMember({"none", "local", "kms", "tpm"}));
    sub->add_option("--key-provider-id", cmd->key_provider_id,
                    "Key provider id (hex) for MRCONFIGID V2 (default: the file's key_provider_id)");
    sub->add_option("--policy-out", cmd->policy_out, "Write a policy accepting this application (verify --policy)");
    sub->callback([cmd, &global, &rc] { rc = run_measure(*cmd, global); });
}

}  // namespace tdxkit::cli
