//! Building the association's outgoing packets: control chunks first, then
//! the SACK, FORWARD-TSN, retransmissions and new data, bundled up to the
//! packet size (RFC 9260 §6.10).

use std::time::Instant;

use tracing::{trace, warn};

use super::{Association, MemoryGauge, State};
use crate::chunk::{
    Abort, CookieEcho, ForwardTsn, ForwardTsnStream, Heartbeat, IForwardTsn, IForwardTsnStream,
    Shutdown, ShutdownAck, ShutdownComplete,
};
use crate::event::Transmit;
use crate::extension::{Context, Extension, Room};
use crate::packet::{BuildError, COMMON_HEADER_LEN, CommonHeader, PacketBuilder};
use crate::param::HeartbeatInfo;
use crate::serial::VerificationTag;
use crate::user_data::UserDataChunk;

/// Fragments smaller than this are not started to fill the end of a packet
/// that already carries something: better to send it and start a new one.
const MIN_FILL: usize = 64;

impl Association {
    /// Writes the next packet to send at the end of `buf`, if any.
    pub(crate) fn poll_transmit(
        &mut self,
        now: Instant,
        buf: &mut Vec<u8>,
        mem: MemoryGauge,
        ext: &mut dyn Extension,
    ) -> Option<Transmit> {
        let len = self.build_packet(now, buf, mem, ext)?;
        self.stats.packets_sent += 1;
        Some(Transmit {
            destination: self.remote,
            len,
            segment_size: None,
        })
    }

    fn build_packet(
        &mut self,
        now: Instant,
        buf: &mut Vec<u8>,
        mem: MemoryGauge,
        ext: &mut dyn Extension,
    ) -> Option<usize> {
        if let Some(abort) = self.abort.take() {
            return Some(self.build_abort(buf, &abort));
        }
        if self.shutdown_complete {
            self.shutdown_complete = false;
            let mut b = PacketBuilder::new(buf, self.header(), self.max_packet_size);
            b.add(&ShutdownComplete::default()).ok()?;
            return Some(b.finish());
        }
        match &mut self.state {
            State::Closed => None,
            State::CookieWait { init, send, .. } => {
                if !*send {
                    return None;
                }
                *send = false;
                // RFC 9260 §8.5.1 A: "The sender MUST set the Verification Tag
                // of the packet to 0."
                let header = CommonHeader {
                    src_port: self.local_port,
                    dst_port: self.peer_port,
                    verification_tag: VerificationTag(0),
                };
                let mut b = PacketBuilder::new(buf, header, self.max_packet_size);
                if let Err(e) = b.add(&*init) {
                    warn!(assoc = %self.handle, error = %e, "INIT does not fit a packet");
                    return None;
                }
                Some(b.finish())
            }
            State::CookieEchoed {
                cookie,
                error,
                send,
                sent_at,
                ..
            } => {
                // RFC 9260 §8.3: "A receiver of a HEARTBEAT MUST respond to a
                // HEARTBEAT with a HEARTBEAT ACK after entering the
                // COOKIE-ECHOED state (INIT sender)": queued control chunks
                // go out here too, after the COOKIE ECHO if one is due.
                if !*send && self.control.is_empty() {
                    return None;
                }
                let header = CommonHeader {
                    src_port: self.local_port,
                    dst_port: self.peer_port,
                    verification_tag: self.peer_tag,
                };
                let mut b = PacketBuilder::new(buf, header, self.max_packet_size);
                // The extension's chunks ride with every COOKIE ECHO, and
                // it may hold the COOKIE ECHO back (T1-cookie bounds that).
                let mut bundle = Vec::new();
                let echo_now =
                    *send && ext.cookie_echo(&mut ext_cx!(self, now, false, true), &mut bundle);
                if echo_now {
                    *send = false;
                    sent_at.get_or_insert(now);
                    let echo = CookieEcho {
                        cookie: cookie.clone(),
                    };
                    if let Err(e) = b.add(&echo) {
                        warn!(assoc = %self.handle, error = %e, "COOKIE ECHO does not fit a packet");
                        return None;
                    }
                    for c in &bundle {
                        if let Err(e) = b.add_raw(c, self.ext_data.contains(c.typ)) {
                            warn!(assoc = %self.handle, chunk = %c.typ, error = %e, "extension chunk does not fit the COOKIE ECHO's packet");
                        }
                    }
                    if let Some(err) = error.as_ref() {
                        // Best effort: the report is optional.
                        let _ = b.add(err);
                    }
                }
                while let Some(c) = self.control.front() {
                    if b.add_chunk(c).is_err() {
                        break;
                    }
                    self.control.pop_front();
                }
                (!b.is_empty()).then(|| b.finish())
            }
            _ => self.build_established(now, buf, mem, ext),
        }
    }

