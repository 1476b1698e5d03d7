-- mcsctp.lua: Wireshark/tshark dissector for the SCTP reliable IP-multicast
-- extension of draft-mcsctp-tsvwg-sctp-multicast-01
-- (draft/draft-mcsctp-tsvwg-sctp-multicast.md in this repository).
--
-- Load it with
--     tshark -X lua_script:dissector/mcsctp.lua -r capture.pcap -V
-- or copy it into Wireshark's personal Lua plugin folder (Help > About >
-- Folders > Personal Lua Plugins). See README.md, "Wireshark dissector".
--
-- How it hooks in: Wireshark's SCTP dissector (4.0) has no chunk-type or
-- parameter-type dissector table, so it shows the extension's chunks as
-- "RESERVED" (unknown) chunks and its parameters as unknown parameters,
-- and moves on. This script registers a postdissector that finds every
-- SCTP packet the SCTP dissector decoded in a frame (through the `sctp`
-- protocol field), walks its chunks itself and adds a "SCTP Multicast
-- Extension" tree with every chunk and parameter of the draft decoded
-- field by field (filter names mcsctp.*). It also replaces the chunks'
-- "RESERVED" names in the Info column by their names.
--
-- SCTP over UDP (RFC 6951) on port 9899 is decoded by Wireshark's SCTP
-- dissector already; group packets go to the Group UDP Port (draft
-- §"Group Packet Format", default Mcast.Group.Port 9907), which this
-- script registers for SCTP too (preference mcsctp.group_port).
--
-- Every read is bounds-checked first: a truncated or malformed chunk gets
-- an expert item, never a Lua error.

local mcsctp = Proto("mcsctp", "SCTP Multicast Extension")

----------------------------------------------------------------------
-- Type codes (draft §"Choice of Type Codes" and §"IANA Considerations")
----------------------------------------------------------------------

local MDATA, BARRIER, MSYNC, MSACK, MREACH = 0x41, 0x42, 0x83, 0xC3, 0xC4
local AUTH, INIT, INIT_ACK = 0x0F, 0x01, 0x02
local P_MCAP, P_MGROUP = 0xC009, 0xC00A
local P_SUPPORTED_EXT, P_UNRECOGNIZED = 0x8008, 0x0008
local MSYNC_START, MSYNC_FORWARD, MSYNC_KEY, MSYNC_FEEDBACK, MSYNC_END = 1, 2, 3, 4, 5

local chunk_names = {
    [MDATA] = "MDATA",
    [BARRIER] = "BARRIER",
    [MSYNC] = "MSYNC",
    [MSACK] = "MSACK",
    [MREACH] = "MREACH",
}

local chunk_types = {
    [MDATA] = "Multicast Payload Data (MDATA)",
    [BARRIER] = "Multicast Barrier (BARRIER)",
    [MSYNC] = "Multicast Synchronization (MSYNC)",
    [MSACK] = "Multicast Selective Acknowledgement (MSACK)",
    [MREACH] = "Multicast Reachability Report (MREACH)",
}

local param_types = {
    [P_MCAP] = "Multicast-Capable",
    [P_MGROUP] = "Multicast-Group",
}

-- draft §"MSYNC Parameters"
local msync_param_types = {
    [MSYNC_START] = "Start",
    [MSYNC_FORWARD] = "Forward",
    [MSYNC_KEY] = "Group Key",
    [MSYNC_FEEDBACK] = "Feedback",
    [MSYNC_END] = "End of Membership",
}

-- draft §"Multicast Reachability Report (MREACH, 196)"
local reach_status = {
    [1] = "JOINED",
    [2] = "JOIN_FAILED",
    [3] = "LEFT",
    [4] = "RESIGN",
}

local reach_reason = {
    [0] = "Unspecified",
    [1] = "No suitable interface or route",
    [2] = "Address family not supported",
    [3] = "Administratively prohibited",
    [4] = "Resource limit",
    [5] = "Invalid Multicast-Group parameter",
    [6] = "Application request",
}

-- draft §"End of Membership (0x0005)"
local end_reasons = {
    [1] = "Removed by the server's application",
    [2] = "Resignation acknowledged",
    [3] = "Backlog limit",
    [4] = "No progress",
    [5] = "Group deleted",
    [6] = "Rejoin refused",
}

-- RFC 4895 §"HMAC-ALGO", the HMAC Identifier of Group Key and AUTH
local hmac_ids = { [1] = "SHA-1", [3] = "SHA-256" }

local families = { [4] = "IPv4", [6] = "IPv6" }

----------------------------------------------------------------------
-- Fields
----------------------------------------------------------------------

local F = {}
local function field(key, f)
    F[key] = f
end

field("group_packet", ProtoField.bool("mcsctp.group_packet", "Group packet"))
field("chunk", ProtoField.none("mcsctp.chunk", "Chunk"))
field("chunk_type", ProtoField.uint8("mcsctp.chunk_type", "Chunk type", base.DEC, chunk_types))
field("chunk_flags", ProtoField.uint8("mcsctp.chunk_flags", "Chunk flags", base.HEX))
field("chunk_length", ProtoField.uint16("mcsctp.chunk_length", "Chunk length", base.DEC))
field("padding", ProtoField.bytes("mcsctp.padding", "Padding"))

