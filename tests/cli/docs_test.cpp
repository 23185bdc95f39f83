// Man pages and shell completions stay in sync with the real CLI.
//
// The command tree is discovered from the built binary (`tdxkit --help`, then `tdxkit <path> --help`
// for every subcommand listed, recursively), so a new subcommand or option fails these tests until it
// is documented in man/ and offered by every file in completions/. The bash, zsh and fish completions
// are also exercised for real: each shell is asked what it offers after `tdxkit <path> --`.
// Syntax and lint checks of the same files (groff, mandoc, bash -n, zsh -n, fish, shellcheck) are
// separate ctest tests in tests/lint/tests.cmake.

#include <doctest/doctest.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <unistd.h>

#include "support/test_support.hpp"

namespace fs = std::filesystem;
using tdxkit::test::read_text;
using tdxkit::test::run_process;
using tdxkit::test::run_tdxkit;
using tdxkit::test::source_dir;

namespace {

using Strings = std::vector<std::string>;
using StringSet = std::set<std::string>;

struct Command {
    Strings path;                            // {} for the root, {"quote", "decode"}, ...
    StringSet long_options;                  // "--format", as printed in the Options: section
    StringSet subcommands;                   // direct children
    std::map<std::string, Strings> choices;  // "--format" -> {"auto", "raw", ...} from CLI::IsMember
    std::string help;
};

std::string join(const Strings& parts, std::string_view sep) {
    std::string out;
    for (const auto& p : parts) {
        if (!out.empty()) out += sep;
        out += p;
    }
    return out;
}

std::string display(const Command& c) { return c.path.empty() ? "tdxkit" : "tdxkit " + join(c.path, " "); }

std::string trim_left(const std::string& s) { return s.substr(std::min(s.find_first_not_of(' '), s.size())); }

// Parses CLI11 2.x help output: "Options:" and "Subcommands:" sections, each ended by a blank line.
Command parse_help(Strings path, const std::string& help) {
    Command cmd{std::move(path), {}, {}, {}, help};
    std::istringstream in(help);
    std::string line;
    enum class Section { none, options, subcommands } section = Section::none;
    const std::regex choice_re(R"(\{([^}]*)\})");
    while (std::getline(in, line)) {
        if (line.empty()) {
            section = Section::none;
        } else if (line == "Options:") {
            section = Section::options;
        } else if (line == "Subcommands:") {
            section = Section::subcommands;
        } else if (section == Section::options && line.starts_with(" ")) {
            const auto body = trim_left(line);
            if (!body.starts_with("-")) continue;  // a description continued on its own line
            const auto names_end = body.find(' ');
            std::stringstream names(body.substr(0, names_end));
            std::string name;
            std::string long_name;
            while (std::getline(names, name, ',')) {
                if (name.starts_with("--")) {
                    cmd.long_options.insert(name);
                    long_name = name;
                }
            }
            // The value type follows the names: "TEXT:{auto,raw,hex}=auto". Only it may hold choices; the
            // description after it may contain braces of its own.
            std::smatch m;
            const auto rest = names_end == std::string::npos ? std::string{} : trim_left(body.substr(names_end));
            const auto type = rest.substr(0, rest.find(' '));
            if (!long_name.empty() && std::regex_search(type, m, choice_re)) {
                std::stringstream list(m[1].str());
                std::string choice;
                while (std::getline(list, choice, ',')) cmd.choices[long_name].push_back(choice);
            }
        } else if (section == Section::subcommands && line.starts_with("  ") && line[2] != ' ') {
            cmd.subcommands.insert(trim_left(line).substr(0, trim_left(line).find(' ')));
        }
    }
    return cmd;
}

const std::vector<Command>& command_tree() {
    static const std::vector<Command> tree = [] {
        std::vector<Command> out;
        std::vector<Strings> todo{{}};
        while (!todo.empty()) {
            auto path = todo.front();
            todo.erase(todo.begin());
            auto args = path;
            args.emplace_back("--help");
            const auto r = run_tdxkit(args);
            if (r.exit_code != 0) FAIL("tdxkit " << join(args, " ") << " exited " << r.exit_code << ": " << r.err);
            auto cmd = parse_help(path, r.out);
            for (const auto& sub : cmd.subcommands) {
                auto child = path;
                child.push_back(sub);
                todo.push_back(child);
            }
            out.push_back(std::move(cmd));
        }
        return out;
    }();
    return tree;
}

const Command& root_command() { return command_tree().front(); }

bool is_word_char(char c) { return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '-' || c == '_'; }

// `word` occurs in `text` not as part of a longer option or name.
bool contains_word(const std::string& text, const std::string& word) {
    for (auto pos = text.find(word); pos != std::string::npos; pos = text.find(word, pos + 1)) {
        const bool left_ok = pos == 0 || !is_word_char(text[pos - 1]);
        const auto end = pos + word.size();
        const bool right_ok = end >= text.size() || !is_word_char(text[end]);
        if (left_ok && right_ok) return true;
    }
    return false;
}

// Lines that are not comments ('#' shell comments), so that a name mentioned only in a comment does not count.
std::string without_shell_comments(const std::string& text) {
    std::istringstream in(text);
    std::string line;
    std::string out;
    while (std::getline(in, line)) {
        if (trim_left(line).starts_with("#")) continue;
        out += line;
        out += '\n';
    }
    return out;
}

// Roff source as plain text: comments dropped, font escapes removed, \- and \e resolved.
std::string roff_text(const std::string& roff) {
    std::istringstream in(roff);
    std::string line;
    std::string out;
    while (std::getline(in, line)) {
        if (line.starts_with(".\\\"")) continue;
        out += line;
        out += '\n';
    }
    out = std::regex_replace(out, std::regex(R"(\\f[BIRP])"), "");
    out = std::regex_replace(out, std::regex(R"(\\-)"), "-");
    out = std::regex_replace(out, std::regex(R"(\\e)"), "\\");
    return out;
}

// The tag lines of `.TP` items (the line after each `.TP` or `.TQ`), as plain text: where options are
// documented.
std::string roff_item_tags(const std::string& roff) {
    std::istringstream in(roff);
    std::string line;
    std::string out;
    bool next_is_tag = false;
    while (std::getline(in, line)) {
        if (next_is_tag) {
            out += line;
            out += '\n';
        }
        next_is_tag = line == ".TP" || line.starts_with(".TP ") || line == ".TQ";
    }
    return roff_text(out);
}

fs::path man_dir() { return source_dir() / "man"; }
fs::path completions_dir() { return source_dir() / "completions"; }

// Top-level commands have their own page (git style); nested ones are documented in their top-level
// command's page unless they have one of their own.
fs::path man_page_for(const Command& c) {
    if (c.path.empty()) return man_dir() / "tdxkit.1";
    const auto own = man_dir() / ("tdxkit-" + join(c.path, "-") + ".1");
    if (c.path.size() == 1 || fs::exists(own)) return own;
    return man_dir() / ("tdxkit-" + c.path.front() + ".1");
}

bool have_program(const std::string& name) {
    const char* path = std::getenv("PATH");
    if (path == nullptr) return false;
    std::stringstream dirs(path);
    std::string dir;
    while (std::getline(dirs, dir, ':')) {
        if (!dir.empty() && ::access((fs::path(dir) / name).c_str(), X_OK) == 0) return true;
    }
    return false;
}

// These cases run as ctest tests of their own (tests/CMakeLists.txt), so a missing shell skips
// only its own case, visibly.
void skip_unless_installed(const std::string& shell) {
    if (!have_program(shell))
        tdxkit::test::skip_this_test(shell + " is not installed (bash scripts/test.sh installs it)");
}

StringSet lines_of(const std::string& text) {
    StringSet out;
    std::istringstream in(text);
    std::string line;
    while (std::getline(in, line)) {
        if (!line.empty()) out.insert(line);
    }
    return out;
}

std::string shell_quote(const std::string& s) {
    std::string out = "'";
    for (const char c : s) {
        if (c == '\'') {
            out += "'\\''";
        } else {
            out += c;
        }
    }
    return out + "'";
}

// What a shell's completion offers for `tdxkit <path> <words...> <partial>`, one candidate per element.
using Completer = StringSet (*)(const Strings& words_after_tdxkit, const std::string& partial);

StringSet bash_complete(const Strings& words, const std::string& partial) {
    std::string array = "tdxkit";
    for (const auto& w : words) array += " " + shell_quote(w);
    array += " " + shell_quote(partial);
    const std::string script = "source " + shell_quote((completions_dir() / "tdxkit.bash").string()) +
                               " && COMP_WORDS=(" + array +
                               ") && COMP_CWORD=$((${#COMP_WORDS[@]} - 1)) && "
                               "COMPREPLY=() && _tdxkit && printf '%s\\n' \"${COMPREPLY[@]}\"";
    const auto r = run_process({"bash", "--norc", "--noprofile", "-c", script});
    REQUIRE_MESSAGE(r.exit_code == 0, "bash completion failed: " << r.err);
    return lines_of(r.out);
}

StringSet fish_complete(const Strings& words, const std::string& partial) {
    std::string line = "tdxkit";
    for (const auto& w : words) line += " " + w;
    line += " " + partial;
    const std::string script =
        "source " + shell_quote((completions_dir() / "tdxkit.fish").string()) + "; and complete -C" + shell_quote(line);
    const auto r = run_process({"fish", "--no-config", "-c", script});
    REQUIRE_MESSAGE(r.exit_code == 0, "fish completion failed: " << r.err);
    StringSet out;
    for (const auto& l : lines_of(r.out)) out.insert(l.substr(0, l.find('\t')));  // drop "\tdescription"
    return out;
}

StringSet zsh_complete(const Strings& words, const std::string& partial) {
    std::string line = "tdxkit";
    for (const auto& w : words) line += " " + w;
    line += " " + partial;
    const auto r = run_process(
        {"zsh", "-f", (source_dir() / "tests/lint/zsh-complete.zsh").string(), completions_dir().string(), line});
    REQUIRE_MESSAGE(r.exit_code == 0, "zsh completion failed: " << r.err);
    return lines_of(r.out);
}

std::string show(const StringSet& s) {
    std::string out;
    for (const auto& x : s) out += (out.empty() ? "" : " ") + x;
    return "{" + out + "}";
}

// The shell offers every subcommand, every long option and every choice the CLI has, and no long
// option the CLI does not accept at that point (the command's own or a global one).
void check_completer(const std::string& shell, Completer complete) {
    const auto& globals = root_command().long_options;
    for (const auto& cmd : command_tree()) {
        CAPTURE(shell);
        const auto where = display(cmd);
        CAPTURE(where);

        const auto offered = complete(cmd.path, "--");
        for (const auto& opt : cmd.long_options) {
            CHECK_MESSAGE(offered.count(opt) == 1, shell << " completion does not offer " << opt << " after `" << where
                                                         << "`; offered " << show(offered));
        }
        for (const auto& opt : offered) {
            if (!opt.starts_with("--")) continue;
            CHECK_MESSAGE((cmd.long_options.count(opt) == 1 || globals.count(opt) == 1),
                          shell << " completion offers " << opt << " after `" << where
                                << "`, which the CLI does not accept there");
        }

        if (!cmd.subcommands.empty()) {
            const auto subs = complete(cmd.path, "");
            for (const auto& sub : cmd.subcommands) {
                CHECK_MESSAGE(subs.count(sub) == 1, shell << " completion does not offer subcommand `" << where << " "
                                                          << sub << "`; offered " << show(subs));
            }
        }

        for (const auto& [opt, values] : cmd.choices) {
            auto words = cmd.path;
            words.push_back(opt);
            const auto got = complete(words, "");
            const StringSet expected(values.begin(), values.end());
            CHECK_MESSAGE(got == expected, shell << " completion for `" << where << " " << opt << "` offers "
                                                 << show(got) << ", expected " << show(expected));
        }
    }
}

}  // namespace