    fn build_abort(&self, buf: &mut Vec<u8>, abort: &Abort) -> usize {
        // RFC 9260 §8.5.1 B: the peer's tag when known; otherwise our own,
        // reflected, with the T bit.
        let (tag, abort) = if self.peer_tag.0 == 0 || abort.reflected_tag {
            (
                self.my_tag,
                Abort {
                    reflected_tag: true,
                    causes: abort.causes.clone(),
                },
            )
        } else {
            (self.peer_tag, abort.clone())
        };
        let header = CommonHeader {
            src_port: self.local_port,
            dst_port: self.peer_port,
            verification_tag: tag,
        };
        let mut b = PacketBuilder::new(buf, header, self.max_packet_size);
        if b.add(&abort).is_err() {
            // A cause too large for the path: the ABORT itself matters more.
            let _ = b.add(&Abort {
                reflected_tag: abort.reflected_tag,
                causes: Default::default(),
            });
        }
        b.finish()
    }

    fn build_established(
        &mut self,
        now: Instant,
        buf: &mut Vec<u8>,
        mem: MemoryGauge,
        ext: &mut dyn Extension,
    ) -> Option<usize> {
        let header = self.header();
        let max = self.max_packet_size;
        let mut b = PacketBuilder::new(buf, header, max);

        // Shutdown chunks of the current state.
        match &mut self.state {
            State::ShutdownSent { send, .. } if *send => {
                *send = false;
                let cum = self
                    .tracker
                    .as_ref()
                    .map_or(self.my_initial_tsn, |t| t.cumulative_tsn_ack());
                let _ = b.add(&Shutdown {
                    cumulative_tsn_ack: cum,
                    flags: 0,
                });
            }
            State::ShutdownAckSent { send, .. } if *send => {
                *send = false;
                let _ = b.add(&ShutdownAck);
            }
            _ => {}
        }

        // Queued control chunks, in order.
        while let Some(c) = self.control.front() {
            match b.add_chunk(c) {
                Ok(()) => {
                    self.control.pop_front();
                }
                Err(BuildError::TooBig { .. }) if !b.is_empty() => break,
                Err(e) => {
                    warn!(assoc = %self.handle, chunk = %c, error = %e, "dropping unsendable control chunk");
                    self.control.pop_front();
                }
            }
        }

        // Heartbeat (RFC 9260 §8.3).
        if self.heartbeat.send {
            self.heartbeat.nonce = self.heartbeat.nonce.wrapping_add(1);
            let nonce = self.heartbeat.nonce;
            let hb = Heartbeat {
                info: HeartbeatInfo(nonce.to_be_bytes().to_vec().into()),
            };
            if b.add(&hb).is_ok() {
                self.heartbeat.send = false;
                self.heartbeat.outstanding = Some((nonce, now, now + self.rto.rto()));
            }
        }

        let sending_data = self.state.sends_data()
            && (self.rtq.as_ref().is_some_and(|q| q.has_retransmissions())
                || (!self.send.is_empty()
                    && !self.zero_window_probe_pending(now)
                    && self.rtq.as_ref().is_some_and(|q| q.available_window() > 0)));

        // SACK: when due, or piggybacked on outgoing data (RFC 9260 §6.2),
        // or on an ERROR reporting on the chunks it acknowledges (§6.5).
        let window = u32::try_from(self.advertised_window(mem)).unwrap_or(u32::MAX);
        let reporting = !self.reports.is_empty();
        if let Some(t) = self.tracker.as_mut()
            && (t.should_send_sack_now()
                || ((sending_data || reporting) && t.sack_deadline().is_some()))
        {
            let sack = t.make_sack(window);
            if b.add(&sack).is_ok() {
                self.stats.sacks_sent += 1;
                self.advertised_rwnd = window as usize;
                self.accepted_since_sack = 0;
            } else {
                t.force_sack();
            }
        }

        // RFC 9260 §6.5: "immediately send an ERROR chunk [...] as long as
        // the ERROR chunk follows the SACK chunk."
        while let Some(e) = self.reports.front() {
            match b.add(e) {
                Ok(()) => {
                    self.reports.pop_front();
                }
                Err(BuildError::TooBig { .. }) if !b.is_empty() => break,
                Err(err) => {
                    warn!(assoc = %self.handle, error = %err, "dropping unsendable ERROR");
                    self.reports.pop_front();
                }
            }
        }

        // FORWARD-TSN / I-FORWARD-TSN (RFC 3758 §3.5 C5, RFC 8260 §2.3).
        if self.forward_tsn_due {
            self.forward_tsn_due = false;
            let interleaving = self.negotiated.is_some_and(|n| n.caps.interleaving);
            if let Some(q) = self.rtq.as_mut()
                && let Some(info) = q.forward_tsn(now, interleaving)
            {
                let added = if interleaving {
                    let entries: Vec<IForwardTsnStream> = info
                        .mids
                        .iter()
                        .map(|&(stream, unordered, mid)| IForwardTsnStream {
                            stream,
                            unordered,
                            mid,
                        })
                        .collect();
                    b.add(&IForwardTsn::new(info.new_cumulative_tsn, &entries))
                } else {
                    let streams: Vec<ForwardTsnStream> = info
                        .ssns
                        .iter()
                        .map(|&(stream, ssn)| ForwardTsnStream { stream, ssn })
                        .collect();
                    b.add(&ForwardTsn::new(info.new_cumulative_tsn, &streams))
                };
                if added.is_err() {
                    self.forward_tsn_due = true;
                }
            }
        }

        // The extension's chunks: control after core's, data within the
        // association's windows, before core's new data.
        self.add_extension_chunks(now, &mut b, ext);

        if self.state.sends_data() {
            self.add_data(now, &mut b, ext);
        }

        if b.is_empty() {
            return None;
        }
        let has_data = b.has_data();
        let len = b.finish();
        if has_data {
            self.path_active(now);
        }
        trace!(assoc = %self.handle, len, "packet built");
        Some(len)
    }

