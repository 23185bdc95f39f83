#!/usr/bin/env python3
"""Fails when a libtdxkit module includes a module above it (lib/docs/architecture.md).

A module is a folder of lib/src/ and the public headers it implements; tdxkit-testing (lib/testing/)
is the module "testing". Each module may include itself and the modules listed for it below, nothing
else; the CLI (apps/) may include only public headers. Usage: layers.py REPO_ROOT
"""
import pathlib
import re
import sys

# Public headers (lib/include/tdxkit/<name>.hpp) by the module that implements them.
HEADER_MODULE = {
    "bytes": "core", "error": "core", "time": "core", "file": "core", "export": "core", "version": "core",
    "quote": "quote", "input": "quote",
    "eventlog": "eventlog",
    "pck": "pcs", "collateral": "pcs", "pcs": "pcs",
    "collateral_store": "verify",
    "verify": "verify",
    "measure": "measure", "measure_boot": "measure",
    "policy": "policy",
    "appraise": "appraise",
    "report": "report", "describe": "report",
    "batch": "batch",
    "provider": "provider",
    "atls": "atls",
    "attestation": "ratls", "ratls": "ratls",
    "serve": "serve",
    "testing": "testing",
}

# What each module may use besides itself: the layer order core <- crypto <- quote <- pcs <- verify
# <- policy <- appraise <- ratls <- report <- batch, with eventlog and measure beside quote, and provider, atls
# and testing beside the top.
ALLOWED = {
    "core": set(),
    "crypto": {"core"},
    "quote": {"core", "crypto"},
    "eventlog": {"core", "quote"},
    "measure": {"core", "crypto", "quote", "eventlog"},
    "pcs": {"core", "crypto", "quote"},
    "verify": {"core", "crypto", "quote", "pcs"},
    "policy": {"core", "quote", "pcs", "verify", "eventlog", "measure"},
    "appraise": {"core", "quote", "pcs", "verify", "eventlog", "policy"},
    # dstack's containers (versioned attestations, RA-TLS certificates) and their appraisal.
    "ratls": {"core", "crypto", "quote", "eventlog", "pcs", "verify", "policy", "appraise"},
    "report": {"core", "quote", "pcs", "verify", "eventlog", "policy", "appraise", "ratls"},
    "batch": {"core", "quote", "pcs", "verify", "eventlog", "policy", "appraise", "report"},
    # tdxkit-testing, a library of its own that libtdxkit never includes; it links the shared
    # libtdxkit, so of "crypto" it may use only the header-only OpenSSL owners.
    "testing": {"core", "crypto", "quote", "pcs", "eventlog", "provider"},
    "provider": {"core", "quote", "eventlog"},
    "serve": {"core", "crypto", "quote", "eventlog", "pcs", "verify", "policy", "appraise", "ratls", "report",
              "measure", "provider"},
    "atls": {"core", "crypto", "quote", "eventlog", "pcs", "verify", "policy", "appraise", "provider", "ratls"},
}

INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.MULTILINE)


def module_of_include(path):
    if path.startswith("tdxkit/"):
        name = path[len("tdxkit/"):].removesuffix(".hpp")
        return HEADER_MODULE.get(name, "?" + name)
    if "/" in path:
        return path.split("/", 1)[0]  # an internal header: lib/src/<module>/...
    return None  # a header next to the including file


def main(root):
    root = pathlib.Path(root)
    problems = []
    sources = [(p, p.relative_to(root / "lib" / "src").parts[0]) for p in (root / "lib" / "src").rglob("*.[ch]pp")]
    sources += [(p, HEADER_MODULE.get(p.stem, "?" + p.stem)) for p in (root / "lib" / "include" / "tdxkit").glob("*.hpp")]
    sources += [(p, "testing") for p in (root / "lib" / "testing").rglob("*.[ch]pp")]
    for path, module in sources:
        if module not in ALLOWED:
            problems.append(f"{path.relative_to(root)}: module '{module}' is not in the layer table")
            continue
        for include in INCLUDE.findall(path.read_text()):
            used = module_of_include(include)
            if used is None or used == module:
                continue
            if used not in ALLOWED[module]:
                problems.append(f"{path.relative_to(root)}: {module} includes \"{include}\" ({used}), "
                                f"which is not below it")
    for path in (root / "apps").rglob("*.[ch]pp"):
        for include in INCLUDE.findall(path.read_text()):
            if "/" in include and not include.startswith("tdxkit/"):
                problems.append(f"{path.relative_to(root)}: the CLI includes the internal header \"{include}\"")
    for line in problems:
        print(line)
    print(f"layers: {len(sources)} library files checked, {len(problems)} problems")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