TEST_CASE("the command tree is discovered from --help") {
    const auto& tree = command_tree();
    REQUIRE(tree.size() >= 3);  // tdxkit, quote, quote decode
    CHECK(root_command().long_options.count("--help") == 1);
    CHECK(root_command().long_options.count("--json") == 1);
    CHECK(root_command().subcommands.count("quote") == 1);
    const auto decode = std::find_if(tree.begin(), tree.end(), [](const Command& c) {
        return c.path == Strings{"quote", "decode"};
    });
    REQUIRE(decode != tree.end());
    CHECK(decode->long_options.count("--format") == 1);
    CHECK(decode->choices.at("--format") == Strings{"auto", "raw", "hex", "base64", "json"});
}

TEST_CASE("every subcommand has a man page that documents each of its long options") {
    for (const auto& cmd : command_tree()) {
        const auto where = display(cmd);
        CAPTURE(where);
        const auto page = man_page_for(cmd);
        CAPTURE(page);
        REQUIRE_MESSAGE(fs::exists(page), "no man page for `" << where << "`: write " << page.string());
        const auto roff = read_text(page);
        const auto text = roff_text(roff);
        const auto tags = roff_item_tags(roff);
        CHECK_MESSAGE(contains_word(text, where), page.filename().string() << " never mentions `" << where << "`");
        for (const auto& opt : cmd.long_options) {
            CHECK_MESSAGE(contains_word(tags, opt), page.filename().string()
                                                        << " does not document " << opt << " of `" << where
                                                        << "` as a .TP item under OPTIONS");
        }
        for (const auto* section :
             {".SH NAME", ".SH SYNOPSIS", ".SH DESCRIPTION", ".SH OPTIONS", ".SH EXIT STATUS", ".SH SEE ALSO"}) {
            CHECK_MESSAGE(roff.find(std::string("\n") + section + "\n") != std::string::npos,
                          page.filename().string() << " has no " << section << " section");
        }
    }
}