-- MDATA, draft §"Multicast Payload Data (MDATA, 65)"
field("mdata_e", ProtoField.bool("mcsctp.mdata.e", "E (last fragment)", 8, nil, 0x01))
field("mdata_b", ProtoField.bool("mcsctp.mdata.b", "B (first fragment)", 8, nil, 0x02))
field("mdata_u", ProtoField.bool("mcsctp.mdata.u", "U (unordered)", 8, nil, 0x04))
field("mdata_i", ProtoField.bool("mcsctp.mdata.i", "I (immediate MSACK)", 8, nil, 0x08))
field("mdata_mtsn", ProtoField.uint32("mcsctp.mdata.mtsn", "MTSN", base.DEC))
field("mdata_stream", ProtoField.uint16("mcsctp.mdata.stream", "Stream identifier", base.DEC))
field("mdata_reserved", ProtoField.uint16("mcsctp.mdata.reserved", "Reserved", base.HEX))
field("mdata_mid", ProtoField.uint32("mcsctp.mdata.mid", "Message identifier", base.DEC))
field("mdata_ppid", ProtoField.uint32("mcsctp.mdata.ppid", "Payload protocol identifier", base.DEC))
field("mdata_fsn", ProtoField.uint32("mcsctp.mdata.fsn", "Fragment sequence number", base.DEC))
field("mdata_data", ProtoField.bytes("mcsctp.mdata.data", "User data"))
field("mdata_data_len", ProtoField.uint16("mcsctp.mdata.data_length", "User data length", base.DEC))

-- BARRIER, draft §"BARRIER (66)"
field("barrier_d", ProtoField.bool("mcsctp.barrier.d", "D (direction)", 8,
    { "D=1: unicast first", "D=0: group first" }, 0x01))
field("barrier_tag", ProtoField.uint32("mcsctp.barrier.group_tag", "Group verification tag", base.HEX))
field("barrier_tsn", ProtoField.uint32("mcsctp.barrier.tsn", "TSN", base.DEC))
field("barrier_mtsn", ProtoField.uint32("mcsctp.barrier.mtsn", "MTSN", base.DEC))

-- MSYNC, draft §"Multicast Synchronization (MSYNC, 131)"
field("msync_ssn", ProtoField.uint32("mcsctp.msync.sync_seq", "Sync sequence number", base.DEC))
field("msync_highest", ProtoField.uint32("mcsctp.msync.highest_mtsn", "Highest MTSN sent", base.DEC))
field("msync_mctsn", ProtoField.uint32("mcsctp.msync.mctsn", "Multicast cumulative TSN", base.DEC))
field("msync_ts", ProtoField.uint32("mcsctp.msync.timestamp", "Timestamp (us)", base.DEC))
field("msync_csn", ProtoField.uint32("mcsctp.msync.control_seq", "Control sequence number", base.DEC))
field("mp", ProtoField.none("mcsctp.msync.param", "MSYNC parameter"))
field("mp_type", ProtoField.uint16("mcsctp.msync.param_type", "Parameter type", base.HEX, msync_param_types))
field("mp_length", ProtoField.uint16("mcsctp.msync.param_length", "Parameter length", base.DEC))
field("mp_value", ProtoField.bytes("mcsctp.msync.param_value", "Parameter value"))
field("start_mtsn", ProtoField.uint32("mcsctp.msync.start.mtsn", "Start MTSN", base.DEC))
field("fwd_cum", ProtoField.uint32("mcsctp.msync.forward.new_cum_mtsn", "New cumulative MTSN", base.DEC))
field("fwd_stream", ProtoField.uint16("mcsctp.msync.forward.stream", "Stream identifier", base.DEC))
field("fwd_flags", ProtoField.uint16("mcsctp.msync.forward.flags", "Reserved / U", base.HEX))
field("fwd_u", ProtoField.bool("mcsctp.msync.forward.u", "U (unordered)", 16, nil, 0x0001))
field("fwd_mid", ProtoField.uint32("mcsctp.msync.forward.mid", "Message identifier", base.DEC))
field("key_epoch", ProtoField.uint16("mcsctp.msync.key.epoch", "Key epoch", base.DEC))
field("key_hmac", ProtoField.uint16("mcsctp.msync.key.hmac_id", "HMAC identifier", base.DEC, hmac_ids))
field("key_key", ProtoField.bytes("mcsctp.msync.key.key", "Key"))
field("fb_spacing", ProtoField.uint16("mcsctp.msync.feedback.ack_spacing", "Ack spacing (packets)", base.DEC))
field("fb_reserved", ProtoField.uint16("mcsctp.msync.feedback.reserved", "Reserved", base.HEX))
field("fb_delay", ProtoField.uint32("mcsctp.msync.feedback.ack_delay", "Ack delay (us)", base.DEC))
field("fb_period", ProtoField.uint32("mcsctp.msync.feedback.ack_period", "Ack period (us)", base.DEC))
field("fb_loss", ProtoField.uint32("mcsctp.msync.feedback.loss_report_delay", "Loss report delay (us)", base.DEC))
field("end_reason", ProtoField.uint16("mcsctp.msync.end.reason", "Reason", base.DEC, end_reasons))
field("end_reserved", ProtoField.uint16("mcsctp.msync.end.reserved", "Reserved", base.HEX))