    /// Adds the extension's queued chunks, then what
    /// [`Extension::poll_chunks`] offers, as far as the packet and (for its
    /// data chunks) the association's windows allow; what does not fit
    /// waits for the next packet, in order.
    fn add_extension_chunks(
        &mut self,
        now: Instant,
        b: &mut PacketBuilder<'_>,
        ext: &mut dyn Extension,
    ) {
        self.apply_extension_acks(now);
        let mut window = match self.rtq.as_ref() {
            Some(q) if self.state.sends_data() && !self.zero_window_probe_pending(now) => {
                q.available_window().saturating_sub(self.ext.flight)
            }
            _ => 0,
        };
        if !self.ext.outgoing.is_empty() {
            self.add_ext_queued(b, &mut window);
        }
        if !self.ext.outgoing.is_empty() {
            // Still waiting: nothing new goes ahead of it.
            return;
        }
        let mut offered = Vec::new();
        ext.poll_chunks(
            &mut ext_cx!(self, now, false),
            Room {
                packet: b.remaining(),
                window,
            },
            &mut offered,
        );
        if offered.is_empty() {
            return;
        }
        self.ext.outgoing.extend(offered);
        self.add_ext_queued(b, &mut window);
    }

    /// Gives the congestion controller what the extension reported
    /// acknowledged since the last packet ([`Context::data_acked`]).
    fn apply_extension_acks(&mut self, now: Instant) {
        let acked = std::mem::take(&mut self.ext.acked);
        let before = std::mem::take(&mut self.ext.flight_before_ack);
        if acked > 0
            && let Some(q) = self.rtq.as_mut()
        {
            q.on_extension_ack(now, acked, before, self.ext.flight);
        }
    }

    fn add_ext_queued(&mut self, b: &mut PacketBuilder<'_>, window: &mut usize) {
        while let Some(c) = self.ext.outgoing.front() {
            let is_data = self.ext_data.contains(c.typ);
            if is_data && c.len() > *window {
                break;
            }
            match b.add_raw(c, is_data) {
                Ok(()) => {}
                Err(BuildError::TooBig { .. } | BuildError::Bundling(_)) if !b.is_empty() => {
                    break;
                }
                Err(e) => {
                    warn!(assoc = %self.handle, chunk = %c.typ, error = %e, "dropping unsendable extension chunk");
                    self.ext.outgoing.pop_front();
                    continue;
                }
            }
            if is_data {
                *window -= c.len();
                self.ext.flight += c.len();
            }
            self.ext.outgoing.pop_front();
        }
    }