TEST_CASE("man pages carry the current version and the EXIT STATUS of --help") {
    const auto version_out = run_tdxkit({"--version"});
    REQUIRE(version_out.exit_code == 0);
    const auto version = version_out.out.substr(0, version_out.out.find('\n'));  // "tdxkit 0.1.0"
    for (const auto& entry : fs::directory_iterator(man_dir())) {
        if (entry.path().extension() != ".1") continue;
        const auto roff = read_text(entry.path());
        const auto th =
            roff.substr(roff.find("\n.TH "), roff.find('\n', roff.find("\n.TH ") + 1) - roff.find("\n.TH "));
        CHECK_MESSAGE(th.find("\"" + version + "\"") != std::string::npos,
                      entry.path().filename().string()
                          << ": the .TH line should name \"" << version << "\" (update the version and date)");
    }

    // "Exit status: 0 ok, 1 rejected, ..." in the --help footer: each code is a .TP item in tdxkit(1).
    const auto& help = root_command().help;
    const auto footer = help.find("Exit status:");
    REQUIRE_MESSAGE(footer != std::string::npos, "tdxkit --help has no \"Exit status:\" footer");
    const auto codes_text = help.substr(footer, help.find('\n', footer) - footer);
    const std::regex code_re(R"((\d+) [a-zA-Z])");
    const auto roff = read_text(man_dir() / "tdxkit.1");
    const auto exit_section = roff.substr(roff.find(".SH EXIT STATUS"));
    const auto tags = roff_item_tags(exit_section.substr(0, exit_section.find("\n.SH ", 1)));
    int codes = 0;
    for (std::sregex_iterator it(codes_text.begin(), codes_text.end(), code_re), end; it != end; ++it) {
        ++codes;
        const auto code = (*it)[1].str();
        CHECK_MESSAGE(contains_word(tags, code), "tdxkit.1 EXIT STATUS does not list exit code " << code);
    }
    CHECK(codes >= 7);
}

