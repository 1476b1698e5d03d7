#!/usr/bin/env python3
"""The tables and targets of scripts/bench-group.sh from its results.jsonl
(one JSON object per run). Usage: bench-group-report.py results.jsonl"""
import json
import sys
from collections import defaultdict

runs = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
cells = defaultdict(lambda: defaultdict(list))
for r in runs:
    cells[(r["topo"], r["loss"], r["n"])][r["proto"]].append(r)


def one(c, proto):
    xs = c.get(proto, [])
    return xs[0] if xs else None


def best(c, proto):
    """The best complete run of a rate sweep, or None."""
    ok = [r for r in c.get(proto, []) if r.get("complete") and r.get("goodput")]
    return max(ok, key=lambda r: r["goodput"]) if ok else None


def f(x, fmt="{:.1f}"):
    return "-" if x is None else fmt.format(x)


def gp(r):
    if r is None:
        return "-"
    s = f(r.get("goodput"))
    if not r.get("complete"):
        s += " (incomplete)"
    return s


def swept(c, proto, unit, scale):
    b = best(c, proto)
    tried = ", ".join(
        f"{r['rate'] / scale:g}{'' if r.get('complete') else '✗'}" for r in c.get(proto, [])
    )
    if b is None:
        return f"none complete ({tried} {unit})"
    return f"{b['goodput']:.1f} @ {b['rate'] / scale:g} {unit} (tried {tried})"


order = sorted(cells, key=lambda k: (k[0] != "loopback", k[1], k[2]))
print("### Goodput per member (MB/s), every member complete unless marked\n")
print("| network | loss | N | mcsctp group | mcsctp fan-out | NORM best (rate) | PGM best (rate) | raw UDP mcast / ucast (delivered) |")
print("|---|---|---|---|---|---|---|---|")
for k in order:
    c = cells[k]
    um, uu = one(c, "udp-mcast"), one(c, "udp-ucast")
    raw = "-"
    if um and uu and "delivered" in um and "delivered" in uu:
        raw = f"{um['goodput']:.1f} ({um['delivered']:.0%}) / {uu['goodput']:.1f} ({uu['delivered']:.0%})"
    print(f"| {k[0]} | {k[1]:g} % | {k[2]} | {gp(one(c, 'mcsctp-group'))} | {gp(one(c, 'mcsctp-fanout'))} "
          f"| {swept(c, 'norm', 'Mbit/s', 1e6)} | {swept(c, 'pgm', 'MB/s', 1e6)} | {raw} |")

print("\n### Server CPU (s) and bytes per message\n")
print("| network | loss | N | CPU group | CPU fan-out | ratio | raw UDP CPU mcast / ucast | raw ratio | ratio ÷ raw | B/msg group | B/msg fan-out | group ÷ fan-out | wire B/msg (server veth): group / fan-out / NORM / PGM |")
print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
for k in order:
    c = cells[k]
    g, fo = one(c, "mcsctp-group"), one(c, "mcsctp-fanout")
    um, uu = one(c, "udp-mcast"), one(c, "udp-ucast")
    nb, pb = best(c, "norm"), best(c, "pgm")
    cr = g["cpu"] / fo["cpu"] if g and fo and g.get("cpu") and fo.get("cpu") else None
    rr = um["cpu"] / uu["cpu"] if um and uu and um.get("cpu") and uu.get("cpu") else None
    br = g["bytes_per_msg"] / fo["bytes_per_msg"] if g and fo and g.get("bytes_per_msg") and fo.get("bytes_per_msg") else None
    wire = " / ".join(f(r.get("wire_per_msg") if r else None, "{:.0f}") for r in (g, fo, nb, pb))
    print(f"| {k[0]} | {k[1]:g} % | {k[2]} | {f(g and g.get('cpu'), '{:.2f}')} | {f(fo and fo.get('cpu'), '{:.2f}')} "
          f"| {f(cr, '{:.3f}')} | {f(um and um.get('cpu'), '{:.3f}')} / {f(uu and uu.get('cpu'), '{:.3f}')} | {f(rr, '{:.3f}')} "
          f"| {f(cr / rr if cr and rr else None, '{:.2f}')} | {f(g and g.get('bytes_per_msg'), '{:.0f}')} "
          f"| {f(fo and fo.get('bytes_per_msg'), '{:.0f}')} | {f(br, '{:.4f}')} | {wire} |")

print("\n### Targets (issue 11 item 5)\n")


def target_goodput(topo, loss, factor):
    out = []
    for k in order:
        if k[0] != topo or k[1] != loss:
            continue
        c = cells[k]
        g = one(c, "mcsctp-group")
        bs = [b for b in (best(c, "norm"), best(c, "pgm")) if b]
        if not g or not bs:
            out.append(f"N={k[2]}: not measured")
            continue
        b = max(bs, key=lambda r: r["goodput"])
        ratio = g["goodput"] / b["goodput"] if g.get("goodput") else 0
        met = g.get("complete") and ratio >= factor
        out.append(f"N={k[2]}: {'MET' if met else 'MISSED'}: group {gp(g)} MB/s vs {b['proto'].upper()} "
                   f"{b['goodput']:.1f} MB/s = {ratio:.2f}×")
    return out


for line in target_goodput("loopback", 0.0, 2):
    print(f"- goodput ≥ 2× the better of NORM and PGM, loss-free, loopback: {line}")
for line in target_goodput("bridge", 1.0, 3):
    print(f"- goodput ≥ 3× the better of NORM and PGM, 1 % loss, bridge: {line}")
for k in order:
    if k[2] != 16:
        continue
    c = cells[k]
    g, fo = one(c, "mcsctp-group"), one(c, "mcsctp-fanout")
    if g and fo and g.get("bytes_per_msg") and fo.get("bytes_per_msg"):
        r = g["bytes_per_msg"] / fo["bytes_per_msg"]
        print(f"- server bytes per message at N=16 ≤ 1/12 of fan-out, {k[0]} {k[1]:g} %: "
              f"{'MET' if r <= 1 / 12 else 'MISSED'}: {g['bytes_per_msg']:.0f} vs {fo['bytes_per_msg']:.0f} B = {r:.4f} (1/12 = 0.0833)")
for k in order:
    c = cells[k]
    g, fo = one(c, "mcsctp-group"), one(c, "mcsctp-fanout")
    um, uu = one(c, "udp-mcast"), one(c, "udp-ucast")
    if k[2] < 4 or not (g and fo and um and uu) or not all(x.get("cpu") for x in (g, fo, um, uu)):
        continue
    cr, rr = g["cpu"] / fo["cpu"], um["cpu"] / uu["cpu"]
    print(f"- server CPU ratio multicast ÷ fan-out within 1.25× of raw UDP's, {k[0]} {k[1]:g} % N={k[2]}: "
          f"{'MET' if cr <= 1.25 * rr else 'MISSED'}: mcsctp {g['cpu']:.2f} / {fo['cpu']:.2f} s = {cr:.3f}, "
          f"raw UDP {um['cpu']:.3f} / {uu['cpu']:.3f} s = {rr:.3f}, {cr / rr:.2f}× the raw ratio")
