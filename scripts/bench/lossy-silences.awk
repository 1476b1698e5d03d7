# Silences in a sender's DATA stream and what ended them, for
# scripts/bench-lossy.sh's CAPTURE mode.
#
#   awk -F'\t' -v min=0.05 -f lossy-silences.awk DROPS DATA
#
# DROPS: the packets nftables dropped (tshark on nflog), DATA: every DATA
# packet the sender put on the link (tshark on the receiver's veth, which
# sees packets before nftables does). Both: one line per packet, tab
# separated: epoch time, the packet's TSNs (comma separated), UDP length.
#
# Prints one summary line, then the silences longer than `min` seconds,
# longest first: length (ms), start (s into the capture), and the packet
# that ended it: its most often sent TSN, which transmission of that TSN it
# was, and how many of the earlier ones nftables dropped. "#3, 2 of the 2
# dropped" is a fast retransmission lost again and repaired only by the
# retransmission timer; "#2, 0 of the 1 dropped" a chunk the link
# delivered but the receiver did not keep (no room, or a full socket
# buffer), or a spurious timeout.

FNR == NR {
	# (nflog delivers its packets in batches, up to a second late: their
	# times say nothing; only which TSNs were dropped how often counts)
	n = split($2, tsn, ",")
	for (i = 1; i <= n; i++) ndrop[tsn[i]]++
	drops++
	next
}

{
	t = $1 + 0
	if (pkts == 0) t0 = t
	n = split($2, tsn, ",")
	# the packet's most often sent TSN, counting this transmission
	best = ""
	bestc = 0
	for (i = 1; i <= n; i++) {
		c = ++sent[tsn[i]]
		if (c > bestc) {
			bestc = c
			best = tsn[i]
		}
	}
	if (pkts > 0 && t - prev > min) {
		nsil++
		sil_len[nsil] = t - prev
		sil_at[nsil] = prev - t0
		sil_tsn[nsil] = best
		sil_tx[nsil] = bestc
	}
	if ($3 > maxlen) maxlen = $3
	prev = t
	pkts++
}

END {
	for (x in sent) {
		tot++
		if (sent[x] == 2) twice++
		if (sent[x] >= 3) thrice++
	}
	for (i = 1; i <= nsil; i++) {
		x = sil_tsn[i]
		k = sil_tx[i]
		# drops of x before transmission #k: exact when #k was its last
		# transmission (it got through), else at most this many
		earlier = ndrop[x] < k - 1 ? ndrop[x] : k - 1
		exact = sent[x] == k ? "" : "at most "
		if (k == 1) kind = "new data"
		else if (earlier < k - 1) kind = "not lost on the link: dropped at the receiver, or spurious"
		else if (k >= 3) kind = "lost retransmission"
		else kind = "lost on the link"
		kinds[kind]++
		kindsum[kind] += sil_len[i]
		silsum += sil_len[i]
		line[i] = sprintf("%d ms at %.2f s, ended by transmission #%d of TSN %s (%s%d of the %d before it dropped by nft: %s)",
			sil_len[i] * 1000, sil_at[i], k, x, exact, earlier, k - 1, kind)
	}
	printf "%d DATA packets (largest SCTP packet %d B), %d TSNs, %d sent twice, %d sent 3+ times; nft dropped %d packets; %d silences > %d ms, %.2f s in all",
		pkts, maxlen - 8, tot, twice, thrice, drops, nsil, min * 1000, silsum
	for (k in kinds) printf "; %s: %d (%.2f s)", k, kinds[k], kindsum[k]
	printf "\n"
	# longest first (a selection sort: a few hundred at most)
	for (i = 1; i <= nsil; i++) {
		m = 0
		for (j = 1; j <= nsil; j++)
			if (!(j in done) && (m == 0 || sil_len[j] > sil_len[m])) m = j
		done[m] = 1
		print line[m]
	}
}
