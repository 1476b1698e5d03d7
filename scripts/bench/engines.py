#!/usr/bin/env python3
"""Helpers of scripts/bench-engines.sh (see there).

  engines.py patch SRC DST      copy dcsctp from SRC (the registry's source)
                                to DST as `dcsctp-nolog`, its log_packet
                                gated; check that nothing else differs
  engines.py manifest ROOT GEN  write GEN/bench/{Cargo.toml,build.rs}: a
                                package that compiles ROOT/core/benches/bulk.rs
                                with GEN/crate (the patched dcsctp) as well
  engines.py report CRITERION START CSV OUT.md
                                the throughput table (criterion's medians of
                                the benchmarks written since START) and the
                                metrics table (the bench's CSV) as Markdown
"""

import difflib
import filecmp
import json
import math
import os
import shutil
import sys
import tomllib
from pathlib import Path

# ----- patch ---------------------------------------------------------------

# The edits, each (file, text that must occur exactly once, replacement).
# Cargo.toml: a package of another name (so that the published dcsctp and
# this copy can be linked into one benchmark) and a library of another
# name. src/lib.rs: the one change measured, `log_packet` returns before
# formatting the packet as hex unless a logger would take the record.
EDITS = [
    (
        "Cargo.toml",
        '[package]\nedition = "2021"\nname = "dcsctp"\n',
        '[package]\nedition = "2021"\nname = "dcsctp-nolog"\n',
    ),
    (
        "Cargo.toml",
        '[lib]\nname = "dcsctp"\n',
        '[lib]\nname = "dcsctp_nolog"\n',
    ),
    (
        "src/lib.rs",
        "    pub fn log_packet(name: &str, ts: SocketTime, sent: bool, data: &[u8]) {\n",
        "    pub fn log_packet(name: &str, ts: SocketTime, sent: bool, data: &[u8]) {\n"
        "        if !log::log_enabled!(log::Level::Info) {\n"
        "            return;\n"
        "        }\n",
    ),
]

# Exactly these lines change, nothing else in the tree.
EXPECTED = {
    "Cargo.toml": (['name = "dcsctp"', 'name = "dcsctp"'],
                   ['name = "dcsctp-nolog"', 'name = "dcsctp_nolog"']),
    "src/lib.rs": ([], ["        if !log::log_enabled!(log::Level::Info) {",
                        "            return;", "        }"]),
}


def die(msg):
    print(f"engines.py: FAIL: {msg}", file=sys.stderr)
    sys.exit(1)


def patch(src, dst):
    src, dst = Path(src), Path(dst)
    if dst.exists():
        shutil.rmtree(dst)
    shutil.copytree(src, dst)
    for rel, old, new in EDITS:
        p = dst / rel
        text = p.read_text()
        if text.count(old) != 1:
            die(f"{rel}: expected exactly one {old!r}, found {text.count(old)} "
                "(another dcsctp version?)")
        p.write_text(text.replace(old, new))
    check(src, dst)


def tree(root):
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


def check(src, dst):
    """Fails unless dst differs from src in exactly the EXPECTED lines."""
    a, b = tree(src), tree(dst)
    if a != b:
        die(f"file lists differ: {sorted(set(a) ^ set(b))}")
    changed = [f for f in a if not filecmp.cmp(src / f, dst / f, shallow=False)]
    if sorted(changed) != sorted(EXPECTED):
        die(f"changed files {changed}, expected {sorted(EXPECTED)}")
    for f in changed:
        old = (src / f).read_text().splitlines()
        new = (dst / f).read_text().splitlines()
        removed, added = [], []
        for line in difflib.unified_diff(old, new, lineterm="", n=0):
            if line.startswith(("---", "+++", "@@")):
                continue
            (removed if line.startswith("-") else added).append(line[1:])
        if (removed, added) != EXPECTED[f]:
            die(f"{f}: unexpected change: -{removed} +{added}")
    print(f"engines.py: {dst} differs from {src} only in "
          f"{', '.join(changed)}: the package and library names and the "
          "log_packet gate")


# ----- manifest -------------------------------------------------------------


def resolve(name, spec, ws_deps, root):
    """A dependency entry of core/Cargo.toml, workspace inheritance and
    relative paths resolved."""
    if isinstance(spec, str):
        spec = {"version": spec}
    spec = dict(spec)
    if spec.pop("workspace", False):
        base = ws_deps[name]
        base = {"version": base} if isinstance(base, str) else dict(base)
        if "features" in spec:
            base["features"] = sorted(set(base.get("features", [])) | set(spec.pop("features")))
        base.update(spec)
        spec = base
        if "path" in spec:
            spec["path"] = str((root / spec["path"]).resolve())
    elif "path" in spec:
        spec["path"] = str((root / "core" / spec["path"]).resolve())
    spec.pop("optional", None)
    return spec