    /// Retransmissions first, then new data as the windows allow.
    fn add_data(&mut self, now: Instant, b: &mut PacketBuilder<'_>, ext: &mut dyn Extension) {
        self.apply_extension_acks(now);
        let interleaving = self.negotiated.is_some_and(|n| n.caps.interleaving);
        let chunk_header = if interleaving { 20 } else { 16 };
        // RFC 9260 §6.1 A: a zero window probe waits for its time.
        let probe_held = self.zero_window_probe_pending(now);
        let Some(q) = self.rtq.as_mut() else {
            return;
        };
        // Whatever new data goes out now is a zero window probe.
        let probing = q.peer_rwnd() == 0 && q.outstanding_bytes() == 0;
        let mut sent_any = false;
        // Retransmissions (RFC 9260 §6.3.3 E3, §7.2.4).
        if q.has_retransmissions() {
            let room = b.remaining();
            let mut batch = q.chunks_to_retransmit(now, room).into_iter();
            while let Some((tsn, c)) = batch.next() {
                let mark = self
                    .ext_marks
                    .iter()
                    .find(|m| m.0 == tsn)
                    .map_or(0, |m| m.1);
                if mark != 0 && c.flags.is_begin() {
                    // The extension is asked once per transmission that
                    // goes out: only when the prefix and the fragment both
                    // fit (it may count retransmissions by it).
                    let need = self.registration.prefix_len
                        + chunk_header
                        + c.payload.len().next_multiple_of(4);
                    if b.remaining() < need {
                        q.retransmit_later(tsn);
                        // The rest of the batch did not go out either.
                        for (t, _) in batch.by_ref() {
                            q.retransmit_later(t);
                        }
                        break;
                    }
                    let prefix =
                        ext.prefix_chunk(&mut ext_cx!(self, now, false; building), mark, tsn, &c);
                    if !add_prefix(b, prefix, self.ext_data) {
                        q.retransmit_later(tsn);
                        // The rest of the batch did not go out either.
                        for (t, _) in batch.by_ref() {
                            q.retransmit_later(t);
                        }
                        break;
                    }
                }
                if encode(b, interleaving, tsn, &c).is_err() {
                    // Cannot happen when the queue honoured the room; if it
                    // did not, the chunk stays marked for the next packet.
                    q.retransmit_later(tsn);
                    for (t, _) in batch.by_ref() {
                        q.retransmit_later(t);
                    }
                    break;
                }
                self.stats.data_chunks_retransmitted += 1;
                sent_any = true;
            }
        }
        // New data.
        let full_fragment = self.max_packet_size - COMMON_HEADER_LEN - chunk_header;
        // The windows are asked once per packet: RFC 9260 §6.1 B lets a
        // packet that starts with the flight size below cwnd exceed it by
        // up to PMDCS - 1 bytes, which a per-chunk check would cut short.
        // The extension's data in flight shares the congestion window.
        let mut window = if probe_held {
            0
        } else {
            q.available_window().saturating_sub(self.ext.flight)
        };
        loop {
            if window == 0 || self.send.is_empty() {
                break;
            }
            let room = b.remaining();
            if room < chunk_header + MIN_FILL && !b.is_empty() || room <= chunk_header {
                break;
            }
            // Sender-side silly window avoidance (RFC 9260 §6.1 leaves the
            // packet size to the sender; RFC 1122 §4.2.3.4 is the model):
            // while data is in flight a SACK is coming that opens the
            // window further, so a packet the window would cut short waits
            // for it instead of going out part-empty. With nothing in
            // flight, whatever the window allows goes (it may be a zero
            // window probe).
            let room_payload = (room - chunk_header).min(full_fragment);
            if window < room_payload && q.outstanding_bytes() > 0 {
                // (What the rest of the packet would carry is at most
                // `room_payload`, so only a smaller window can cut it.)
                let (head, then) = self
                    .send
                    .next_message_remaining(interleaving)
                    .unwrap_or((full_fragment, None));
                let want = fill_capacity(room, chunk_header, head, then, full_fragment)
                    .min(self.send.buffered_bytes());
                if window < want {
                    break;
                }
            }
            // RFC 9260 §6.1 A/B: the windows bound the new data too.
            let max_payload = room_payload.min(window);
            // A message that would travel whole in a packet of its own is
            // not split to fill the end of this one: the split costs a
            // chunk header and a reassembly, and makes one lost packet
            // hurt two messages. Larger messages are cut to fill packets.
            let whole = if b.is_empty() { 0 } else { full_fragment };
            let Some(produced) = self
                .send
                .produce_packed(now, max_payload, whole, interleaving)
            else {
                break;
            };
            window = window.saturating_sub(produced.chunk.payload.len());
            // Encoded before the queue takes it (no clone of the chunk).
            let tsn = q.next_tsn();
            let mark = produced.extension_mark;
            let prefixed = if mark != 0 && produced.chunk.flags.is_begin() {
                self.ext_marks.push_back((tsn, mark));
                let prefix = ext.prefix_chunk(
                    &mut ext_cx!(self, now, false; building),
                    mark,
                    tsn,
                    &produced.chunk,
                );
                add_prefix(b, prefix, self.ext_data)
            } else {
                true
            };
            let encoded = if prefixed {
                encode(b, interleaving, tsn, &produced.chunk)
            } else {
                // Without its prefix the fragment may not go: the next
                // packet carries both, as a retransmission would.
                Err(BuildError::TooBig {
                    need: 0,
                    remaining: 0,
                })
            };
            let tsn = q.add_sent(now, produced);
            if encoded.is_err() {
                if prefixed {
                    // produce() honoured max_payload, so this is a bug.
                    warn!(assoc = %self.handle, %tsn, "fragment did not fit its packet");
                }
                q.retransmit_later(tsn);
                break;
            }
            self.stats.data_chunks_sent += 1;
            sent_any = true;
            if probing {
                // One probe; T3-rtx covers it from here, and the next one
                // (should the window stay closed) waits twice as long.
                self.zero_window_probe_at = None;
                self.zero_window_probes = self.zero_window_probes.saturating_add(1);
                break;
            }
        }
        if sent_any {
            // RFC 9260 §6.3.2 R1: start T3-rtx if it is not running.
            let rto = self.rto.rto();
            q.start_t3_if_idle(now, rto);
        }
    }
}