// fish declares `--format` as `complete ... -l format`.
bool completion_mentions_option(const std::string& file, const std::string& text, const std::string& opt) {
    if (file.ends_with(".fish")) {
        const auto name = opt.substr(2);
        return contains_word(text, "-l " + name) || contains_word(text, "--long-option " + name);
    }
    return contains_word(text, opt);
}

TEST_CASE("every completion file names every subcommand and long option") {
    for (const std::string file : {"tdxkit.bash", "_tdxkit", "tdxkit.fish"}) {
        CAPTURE(file);
        const auto path = completions_dir() / file;
        REQUIRE_MESSAGE(fs::exists(path), "missing completion file " << path.string());
        const auto text = without_shell_comments(read_text(path));
        for (const auto& cmd : command_tree()) {
            const auto where = display(cmd);
            for (const auto& sub : cmd.subcommands) {
                CHECK_MESSAGE(contains_word(text, sub),
                              file << " does not complete subcommand `" << where << " " << sub << "`");
            }
            for (const auto& opt : cmd.long_options) {
                CHECK_MESSAGE(completion_mentions_option(file, text, opt),
                              file << " does not complete " << opt << " of `" << where << "`");
            }
            for (const auto& [opt, values] : cmd.choices) {
                for (const auto& v : values) {
                    CHECK_MESSAGE(contains_word(text, v), file << " does not complete the value " << v << " of " << opt
                                                               << " of `" << where << "`");
                }
            }
        }
    }
}

TEST_CASE("bash completion offers the CLI's subcommands, options and values") {
    check_completer("bash", bash_complete);
    // Files for the quote argument.
    const auto files = bash_complete({"quote", "decode"}, (source_dir() / "man" / "tdxkit").string());
    CHECK(files.count((man_dir() / "tdxkit.1").string()) == 1);
}

TEST_CASE("zsh completion offers the CLI's subcommands, options and values") {
    skip_unless_installed("zsh");
    check_completer("zsh", zsh_complete);
}

TEST_CASE("fish completion offers the CLI's subcommands, options and values") {
    skip_unless_installed("fish");
    check_completer("fish", fish_complete);
    const auto files = fish_complete({"quote", "decode"}, (source_dir() / "man" / "tdxkit").string());
    CHECK(files.count((man_dir() / "tdxkit.1").string()) == 1);
}