def toml_value(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return str(v)
    if isinstance(v, str):
        return json.dumps(v)
    if isinstance(v, list):
        return "[" + ", ".join(toml_value(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{ " + ", ".join(f"{k} = {toml_value(x)}" for k, x in v.items()) + " }"
    raise TypeError(v)


def manifest(root, gen):
    root, gen = Path(root).resolve(), Path(gen).resolve()
    ws = tomllib.loads((root / "Cargo.toml").read_text())
    core = tomllib.loads((root / "core" / "Cargo.toml").read_text())
    ws_deps = ws["workspace"]["dependencies"]
    deps = {"mcsctp-core": {"path": str(root / "core")}}
    for table in ("dependencies", "dev-dependencies"):
        for name, spec in core.get(table, {}).items():
            deps[name] = resolve(name, spec, ws_deps, root)
    deps["dcsctp-nolog"] = {"path": str(gen / "crate")}
    out = [
        "# Generated by scripts/bench-engines.sh; do not edit. Compiles",
        "# core/benches/bulk.rs with the patched dcsctp (dcsctp-nolog) as well.",
        "[package]",
        'name = "mcsctp-bench-engines"',
        'version = "0.0.0"',
        f'edition = {toml_value(ws["workspace"]["package"]["edition"])}',
        "publish = false",
        'build = "build.rs"',
        "",
        "[workspace]",
        "",
        "[dev-dependencies]",
    ]
    out += [f"{name} = {toml_value(spec)}" for name, spec in deps.items()]
    out += [
        "",
        "[[bench]]",
        'name = "bulk"',
        f'path = {toml_value(str(root / "core" / "benches" / "bulk.rs"))}',
        "harness = false",
    ]
    # The same profiles as the workspace, so that both builds of the bench
    # are compiled alike.
    for prof, settings in ws.get("profile", {}).items():
        out += ["", f"[profile.{prof}]"]
        out += [f"{k} = {toml_value(v)}" for k, v in settings.items()]
    bench = gen / "bench"
    bench.mkdir(parents=True, exist_ok=True)
    (bench / "Cargo.toml").write_text("\n".join(out) + "\n")
    (bench / "build.rs").write_text(
        "// Generated by scripts/bench-engines.sh.\n"
        "fn main() {\n"
        '    println!("cargo::rustc-check-cfg=cfg(dcsctp_nolog)");\n'
        '    println!("cargo::rustc-cfg=dcsctp_nolog");\n'
        "}\n"
    )
    # Start from the workspace's lock file, so that every shared dependency
    # has the same version in both builds.
    shutil.copyfile(root / "Cargo.lock", bench / "Cargo.lock")
    print(f"engines.py: wrote {bench / 'Cargo.toml'}")


# ----- report ---------------------------------------------------------------

ENGINES = ["mcsctp", "sctp-proto", "dcsctp", "dcsctp-nolog"]
SIZES = {"100B": 100, "1200B": 1200, "64KiB": 65536}


def medians(crit, start):
    """{(group, function): (median ns, bytes per iteration)} of the
    benchmarks criterion wrote after `start` (seconds since the epoch)."""
    out = {}
    for bj in Path(crit).glob("**/new/benchmark.json"):
        est = bj.parent / "estimates.json"
        if not est.exists() or est.stat().st_mtime < start:
            continue
        b = json.loads(bj.read_text())
        e = json.loads(est.read_text())
        tp = (b.get("throughput") or {}).get("Bytes")
        out[(b["group_id"], b["function_id"])] = (e["median"]["point_estimate"], tp)
    return out


def mbs(m):
    ns, nbytes = m
    return nbytes / (ns / 1e9) / 1e6


def fmt_mbs(m):
    if m is None:
        return "–"
    v = mbs(m)
    return f"{v:,.1f}".replace(",", " ") + f" ({m[0] / 1e6:,.1f})".replace(",", " ")


def read_csv(csv_path):
    if not os.path.exists(csv_path):
        return []
    import csv
    with open(csv_path) as f:
        return list(csv.DictReader(f))


def report(crit, start, csv_path, out_md):
    meds = medians(crit, float(start))
    rows = read_csv(csv_path)
    label = {v: k for k, v in SIZES.items()}
    stalls = {}
    for r in rows:
        key = (r["link"], label.get(int(r["size"]), r["size"]), r["loss"], r["engine"])
        n, k = int(r["timed_transfers"]), int(r["timed_stalls"])
        note = f" †{k}/{n} stalled" if k else ""
        if r["metrics_stalled"] == "true":
            note += " †metrics pass stalled"
        stalls[key] = note
    lines = []
    lines.append("| link | size | loss | mcsctp MB/s (ms/iter) | sctp-proto | dcsctp | "
                 "dcsctp-nolog | best other | **mcsctp / best other** | ≥ 2× |")
    lines.append("|---|---|---|---:|---:|---:|---:|---|---:|---|")
    misses = []
    groups = sorted({g for (g, _) in meds if g.count("/") == 3},
                    key=lambda g: (["unlimited", "1G", "10G"].index(g.split("/")[1])
                                   if g.split("/")[1] in ("unlimited", "1G", "10G") else 9,
                                   SIZES.get(g.split("/")[2], 0), g.split("/")[3]))
    for g in groups:
        _, link, size, loss = g.split("/")
        row = {e: meds.get((g, e)) for e in ENGINES}
        others = [(mbs(row[e]), e) for e in ENGINES[1:] if row[e] is not None]
        if row["mcsctp"] is None or not others:
            ratio, best, ok = "–", "–", "–"
        else:
            bv, be = max(others)
            r = mbs(row["mcsctp"]) / bv
            # Rounded down: a miss is never shown as 2.00×.
            ratio, best = f"**{math.floor(r * 100) / 100:.2f}×**", f"{be} {bv:,.1f}".replace(",", " ")
            ok = "yes" if r >= 2.0 else "**no**"
            if r < 2.0:
                misses.append(f"{link} {size} {loss.removeprefix('loss')}: "
                              f"{math.floor(r * 100) / 100:.2f}× ({be})")
        l = loss.removeprefix("loss")
        lines.append(f"| {link} | {size} | {l} | "
                     + " | ".join(fmt_mbs(row[e]) + stalls.get((link, size, l, e), "")
                                  for e in ENGINES)
                     + f" | {best} | {ratio} | {ok} |")
    memcpy = {f: m for (g, f), m in meds.items() if g == "bulk/memcpy"}
    if memcpy:
        lines.append("")
        lines.append("memcpy of the same messages, MB/s: " + ", ".join(
            f"{f} {mbs(m):,.0f}".replace(",", " ") for f, m in sorted(
                memcpy.items(), key=lambda kv: SIZES.get(kv[0], 0))))
    lines.append("")
    lines.append("Rows below 2×: " + ("; ".join(misses) if misses else "none"))
    lines.append("")
    if rows:
        lines.append("| link | size | loss | engine | virtual s/transfer | data pkts/msg | B/data pkt | "
                     "B→A pkts/msg | rtx chunks | T3 | T3/10k msgs | rx drops (engine) | "
                     "rx discards (wire) | link lost | queue drops | queue peak kB | "
                     "stalled transfers |")
        lines.append("|---|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|")
        for r in rows:
            n = int(r["messages"])
            t3 = r["t3"]
            stalled = f"{r['timed_stalls']} of {r['timed_transfers']}"
            if r["metrics_stalled"] == "true":
                stalled += ", metrics pass stalled"
            lines.append(
                f"| {r['link']} | {label.get(int(r['size']), r['size'])} | {r['loss']} | "
                f"{r['engine']} | "
                f"{float(r['virtual_s_per_transfer']):.4f} | {int(r['data_packets']) / n:.3f} | "
                f"{float(r['bytes_per_data_packet']):.0f} | {int(r['b_to_a_packets']) / n:.3f} | "
                f"{r['retransmitted_chunks']} | {t3 or 'n/a'} | "
                f"{(f'{int(t3) * 10000 / n:.2f}' if t3 else 'n/a')} | "
                f"{r['rx_drops_engine'] or 'n/a'} | {r['rx_discards_wire']} | "
                f"{r['link_lost']} | {r['queue_dropped']} | "
                f"{int(r['queue_peak_bytes']) / 1000:.0f} | {stalled} |")
    text = "\n".join(lines) + "\n"
    Path(out_md).write_text(text)
    print(text)


if __name__ == "__main__":
    cmd, *args = sys.argv[1:] or ["help"]
    if cmd == "patch" and len(args) == 2:
        patch(*args)
    elif cmd == "check" and len(args) == 2:
        check(Path(args[0]), Path(args[1]))
    elif cmd == "manifest" and len(args) == 2:
        manifest(*args)
    elif cmd == "report" and len(args) == 4:
        report(*args)
    else:
        print(__doc__)
        sys.exit(2)