-- MSACK, draft §"Multicast Selective Acknowledgement (MSACK, 195)"
field("msack_j", ProtoField.bool("mcsctp.msack.j", "J (joined)", 8, nil, 0x01))
field("msack_u", ProtoField.bool("mcsctp.msack.u", "U (last unicast MTSN valid)", 8, nil, 0x02))
field("msack_s", ProtoField.bool("mcsctp.msack.s", "S (sync fields valid)", 8, nil, 0x04))
field("msack_tag", ProtoField.uint32("mcsctp.msack.group_tag", "Group verification tag", base.HEX))
field("msack_cum", ProtoField.uint32("mcsctp.msack.cum_mtsn_ack", "Cumulative MTSN ack", base.DEC))
field("msack_through", ProtoField.uint32("mcsctp.msack.reported_through", "Reported through", base.DEC))
field("msack_grwnd", ProtoField.uint32("mcsctp.msack.a_grwnd", "Group advertised receiver window credit (a_grwnd)", base.DEC))
field("msack_ngap", ProtoField.uint16("mcsctp.msack.gap_count", "Number of gap ack blocks", base.DEC))
field("msack_ndup", ProtoField.uint16("mcsctp.msack.dup_count", "Number of duplicate MTSNs", base.DEC))
field("msack_echo", ProtoField.uint32("mcsctp.msack.control_echo", "Control echo", base.DEC))
field("msack_ts", ProtoField.uint32("mcsctp.msack.timestamp_echo", "Timestamp echo", base.DEC))
field("msack_delay", ProtoField.uint32("mcsctp.msack.ack_delay", "Ack delay (us)", base.DEC))
field("msack_lum", ProtoField.uint32("mcsctp.msack.last_unicast_mtsn", "Last unicast MTSN", base.DEC))
field("msack_lss", ProtoField.uint32("mcsctp.msack.last_sync_seq", "Last sync sequence", base.DEC))
field("msack_grc", ProtoField.uint32("mcsctp.msack.group_received", "Group received count", base.DEC))
field("msack_src", ProtoField.uint32("mcsctp.msack.sync_received", "Sync received count", base.DEC))
field("gap", ProtoField.none("mcsctp.msack.gap", "Gap ack block"))
field("gap_start", ProtoField.uint16("mcsctp.msack.gap_start", "Start", base.DEC))
field("gap_end", ProtoField.uint16("mcsctp.msack.gap_end", "End", base.DEC))
field("gap_first", ProtoField.uint32("mcsctp.msack.gap_first_mtsn", "First MTSN acked", base.DEC))
field("gap_last", ProtoField.uint32("mcsctp.msack.gap_last_mtsn", "Last MTSN acked", base.DEC))
field("missing_first", ProtoField.uint32("mcsctp.msack.missing_first", "First missing MTSN", base.DEC))
field("missing_last", ProtoField.uint32("mcsctp.msack.missing_last", "Last missing MTSN", base.DEC))
field("dup", ProtoField.uint32("mcsctp.msack.dup_mtsn", "Duplicate MTSN", base.DEC))

-- MREACH, draft §"Multicast Reachability Report (MREACH, 196)"
field("mreach_tag", ProtoField.uint32("mcsctp.mreach.group_tag", "Group verification tag", base.HEX))
field("mreach_status", ProtoField.uint8("mcsctp.mreach.status", "Status", base.DEC, reach_status))
field("mreach_reason", ProtoField.uint8("mcsctp.mreach.reason", "Reason", base.DEC, reach_reason))
field("mreach_reserved", ProtoField.uint16("mcsctp.mreach.reserved", "Reserved", base.HEX))

-- Group AUTH, draft §"Group Authentication" (RFC 4895 §4.1 layout)
field("auth_epoch", ProtoField.uint16("mcsctp.auth.key_epoch", "Key epoch (shared key identifier)", base.DEC))
field("auth_hmac_id", ProtoField.uint16("mcsctp.auth.hmac_id", "HMAC identifier", base.DEC, hmac_ids))
field("auth_hmac", ProtoField.bytes("mcsctp.auth.hmac", "HMAC"))

-- Parameters, draft §"Multicast-Capable Parameter (0xC009)" and
-- §"Multicast-Group Parameter (0xC00A)", and the Supported Extensions
-- parameter of §"Negotiation"
field("param", ProtoField.none("mcsctp.param", "Parameter"))
field("param_type", ProtoField.uint16("mcsctp.param_type", "Parameter type", base.HEX, param_types))
field("param_length", ProtoField.uint16("mcsctp.param_length", "Parameter length", base.DEC))
field("supported", ProtoField.uint8("mcsctp.supported_chunk", "Supported extension chunk type", base.DEC, chunk_types))
field("supported_all", ProtoField.bool("mcsctp.supported_all", "Lists all five chunk types"))
field("mcap_version", ProtoField.uint8("mcsctp.mcap.version", "Version", base.DEC))
field("mcap_flags", ProtoField.uint8("mcsctp.mcap.flags", "Flags", base.HEX))
field("mcap_v6", ProtoField.bool("mcsctp.mcap.ipv6", "6 (can join IPv6 groups)", 8, nil, 0x02))
field("mcap_v4", ProtoField.bool("mcsctp.mcap.ipv4", "4 (can join IPv4 groups)", 8, nil, 0x01))
field("mcap_reserved", ProtoField.uint16("mcsctp.mcap.reserved", "Reserved", base.HEX))
field("mg_tag", ProtoField.uint32("mcsctp.mgroup.group_tag", "Group verification tag", base.HEX))
field("mg_initial", ProtoField.uint32("mcsctp.mgroup.initial_mtsn", "Initial MTSN", base.DEC))
field("mg_port", ProtoField.uint16("mcsctp.mgroup.port", "Group UDP port", base.DEC))
field("mg_family", ProtoField.uint8("mcsctp.mgroup.family", "Family", base.DEC, families))
field("mg_flags", ProtoField.uint8("mcsctp.mgroup.flags", "Flags", base.HEX))
field("mg_a", ProtoField.bool("mcsctp.mgroup.a", "A (authenticated)", 8, nil, 0x02))
field("mg_s", ProtoField.bool("mcsctp.mgroup.s", "S (source-specific)", 8, nil, 0x01))
field("mg_sync", ProtoField.uint16("mcsctp.mgroup.sync_interval", "Sync interval (ms)", base.DEC))
field("mg_nranges", ProtoField.uint16("mcsctp.mgroup.range_count", "Number of stream ranges", base.DEC))
field("mg_group4", ProtoField.ipv4("mcsctp.mgroup.group_addr", "Group address"))
field("mg_source4", ProtoField.ipv4("mcsctp.mgroup.source_addr", "Source address"))
field("mg_group6", ProtoField.ipv6("mcsctp.mgroup.group_addr6", "Group address"))
field("mg_source6", ProtoField.ipv6("mcsctp.mgroup.source_addr6", "Source address"))
field("mg_first", ProtoField.uint16("mcsctp.mgroup.first_stream", "First stream", base.DEC))
field("mg_last", ProtoField.uint16("mcsctp.mgroup.last_stream", "Last stream", base.DEC))