/// User-data bytes that `room` bytes of a packet carry, as `add_data`
/// fills packets: `head` bytes of the message served next (all of it if
/// they fit), then messages of `then` bytes each (the length of the one
/// queued behind it; `head` when unknown), as many as fit whole, and a
/// fragment of one more if at least [`MIN_FILL`] bytes of it fit and it is
/// too large for a packet of its own (`full_fragment`).
fn fill_capacity(
    room: usize,
    chunk_header: usize,
    head: usize,
    then: Option<usize>,
    full_fragment: usize,
) -> usize {
    let Some(room) = room.checked_sub(chunk_header) else {
        return 0;
    };
    if head >= room {
        return room;
    }
    let room = room - head.next_multiple_of(4);
    let next = then.unwrap_or(head).max(1);
    let per_chunk = chunk_header + next.next_multiple_of(4);
    let whole = room / per_chunk;
    let left = room - whole * per_chunk;
    let tail = if left >= chunk_header + MIN_FILL && next > full_fragment {
        left - chunk_header
    } else {
        0
    };
    head + whole * next + tail
}

/// Adds an extension's prefix chunk (which must be one of its data chunk
/// types); whether the fragment it precedes may follow.
fn add_prefix(
    b: &mut PacketBuilder<'_>,
    prefix: Option<crate::chunk::RawChunk>,
    data_types: crate::chunk::ChunkTypeSet,
) -> bool {
    let Some(p) = prefix else {
        return true;
    };
    if !data_types.contains(p.typ) {
        warn!(chunk = %p.typ, "an extension's prefix chunk must be one of its data chunk types; not sent");
        return true;
    }
    b.add_raw(&p, true).is_ok()
}

fn encode(
    b: &mut PacketBuilder<'_>,
    interleaving: bool,
    tsn: crate::serial::Tsn,
    c: &UserDataChunk,
) -> Result<(), BuildError> {
    if interleaving {
        b.add(&c.to_idata(tsn))
    } else {
        b.add(&c.to_data(tsn))
    }
}
