#!/usr/bin/env python3
"""Keeps docs/configuration.md in step with the config loader.

Checks, and prints every problem found (exit 1), else exit 0:
  - every key the loader accepts (the key lists src/config/config.cc gives MapView::Open) is documented in
    docs/configuration.md: a row of a `| key | type | default | meaning |` table whose first cell is the key's
    path ending in that key (`prometheus.tls.caFile`, `metrics[].preset.window`);
  - every key such a row documents is one the loader accepts (no stale keys);
  - every accepted key appears in the YAML reference comment at the top of src/config/config.h (the source);
  - with --adapter, every ```yaml block of the page is a whole configuration the adapter accepts
    (`autoscale-adapter --config FILE --check-config`).
--expect-missing KEY checks the checker: it removes KEY's rows from the page first and succeeds only if the check
then reports KEY as undocumented.
"""

import argparse
import os
import re
import subprocess
import sys
import tempfile


def accepted_keys(config_cc):
    """The keys of every `MapView::Open(..., {"a", "b"})` call and named key list in config.cc."""
    keys = set()
    # MapView::Open(errors, node, path, {"k1", "k2", ...}) with the list inline...
    for m in re.finditer(r"MapView::Open\(", config_cc):
        depth, i = 1, m.end()
        while depth and i < len(config_cc):
            depth += {"(": 1, ")": -1}.get(config_cc[i], 0)
            i += 1
        call = config_cc[m.end():i]
        for brace in re.finditer(r"\{([^{}]*)\}", call):
            keys.update(re.findall(r'"([A-Za-z]+)"', brace.group(1)))
    # ...or named: std::initializer_list<std::string_view> keys_rules = {"overrides", "template"};
    for m in re.finditer(r"initializer_list<std::string_view>\s+\w+\s*=\s*\{([^{}]*)\}", config_cc):
        keys.update(re.findall(r'"([A-Za-z]+)"', m.group(1)))
    return keys


def documented_rows(doc):
    """(path, line number) of each row of the page's key tables."""
    rows, in_table = [], False
    for n, line in enumerate(doc.splitlines(), 1):
        if re.match(r"\|\s*key\s*\|\s*type\s*\|\s*default\s*\|\s*meaning\s*\|", line):
            in_table = True
            continue
        if not line.startswith("|"):
            in_table = False
            continue
        if in_table and not re.match(r"\|[-| ]+\|$", line):
            cell = line.split("|")[1].strip()
            m = re.fullmatch(r"`([^`]+)`", cell)
            rows.append((m.group(1) if m else cell, n))
    return rows


def key_of(path):
    """The last key of a documented path: metrics[].preset.window -> window."""
    last = path.split(".")[-1]
    return re.sub(r"\[\]$", "", last)


def header_reference(config_h):
    """The words of config.h's YAML reference comment (between `clang-format off` and `on`)."""
    m = re.search(r"// clang-format off\n(.*?)// clang-format on", config_h, re.S)
    return set(re.findall(r"[A-Za-z]+", m.group(1) if m else ""))


def check_examples(doc, adapter):
    problems = []
    blocks = re.findall(r"^```yaml\n(.*?)^```", doc, re.M | re.S)
    if not blocks:
        return ["docs/configuration.md has no ```yaml example"]
    with tempfile.TemporaryDirectory() as tmp:
        for i, block in enumerate(blocks, 1):
            path = os.path.join(tmp, f"example-{i}.yaml")
            with open(path, "w") as f:
                f.write(block)
            r = subprocess.run([adapter, f"--config={path}", "--check-config", "--log-format=logfmt"],
                               capture_output=True, text=True, timeout=60)
            if r.returncode != 0:
                first = block.strip().splitlines()[0] if block.strip() else ""
                problems.append(f"docs/configuration.md: yaml example {i} (starting {first!r}) is refused by the "
                                f"adapter: {(r.stderr or r.stdout).strip()[-400:]}")
    return problems


def run(root, adapter, expect_missing=None):
    read = lambda rel: open(os.path.join(root, rel), encoding="utf-8").read()  # noqa: E731
    config_cc, config_h, doc = read("src/config/config.cc"), read("src/config/config.h"), read(
        "docs/configuration.md")
    if expect_missing:
        doc = "\n".join(line for line in doc.splitlines()
                        if not re.match(r"\|\s*`[^`]*\b%s(\[\])?`" % re.escape(expect_missing), line))
    accepted = accepted_keys(config_cc)
    problems = []
    if len(accepted) < 40:  # a broken extraction must not pass as "nothing to check"
        problems.append(f"found only {len(accepted)} keys in src/config/config.cc's MapView::Open lists")
    rows = documented_rows(doc)
    documented = {key_of(path) for path, _ in rows}
    for key in sorted(accepted - documented):
        problems.append(f"docs/configuration.md: key `{key}` (accepted by src/config/config.cc) is not documented "
                        f"in a `| key | type | default | meaning |` table")
    for path, n in rows:
        if key_of(path) not in accepted:
            problems.append(f"docs/configuration.md:{n}: `{path}` is not a key src/config/config.cc accepts")
    words = header_reference(config_h)
    for key in sorted(accepted - words):
        problems.append(f"src/config/config.h: key `{key}` is missing from the YAML reference comment")
    if adapter and not expect_missing:
        problems += check_examples(doc, adapter)
    return problems


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--root", required=True, help="the repository")
    ap.add_argument("--adapter", help="autoscale-adapter binary: also check the page's YAML examples")
    ap.add_argument("--expect-missing", metavar="KEY", help="self-check: remove KEY's rows, expect a report")
    args = ap.parse_args()
    problems = run(args.root, args.adapter, args.expect_missing)
    if args.expect_missing:
        wanted = f"key `{args.expect_missing}` (accepted"
        if any(wanted in p for p in problems):
            print(f"ok: removing `{args.expect_missing}` from the page is reported")
            return 0
        print(f"FAIL: removing `{args.expect_missing}` from the page was not reported; problems: {problems}")
        return 1
    for p in problems:
        print(p)
    if problems:
        return 1
    print("docs/configuration.md documents every config key; its examples load")
    return 0


if __name__ == "__main__":
    sys.exit(main())