local field_list = {}
for _, f in pairs(F) do
    field_list[#field_list + 1] = f
end
mcsctp.fields = field_list

local E = {
    length = ProtoExpert.new("mcsctp.bad_length", "Length not as the draft defines it",
        expert.group.MALFORMED, expert.severity.ERROR),
    truncated = ProtoExpert.new("mcsctp.truncated", "Chunk or parameter extends past the packet",
        expert.group.MALFORMED, expert.severity.ERROR),
    invalid = ProtoExpert.new("mcsctp.invalid", "Field value the draft does not allow",
        expert.group.PROTOCOL, expert.severity.WARN),
}
mcsctp.experts = { E.length, E.truncated, E.invalid }

mcsctp.prefs.group_port = Pref.uint("Group UDP port", 9907,
    "UDP port of group packets (Mcast.Group.Port), decoded as SCTP")

----------------------------------------------------------------------
-- Helpers
----------------------------------------------------------------------

local TWO32 = 4294967296

-- Integer arithmetic only, so that Lua 5.3/5.4 (Wireshark 4.2 and later)
-- keeps integers where Lua 5.1/5.2 has only numbers.
local function pad4(n)
    return n + (4 - n % 4) % 4
end

local function has(v, mask)
    return math.floor(v / mask) % 2 == 1
end

-- MTSN arithmetic modulo 2^32 (draft §"Wrap-Safe Comparison of MTSNs")
local function mtsn_add(a, b)
    return (a + b) % TWO32
end

local function ipv4_multicast(addr)
    local first = tonumber(string.match(addr, "^(%d+)%."))
    return first ~= nil and first >= 224 and first <= 239
end

-- Adds `f` read from tvb(off, len) to `tree` if the bytes are there.
local function add(tree, f, tvb, off, len)
    if off + len <= tvb:len() then
        return tree:add(f, tvb(off, len))
    end
    return nil
end

-- Length check: adds an expert item and returns false when `len` is not
-- what the draft requires.
local function expect_len(item, what, len, want)
    if len ~= want then
        item:add_proto_expert_info(E.length,
            string.format("%s length is %d, the draft requires %d", what, len, want))
        return false
    end
    return true
end

----------------------------------------------------------------------
-- MSYNC parameters, draft §"MSYNC Parameters"
----------------------------------------------------------------------

local function dissect_msync_param(tvb, off, ptype, plen, tree)
    local item = tree:add(F.mp, tvb(off, pad4(plen) <= tvb:len() - off and pad4(plen) or plen))
    local name = msync_param_types[ptype] or string.format("Unknown (0x%04x)", ptype)
    item:set_text(string.format("%s parameter (type 0x%04x, length %d)", name, ptype, plen))
    item:add(F.mp_type, tvb(off, 2))
    item:add(F.mp_length, tvb(off + 2, 2))
    local v = off + 4
    if ptype == MSYNC_START then
        -- §"Start (0x0001)": Start MTSN
        if expect_len(item, "Start", plen, 8) then
            item:add(F.start_mtsn, tvb(v, 4))
            item:append_text(": " .. tvb(v, 4):uint())
        end
    elseif ptype == MSYNC_FORWARD then
        -- §"Forward (0x0002)": New Cumulative MTSN and E skip points
        if plen < 8 or (plen - 8) % 8 ~= 0 then
            item:add_proto_expert_info(E.length,
                string.format("Forward length %d is not 8 + 8 * E", plen))
            return
        end
        item:add(F.fwd_cum, tvb(v, 4))
        item:append_text(": new cumulative MTSN " .. tvb(v, 4):uint())
        local e = off + 8
        while e + 8 <= off + plen do
            local st = tvb(e, 2):uint()
            local u = tvb(e + 2, 2):uint() % 2 == 1
            local mid = tvb(e + 4, 4):uint()
            local sp = item:add(tvb(e, 8), string.format("Skip point: stream %d, %s, MID %d",
                st, u and "unordered" or "ordered", mid))
            sp:add(F.fwd_stream, tvb(e, 2))
            sp:add(F.fwd_flags, tvb(e + 2, 2))
            sp:add(F.fwd_u, tvb(e + 2, 2))
            sp:add(F.fwd_mid, tvb(e + 4, 4))
            e = e + 8
        end
    elseif ptype == MSYNC_KEY then
        -- §"Group Key (0x0003)": epoch, HMAC identifier, key (>= 1 octet)
        if plen < 9 then
            item:add_proto_expert_info(E.length, "Group Key without a key")
            if plen < 8 then
                return
            end
        end
        item:add(F.key_epoch, tvb(v, 2))
        item:add(F.key_hmac, tvb(v + 2, 2))
        if plen > 8 then
            item:add(F.key_key, tvb(v + 4, plen - 8))
        end
        item:append_text(string.format(": epoch %d, HMAC %d, %d-octet key",
            tvb(v, 2):uint(), tvb(v + 2, 2):uint(), plen - 8))
    elseif ptype == MSYNC_FEEDBACK then
        -- §"Feedback (0x0004)"
        if expect_len(item, "Feedback", plen, 20) then
            item:add(F.fb_spacing, tvb(v, 2))
            item:add(F.fb_reserved, tvb(v + 2, 2))
            item:add(F.fb_delay, tvb(v + 4, 4))
            item:add(F.fb_period, tvb(v + 8, 4))
            item:add(F.fb_loss, tvb(v + 12, 4))
        end
    elseif ptype == MSYNC_END then
        -- §"End of Membership (0x0005)"
        if expect_len(item, "End of Membership", plen, 8) then
            item:add(F.end_reason, tvb(v, 2))
            item:add(F.end_reserved, tvb(v + 2, 2))
            local r = tvb(v, 2):uint()
            item:append_text(": " .. (end_reasons[r] or ("reason " .. r)))
        end
    else
        -- Unknown: high bits 00/01 end processing of the MSYNC's
        -- parameters, 10/11 skip it; nothing is ever reported.
        if plen > 4 then
            item:add(F.mp_value, tvb(v, plen - 4))
        end
        local action = ptype >= 0x8000 and "skipped" or "ends parameter processing"
        item:append_text(" (unknown, " .. action .. ")")
    end
end

----------------------------------------------------------------------
-- Chunks
----------------------------------------------------------------------

-- Each chunk dissector gets the SCTP tvb, the chunk's offset, its Length
-- field, its flags and the chunk's tree item; it returns a short summary
-- for the Info column.

-- draft §"Multicast Payload Data (MDATA, 65)": the I-DATA layout with the
-- TSN replaced by the MTSN.
local function dissect_mdata(tvb, off, len, flags, item, group_packet)
    item:add(F.mdata_e, tvb(off + 1, 1))
    item:add(F.mdata_b, tvb(off + 1, 1))
    item:add(F.mdata_u, tvb(off + 1, 1))
    local i_item = item:add(F.mdata_i, tvb(off + 1, 1))
    -- "It MUST be 0 on the group path, where it would make every member
    -- answer at once, and members ignore it there."
    if group_packet and has(flags, 0x08) then
        i_item:add_proto_expert_info(E.invalid, "I bit set on the group path (members ignore it)")
    end
    if len < 20 then
        item:add_proto_expert_info(E.length, "MDATA shorter than its 20-octet header")
        return "MDATA (short)"
    end
    local mtsn = tvb(off + 4, 4):uint()
    item:add(F.mdata_mtsn, tvb(off + 4, 4))
    item:add(F.mdata_stream, tvb(off + 8, 2))
    item:add(F.mdata_reserved, tvb(off + 10, 2))
    item:add(F.mdata_mid, tvb(off + 12, 4))
    -- PPID if B is set, else the Fragment Sequence Number
    local begin = has(flags, 0x02)
    item:add(begin and F.mdata_ppid or F.mdata_fsn, tvb(off + 16, 4))
    local n = len - 20
    item:add(F.mdata_data_len, tvb(off + 2, 2), n):set_generated()
    if n > 0 then
        item:add(F.mdata_data, tvb(off + 20, n))
    else
        item:add_proto_expert_info(E.length, "MDATA without user data is invalid")
    end
    local flag_text = (begin and "B" or "") .. (has(flags, 0x01) and "E" or "")
        .. (has(flags, 0x04) and "U" or "") .. (has(flags, 0x08) and "I" or "")
    item:append_text(string.format(" (MTSN: %d, stream: %d, MID: %d, %s: %d, flags: %s, %d octets)",
        mtsn, tvb(off + 8, 2):uint(), tvb(off + 12, 4):uint(), begin and "PPID" or "FSN",
        tvb(off + 16, 4):uint(), flag_text, n))
    return string.format("MDATA (MTSN=%d)", mtsn)
end

-- draft §"BARRIER (66)"
local function dissect_barrier(tvb, off, len, flags, item)
    item:add(F.barrier_d, tvb(off + 1, 1))
    if not expect_len(item, "BARRIER", len, 16) then
        return "BARRIER"
    end
    item:add(F.barrier_tag, tvb(off + 4, 4))
    item:add(F.barrier_tsn, tvb(off + 8, 4))
    item:add(F.barrier_mtsn, tvb(off + 12, 4))
    local d = flags % 2
    item:append_text(string.format(" (D=%d %s, TSN: %d, MTSN: %d)", d,
        d == 1 and "unicast first" or "group first", tvb(off + 8, 4):uint(), tvb(off + 12, 4):uint()))
    return string.format("BARRIER (D=%d)", d)
end

-- draft §"Multicast Synchronization (MSYNC, 131)"
local function dissect_msync(tvb, off, len, flags, item, group_packet)
    if len < 24 then
        item:add_proto_expert_info(E.length, "MSYNC shorter than its 24-octet header")
        return "MSYNC (short)"
    end
    item:add(F.msync_ssn, tvb(off + 4, 4))
    item:add(F.msync_highest, tvb(off + 8, 4))
    item:add(F.msync_mctsn, tvb(off + 12, 4))
    item:add(F.msync_ts, tvb(off + 16, 4))
    local csn_item = item:add(F.msync_csn, tvb(off + 20, 4))
    local csn = tvb(off + 20, 4):uint()
    item:append_text(string.format(" (sync seq: %d, highest MTSN: %d, MCTSN: %d, control seq: %d)",
        tvb(off + 4, 4):uint(), tvb(off + 8, 4):uint(), tvb(off + 12, 4):uint(), csn))
    -- §"Receiving Group Packets": no parameters, control sequence 0 there
    if group_packet and csn ~= 0 then
        csn_item:add_proto_expert_info(E.invalid,
            "Group-path MSYNC with a non-zero control sequence number (members discard it)")
    end
    local p = off + 24
    local stop = off + len
    local count = 0
    while p + 4 <= stop do
        local ptype = tvb(p, 2):uint()
        local plen = tvb(p + 2, 2):uint()
        if plen < 4 or p + plen > stop then
            item:add_proto_expert_info(E.length,
                string.format("MSYNC parameter length %d does not fit the chunk", plen))
            break
        end
        dissect_msync_param(tvb, p, ptype, plen, item)
        count = count + 1
        p = p + pad4(plen)
    end
    if count > 0 and group_packet then
        item:add_proto_expert_info(E.invalid,
            "Group-path MSYNC with parameters (members discard the packet)")
    end
    if count > 0 then
        return string.format("MSYNC (CSN=%d, %d params)", csn, count)
    end
    return string.format("MSYNC (seq=%d)", tvb(off + 4, 4):uint())
end

-- draft §"Multicast Selective Acknowledgement (MSACK, 195)"
local function dissect_msack(tvb, off, len, flags, item)
    item:add(F.msack_j, tvb(off + 1, 1))
    item:add(F.msack_u, tvb(off + 1, 1))
    item:add(F.msack_s, tvb(off + 1, 1))
    if len < 52 then
        item:add_proto_expert_info(E.length, "MSACK shorter than its 52-octet fixed part")
        return "MSACK (short)"
    end
    local cum = tvb(off + 8, 4):uint()
    local through = tvb(off + 12, 4):uint()
    local ngap = tvb(off + 20, 2):uint()
    local ndup = tvb(off + 22, 2):uint()
    item:add(F.msack_tag, tvb(off + 4, 4))
    item:add(F.msack_cum, tvb(off + 8, 4))
    item:add(F.msack_through, tvb(off + 12, 4))
    item:add(F.msack_grwnd, tvb(off + 16, 4))
    item:add(F.msack_ngap, tvb(off + 20, 2))
    item:add(F.msack_ndup, tvb(off + 22, 2))
    item:add(F.msack_echo, tvb(off + 24, 4))
    item:add(F.msack_ts, tvb(off + 28, 4))
    item:add(F.msack_delay, tvb(off + 32, 4))
    item:add(F.msack_lum, tvb(off + 36, 4))
    item:add(F.msack_lss, tvb(off + 40, 4))
    item:add(F.msack_grc, tvb(off + 44, 4))
    item:add(F.msack_src, tvb(off + 48, 4))
    item:append_text(string.format(" (cumulative MTSN ack: %d, reported through: %d, %d gap blocks, %d duplicates)",
        cum, through, ngap, ndup))
    -- Length is 52 + 4 * N + 4 * M exactly; a receiver discards another.
    if not expect_len(item, "MSACK", len, 52 + 4 * ngap + 4 * ndup) then
        return "MSACK (bad length)"
    end
    local p = off + 52
    local next_missing = mtsn_add(cum, 1) -- first MTSN not known received
    local prev_end = 0
    local function missing_up_to(last_missing, range)
        -- MTSNs from next_missing to last_missing (mod 2^32) are reported
        -- missing: ahead of the cumulative ack, below Reported Through,
        -- covered by no gap block.
        local gap = (last_missing - next_missing) % TWO32
        if gap < 65536 then
            local m = item:add(range, string.format("Missing MTSNs: %d-%d", next_missing, last_missing))
            m:set_generated()
            m:add(F.missing_first, range, next_missing):set_generated()
            m:add(F.missing_last, range, last_missing):set_generated()
        end
    end
    for _ = 1, ngap do
        local s = tvb(p, 2):uint()
        local e = tvb(p + 2, 2):uint()
        local first, last = mtsn_add(cum, s), mtsn_add(cum, e)
        if first ~= next_missing then
            missing_up_to(mtsn_add(first, TWO32 - 1), tvb(p, 4))
        end
        local g = item:add(F.gap, tvb(p, 4))
        g:set_text(string.format("Gap ack block: %d-%d (MTSNs %d-%d)", s, e, first, last))
        g:add(F.gap_start, tvb(p, 2))
        g:add(F.gap_end, tvb(p + 2, 2))
        g:add(F.gap_first, tvb(p, 2), first):set_generated()
        g:add(F.gap_last, tvb(p + 2, 2), last):set_generated()
        -- "Blocks are in ascending order, do not overlap, and end at or
        -- below Reported Through."
        if e < s or s == 0 then
            g:add_proto_expert_info(E.invalid, "Gap ack block empty or starting at the cumulative ack")
        elseif s <= prev_end then
            g:add_proto_expert_info(E.invalid, "Gap ack blocks out of order or overlapping")
        elseif e > (through - cum) % TWO32 then
            g:add_proto_expert_info(E.invalid, "Gap ack block ends above Reported Through")
        end
        prev_end = e
        next_missing = mtsn_add(last, 1)
        p = p + 4
    end
    -- A tail loss: MTSNs after the last block up to Reported Through.
    local ahead = (through - cum) % TWO32
    if ahead >= 1 and ahead <= 65535 and ((through - next_missing) % TWO32) < 65536
        and next_missing ~= mtsn_add(through, 1) then
        missing_up_to(through, tvb(off + 12, 4))
    end
    for _ = 1, ndup do
        item:add(F.dup, tvb(p, 4))
        p = p + 4
    end
    return string.format("MSACK (cum=%d)", cum)
end

-- draft §"Multicast Reachability Report (MREACH, 196)"
local function dissect_mreach(tvb, off, len, flags, item)
    if not expect_len(item, "MREACH", len, 12) then
        return "MREACH"
    end
    item:add(F.mreach_tag, tvb(off + 4, 4))
    item:add(F.mreach_status, tvb(off + 8, 1))
    item:add(F.mreach_reason, tvb(off + 9, 1))
    item:add(F.mreach_reserved, tvb(off + 10, 2))
    local st = tvb(off + 8, 1):uint()
    if reach_status[st] == nil then
        item:add_proto_expert_info(E.invalid, "Unknown status: the server ignores this MREACH")
    end
    item:append_text(string.format(" (%s, reason %d)", reach_status[st] or ("status " .. st),
        tvb(off + 9, 1):uint()))
    return "MREACH (" .. (reach_status[st] or st) .. ")"
end

----------------------------------------------------------------------
-- Parameters of INIT and INIT ACK
----------------------------------------------------------------------

local function param_item(tree, tvb, off, plen, ptype)
    local item = tree:add(F.param, tvb(off, math.min(pad4(plen), tvb:len() - off)))
    item:add(F.param_type, tvb(off, 2))
    item:add(F.param_length, tvb(off + 2, 2))
    return item
end

-- draft §"Multicast-Capable Parameter (0xC009)"
local function dissect_mcap(tvb, off, plen, tree)
    local item = param_item(tree, tvb, off, plen, P_MCAP)
    item:set_text("Multicast-Capable parameter")
    if not expect_len(item, "Multicast-Capable", plen, 8) then
        return
    end
    item:add(F.mcap_version, tvb(off + 4, 1))
    local fl = item:add(F.mcap_flags, tvb(off + 5, 1))
    fl:add(F.mcap_v6, tvb(off + 5, 1))
    fl:add(F.mcap_v4, tvb(off + 5, 1))
    item:add(F.mcap_reserved, tvb(off + 6, 2))
    local f = tvb(off + 5, 1):uint()
    item:append_text(string.format(" (version %d%s%s)", tvb(off + 4, 1):uint(),
        has(f, 0x01) and ", IPv4" or "", has(f, 0x02) and ", IPv6" or ""))
    -- "A server that does not support the version MUST treat the INIT as
    -- if the parameter were absent."
    if tvb(off + 4, 1):uint() ~= 1 then
        item:add_proto_expert_info(E.invalid, "Not version 1 (draft -01)")
    end
    if f % 4 == 0 then
        fl:add_proto_expert_info(E.invalid, "Neither the 4 nor the 6 bit is set: the parameter is ignored")
    end
end

-- draft §"Multicast-Group Parameter (0xC00A)"
local function dissect_mgroup(tvb, off, plen, tree)
    local item = param_item(tree, tvb, off, plen, P_MGROUP)
    item:set_text("Multicast-Group parameter")
    if plen < 20 then
        item:add_proto_expert_info(E.length, "Multicast-Group shorter than its fixed part")
        return
    end
    local v = off + 4
    item:add(F.mg_tag, tvb(v, 4))
    item:add(F.mg_initial, tvb(v + 4, 4))
    item:add(F.mg_port, tvb(v + 8, 2))
    item:add(F.mg_family, tvb(v + 10, 1))
    local fl = item:add(F.mg_flags, tvb(v + 11, 1))
    fl:add(F.mg_a, tvb(v + 11, 1))
    fl:add(F.mg_s, tvb(v + 11, 1))
    item:add(F.mg_sync, tvb(v + 12, 2))
    item:add(F.mg_nranges, tvb(v + 14, 2))
    local family = tvb(v + 10, 1):uint()
    local n = tvb(v + 14, 2):uint()
    local alen = family == 4 and 4 or (family == 6 and 16 or nil)
    if alen == nil then
        item:add_proto_expert_info(E.invalid, "Family is neither 4 nor 6: the parameter is invalid")
        return
    end
    -- Length is 20 + 2 * A + 4 * N
    if not expect_len(item, "Multicast-Group", plen, 20 + 2 * alen + 4 * n) then
        return
    end
    local a = v + 16
    if alen == 4 then
        item:add(F.mg_group4, tvb(a, 4))
        item:add(F.mg_source4, tvb(a + 4, 4))
    else
        item:add(F.mg_group6, tvb(a, 16))
        item:add(F.mg_source6, tvb(a + 16, 16))
    end
    local r = a + 2 * alen
    local ranges = {}
    for _ = 1, n do
        local first, last = tvb(r, 2):uint(), tvb(r + 2, 2):uint()
        local ri = item:add(tvb(r, 4), string.format("Stream range: %d-%d", first, last))
        ri:add(F.mg_first, tvb(r, 2))
        ri:add(F.mg_last, tvb(r + 2, 2))
        if last < first then
            ri:add_proto_expert_info(E.invalid, "First stream above last stream")
        end
        ranges[#ranges + 1] = first .. "-" .. last
        r = r + 4
    end
    local group = alen == 4 and tostring(tvb(a, 4):ipv4()) or tostring(tvb(a, 16):ipv6())
    item:append_text(string.format(" (group tag 0x%08x, %s port %d, initial MTSN %d, streams %s)",
        tvb(v, 4):uint(), group, tvb(v + 8, 2):uint(), tvb(v + 4, 4):uint(), table.concat(ranges, ",")))
end

-- Supported Extensions (RFC 5061 §4.2.7): the draft's chunk types in it
-- (§"Negotiation": both endpoints list all five).
local function dissect_supported(tvb, off, plen, tree)
    local found = 0
    local seen = {}
    local item = nil
    for i = off + 4, off + plen - 1 do
        local t = tvb(i, 1):uint()
        if chunk_names[t] then
            if item == nil then
                item = tree:add(tvb(off, plen), "Supported Extensions: multicast chunk types")
            end
            item:add(F.supported, tvb(i, 1))
            if not seen[t] then
                seen[t] = true
                found = found + 1
            end
        end
    end
    if item ~= nil then
        item:add(F.supported_all, tvb(off, plen), found == 5):set_generated()
        item:append_text(string.format(" (%d of 5)", found))
    end
end

-- Whether the parameters from p to stop include one this script decodes.
local function has_ext_params(tvb, p, stop, depth)
    while p + 4 <= stop do
        local ptype = tvb(p, 2):uint()
        local plen = tvb(p + 2, 2):uint()
        if plen < 4 or p + plen > stop then
            return false
        end
        if ptype == P_MCAP or ptype == P_MGROUP then
            return true
        end
        if ptype == P_SUPPORTED_EXT then
            for i = p + 4, p + plen - 1 do
                if chunk_names[tvb(i, 1):uint()] then
                    return true
                end
            end
        end
        if ptype == P_UNRECOGNIZED and depth == 0 and has_ext_params(tvb, p + 4, p + plen, 1) then
            return true
        end
        p = p + pad4(plen)
    end
    return false
end

local function dissect_params(tvb, p, stop, tree, depth)
    while p + 4 <= stop do
        local ptype = tvb(p, 2):uint()
        local plen = tvb(p + 2, 2):uint()
        if plen < 4 or p + plen > stop then
            break -- the SCTP dissector reports it
        end
        if ptype == P_MCAP then
            dissect_mcap(tvb, p, plen, tree)
        elseif ptype == P_MGROUP then
            dissect_mgroup(tvb, p, plen, tree)
        elseif ptype == P_SUPPORTED_EXT then
            dissect_supported(tvb, p, plen, tree)
        elseif ptype == P_UNRECOGNIZED and depth == 0 then
            -- an INIT ACK returning Multicast-Capable (§"Choice of Type Codes")
            dissect_params(tvb, p + 4, p + plen, tree, 1)
        end
        p = p + pad4(plen)
    end
end

----------------------------------------------------------------------
-- The packet walk
----------------------------------------------------------------------

local chunk_dissectors = {
    [MDATA] = dissect_mdata,
    [BARRIER] = dissect_barrier,
    [MSYNC] = dissect_msync,
    [MSACK] = dissect_msack,
    [MREACH] = dissect_mreach,
}

local f_sctp = Field.new("sctp")
local f_udp_dstport = Field.new("udp.dstport")

-- One SCTP packet (common header and chunks) in `tvb`. Returns the Info
-- summaries of the extension's chunks, in order.
local function dissect_sctp_packet(tvb, pinfo, tree)
    local len = tvb:len()
    if len < 12 then
        return {}
    end
    local root = nil
    local function get_root()
        if root == nil then
            root = tree:add(mcsctp, tvb())
        end
        return root
    end
    -- A group packet (§"Group Packet Format"): sent to the group UDP port
    -- or to a multicast address, both SCTP ports the server's.
    -- (pinfo.dst_port is the SCTP port by now; the UDP port is a field.)
    local dst = tostring(pinfo.dst)
    local group_packet = ipv4_multicast(dst) or string.sub(dst, 1, 2) == "ff"
    for _, port in ipairs({ f_udp_dstport() }) do
        if port.value == mcsctp.prefs.group_port then
            group_packet = true
        end
    end
    local summaries = {}
    local off = 12
    local index = 0
    while off + 4 <= len do
        local ctype = tvb(off, 1):uint()
        local flags = tvb(off + 1, 1):uint()
        local clen = tvb(off + 2, 2):uint()
        if clen < 4 then
            break -- the SCTP dissector reports it
        end
        local d = chunk_dissectors[ctype]
        if d ~= nil then
            local r = get_root()
            local avail = math.min(pad4(clen), len - off)
            local item = r:add(F.chunk, tvb(off, avail))
            item:set_text(chunk_names[ctype] .. " chunk")
            item:add(F.chunk_type, tvb(off, 1))
            item:add(F.chunk_flags, tvb(off + 1, 1))
            item:add(F.chunk_length, tvb(off + 2, 2))
            if off + clen > len then
                item:add_proto_expert_info(E.truncated,
                    string.format("%s length %d, %d octets left", chunk_names[ctype], clen, len - off))
                summaries[#summaries + 1] = chunk_names[ctype]
                break
            end
            summaries[#summaries + 1] = d(tvb, off, clen, flags, item, group_packet)
            local padded = pad4(clen)
            if padded > clen and off + padded <= len then
                item:add(F.padding, tvb(off + clen, padded - clen))
            end
        elseif ctype == AUTH and index == 0 and group_packet and clen >= 8 and off + clen <= len then
            -- §"Group Authentication": the leading AUTH of a group packet,
            -- keyed with the group key of the epoch in its Shared Key Id.
            local r = get_root()
            local item = r:add(tvb(off, clen), string.format(
                "Group AUTH chunk (key epoch %d)", tvb(off + 4, 2):uint()))
            item:add(F.auth_epoch, tvb(off + 4, 2))
            item:add(F.auth_hmac_id, tvb(off + 6, 2))
            if clen > 8 then
                item:add(F.auth_hmac, tvb(off + 8, clen - 8))
            end
        elseif (ctype == INIT or ctype == INIT_ACK) and clen > 20 and off + clen <= len
            and has_ext_params(tvb, off + 20, off + clen, 0) then
            -- §"Negotiation": Multicast-Capable in INIT, Multicast-Group in
            -- INIT ACK, the chunk types in Supported Extensions.
            local item = get_root():add(tvb(off, clen), (ctype == INIT and "INIT" or "INIT ACK")
                .. " parameters of the extension")
            dissect_params(tvb, off + 20, off + clen, item, 0)
        end
        index = index + 1
        off = off + pad4(clen)
    end
    if root ~= nil then
        root:add(F.group_packet, tvb(0, 12), group_packet):set_generated()
    end
    return summaries
end

function mcsctp.dissector(tvb, pinfo, tree)
    local all = {}
    for _, fi in ipairs({ f_sctp() }) do
        local range = fi.range
        if range ~= nil and range:len() >= 12 then
            local sub = range:tvb()
            for _, s in ipairs(dissect_sctp_packet(sub, pinfo, tree)) do
                all[#all + 1] = s
            end
        end
    end
    -- The SCTP dissector names each unknown chunk "RESERVED" in the Info
    -- column; name ours instead when the counts agree.
    if #all > 0 then
        local info = tostring(pinfo.cols.info)
        local n = select(2, string.gsub(info, "RESERVED", ""))
        if n == #all then
            local i = 0
            info = string.gsub(info, "RESERVED", function()
                i = i + 1
                return all[i]
            end)
            -- The SCTP dissector fences its text; lift the fence to
            -- rewrite it.
            pinfo.cols.info:clear_fence()
            pinfo.cols.info:set(info)
        end
    end
end

register_postdissector(mcsctp)

----------------------------------------------------------------------
-- Ports
----------------------------------------------------------------------

local sctp_handle = Dissector.get("sctp")
local udp_port = DissectorTable.get("udp.port")
local registered_port = nil

local function register_ports()
    if registered_port ~= nil then
        udp_port:remove(registered_port, sctp_handle)
    end
    registered_port = mcsctp.prefs.group_port
    udp_port:add(registered_port, sctp_handle)
end

-- SCTP over UDP (RFC 6951); Wireshark registers it already, harmless twice.
udp_port:add(9899, sctp_handle)
register_ports()

function mcsctp.prefs_changed()
    if registered_port ~= mcsctp.prefs.group_port then
        register_ports()
    end
end
