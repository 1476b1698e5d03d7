#!/usr/bin/env python3
"""Where the time of the engine benchmark's timed transfers goes, from a
`perf record --call-graph dwarf` profile of core/benches/bulk.rs (see
BENCHMARKS.md, "Where mcsctp's time goes"):

    perf script -i prof.data | scripts/bench/perf-shares.py

Keeps the samples whose stack contains `bulk::transfer` (the timed work;
the rest is building the batch) and prints, as shares of those: the
inclusive share of the main mcsctp-core entry points and of the harness,
the self time spent in library code wherever it was called from, and the
top self-time functions.
"""
import sys, re, collections
def samples(f):
    cur=[]
    for line in f:
        line=line.rstrip('\n')
        if not line:
            if cur: yield cur
            cur=[]; continue
        if line[0] in '\t ':
            m=re.match(r'\s+[0-9a-f]+\s+(.*?)(\+0x[0-9a-f]+)?\s+\((.*)\)$', line)
            if m: cur.append(m.group(1))
        else: cur=[]
    if cur: yield cur
GROUPS=[
 ("SACK handling at the sender (RetransmissionQueue::handle_sack)", r"^mcsctp_core::tx::retransmission_queue::RetransmissionQueue::handle_sack$"),
 ("receive reassembly (ReassemblyQueue::add)", r"^mcsctp_core::rx::reassembly::ReassemblyQueue::add$"),
 ("delivery to the app (Endpoint::poll_recv)", r"^mcsctp_core::endpoint::Endpoint::poll_recv$"),
 ("endpoint refile", r"^mcsctp_core::endpoint::Endpoint::refile$"),
 ("packet parse (Packet::parse + Chunk::parse)", r"^mcsctp_core::(packet::Packet::parse|chunk::Chunk::parse)$"),
 ("output (Endpoint::poll_transmit)", r"^mcsctp_core::endpoint::Endpoint::poll_transmit$"),
 ("  of which SendQueue::produce_packed", r"^mcsctp_core::tx::send_queue::SendQueue::produce_packed$"),
 ("  of which RetransmissionQueue::add_sent", r"^mcsctp_core::tx::retransmission_queue::RetransmissionQueue::add_sent$"),
 ("application send (Endpoint::send)", r"^mcsctp_core::endpoint::Endpoint::send$"),
 ("SACK generation (DataTracker)", r"^mcsctp_core::rx::data_tracker::DataTracker::"),
 ("timers (poll_timeout/handle_timeout)", r"^mcsctp_core::(endpoint::Endpoint|association::Association)::(poll_timeout|handle_timeout)$"),
 ("harness: packet copy into Bytes (Peer::poll_transmit)", r"^bytes::bytes::Bytes::copy_from_slice$"),
 ("harness: Inbox (count + digest)", r"^bulk::interop::Inbox::"),
 ("harness: Wire::record", r"^bulk::interop::Wire::record$"),
]
SELF_LIB=[("Bytes refcounting (clone/drop)", r"^(bytes::bytes::|shallow_clone|shared_|promotable_)"),
          ("malloc/free", r"^(_int_malloc|_int_free|malloc|free|malloc_consolidate|unlink_chunk|cfree|__libc_)"),
          ("memcpy/memmove", r"memmove|memcpy"),
          ("crc32c", r"crc")]
total=0; timed=0; incl=collections.Counter(); selfc=collections.Counter(); sim_self=0; lib=collections.Counter()
for st in samples(sys.stdin):
    total+=1
    if not any(fr.startswith('bulk::transfer') for fr in st): continue
    timed+=1
    selfc[st[0]]+=1
    for name,pat in GROUPS:
        if any(re.search(pat,fr) for fr in st): incl[name]+=1
    if st[0].startswith('mcsctp_sim::') : sim_self+=1
    for name,pat in SELF_LIB:
        if re.search(pat, st[0]): lib[name]+=1; break
p=lambda v: f"{100*v/timed:5.1f} %"
print(f"timed samples: {timed} of {total} ({100*timed/total:.0f} %; the rest builds the batches and connects)")
for name,_ in GROUPS: print(f"  {p(incl[name])}  {name}")
print("  self time in library code, wherever called:")
for name,_ in SELF_LIB: print(f"  {p(lib[name])}  {name}")
print(f"  {p(sim_self)}  simulator (mcsctp_sim, self)")
print("  top self:")
for k,v in selfc.most_common(12): print(f"  {p(v)}  {re.sub(r'<.*>','<>',k)[:110]}")
