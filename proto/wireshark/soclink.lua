-- Wireshark dissector for soclink link packets, as `soclink capture` records
-- them (pcapng, LINKTYPE_USER0: one interface per peer link, direction in
-- epb_flags). Load it with
--   tshark -X lua_script:proto/wireshark/soclink.lua -r FILE.pcapng -V
-- or copy it into Wireshark's personal Lua plugins folder (Help > About >
-- Folders).
--
-- What it decodes (proto/link.proto is the specification):
-- * protobuf packets: u32 LE header length, a Frame, then the bulk bytes
--   of every Write, Update and ReadCompletion in depth-first order; every
--   message and field of link.proto (MESSAGES below, written by hand from
--   the field numbers; test/unit/wireshark-dissector.test.ts checks it
--   names every message, field and enum value of link.proto);
-- * Batches, with each frame's bulk under it;
-- * compact packets (FEATURE_COMPACT): the header and the WRITE, UPDATE,
--   ORDERED, DOORBELL and FRAME records, with the seq each record takes;
-- * on top of them, rpmsg messages in the bytes of a Write or Update range
--   or a ReadCompletion (below, "rpmsg heuristic"), and name service (NS,
--   address 53) and address service (AS, address 54) messages in them.
--
-- rpmsg heuristic: a memory write does not say it carries an rpmsg buffer,
-- so a range is taken for one when its first 16 bytes read as a struct
-- rpmsg_hdr (drivers/rpmsg/rpmsg_internal.h: u32 src, u32 dst, u32
-- reserved, u16 len, u16 flags; little-endian) with reserved 0 and len at
-- least 1, and either the range is the header alone (a driver may write
-- the header and the payload separately, as vhost_rpmsg does) or the
-- payload fits in the range (16 + len bytes or more). Only the start of a
-- range is tried: a driver writes a buffer from its start. A 16-byte
-- write of other data that happens to have a zero third word can be taken
-- for a header: the tree says "heuristic". A message to address 53 of 40
-- bytes is shown as struct rpmsg_ns_msg (name[32], addr, flags: CREATE 0,
-- DESTROY 1, AS_ANNOUNCE 2), one to 54 of 44 bytes as struct rpmsg_as_msg
-- (name[32], dst, src, flags: ASSIGN 1, FREE 2), from the RFC series that
-- soclink models (see README, rpmsg).

local soclink = Proto("soclink", "soclink link packet")
local rpmsg = Proto("rpmsg", "rpmsg message (struct rpmsg_hdr, heuristic)")

-- ------------------------------------------------------------ link.proto

-- Enums of link.proto: value -> name.
local ENUMS = {
  Version = { [0] = "VERSION_UNSPECIFIED", [1] = "VERSION_1" },
  Role = { [0] = "ROLE_UNSPECIFIED", [1] = "ROLE_RC", [2] = "ROLE_EP", [3] = "ROLE_NTB", [4] = "ROLE_NTB_VIRTIO", [5] = "ROLE_NTB_VHOST" },
  Status = { [0] = "STATUS_OK", [1] = "STATUS_UNSUPPORTED_REQUEST", [2] = "STATUS_COMPLETER_ABORT", [3] = "STATUS_RETRY", [4] = "STATUS_ACCESS_DENIED" },
  Feature = { [0] = "FEATURE_NONE", [1] = "FEATURE_COMPACT" },
  ["Goodbye.Code"] = { [0] = "CODE_NORMAL", [1] = "CODE_VERSION", [2] = "CODE_AUTH", [3] = "CODE_PROTOCOL", [4] = "CODE_DUPLICATE", [5] = "CODE_OVERFLOW" },
  ["ErrorReport.Request"] = { [0] = "REQUEST_UNSPECIFIED", [1] = "REQUEST_WRITE", [2] = "REQUEST_DOORBELL" },
}

-- Messages of link.proto: field number -> { name, type, repeated }.
-- Types: uint32, uint64, bool, string, bytes, an enum of ENUMS, or a message.
local MESSAGES = {
  Frame = {
    [1] = { "seq", "uint64" },
    [2] = { "ack", "uint64" },
    [10] = { "challenge", "Challenge" },
    [11] = { "hello", "Hello" },
    [12] = { "welcome", "Welcome" },
    [13] = { "goodbye", "Goodbye" },
    [14] = { "ping", "Ping" },
    [15] = { "pong", "Pong" },
    [16] = { "batch", "Batch" },
    [20] = { "subscribe", "Subscribe" },
    [21] = { "subscribed", "Subscribed" },
    [22] = { "unsubscribe", "Unsubscribe" },
    [23] = { "write", "Write" },
    [24] = { "update", "Update" },
    [25] = { "ordered", "Ordered" },
    [26] = { "read", "Read" },
    [27] = { "read_completion", "ReadCompletion" },
    [28] = { "error_report", "ErrorReport" },
    [30] = { "doorbell", "Doorbell" },
    [31] = { "link_event", "LinkEvent" },
  },
  Batch = {
    [1] = { "frames", "Frame", true },
  },
  Challenge = {
    [1] = { "version", "Version" },
    [2] = { "nonce", "bytes" },
  },
  Resume = {
    [1] = { "peer_incarnation", "bytes" },
    [2] = { "next_seq", "uint64" },
  },
  Hello = {
    [1] = { "version", "Version" },
    [2] = { "role", "Role" },
    [3] = { "name", "string" },
    [4] = { "incarnation", "bytes" },
    [5] = { "nonce", "bytes" },
    [6] = { "proof", "bytes" },
    [7] = { "resume", "Resume" },
    [8] = { "features", "uint32" },
  },
  Welcome = {
    [1] = { "version", "Version" },
    [2] = { "role", "Role" },
    [3] = { "name", "string" },
    [4] = { "incarnation", "bytes" },
    [5] = { "proof", "bytes" },
    [6] = { "resume", "Resume" },
    [7] = { "features", "uint32" },
  },
  Goodbye = {
    [1] = { "code", "Goodbye.Code" },
    [2] = { "reason", "string" },
  },
  Ping = {
    [1] = { "nonce", "uint64" },
  },
  Pong = {
    [1] = { "nonce", "uint64" },
  },
  Subscribe = {
    [1] = { "window", "uint32" },
    [2] = { "region_name", "string" },
    [3] = { "region_id", "uint32" },
    [4] = { "offset", "uint64" },
    [5] = { "size", "uint64" },
    [6] = { "replica", "bool" },
  },
  Subscribed = {
    [1] = { "window", "uint32" },
    [2] = { "status", "Status" },
    [3] = { "region_id", "uint32" },
    [4] = { "region_name", "string" },
    [5] = { "region_size", "uint64" },
    [6] = { "message", "string" },
    [7] = { "registers", "Range", true },
  },
  Range = {
    [1] = { "offset", "uint64" },
    [2] = { "length", "uint32" },
  },
  Unsubscribe = {
    [1] = { "window", "uint32" },
  },
  Write = {
    [1] = { "window", "uint32" },
    [2] = { "offset", "uint64" },
    [3] = { "length", "uint32" },
    [4] = { "wseq", "uint64" },
    [5] = { "ranges", "Range", true },
  },
  Update = {
    [1] = { "window", "uint32" },
    [2] = { "offset", "uint64" },
    [3] = { "length", "uint32" },
    [4] = { "ranges", "Range", true },
  },
  Ordered = {
    [1] = { "window", "uint32" },
    [2] = { "wseq", "uint64" },
  },
  Read = {
    [1] = { "tag", "uint32" },
    [2] = { "window", "uint32" },
    [3] = { "offset", "uint64" },
    [4] = { "length", "uint32" },
  },
  ReadCompletion = {
    [1] = { "tag", "uint32" },
    [2] = { "status", "Status" },
    [3] = { "length", "uint32" },
  },
  ErrorReport = {
    [1] = { "request", "ErrorReport.Request" },
    [2] = { "status", "Status" },
    [3] = { "window", "uint32" },
    [4] = { "wseq", "uint64" },
    [5] = { "target", "string" },
    [6] = { "message", "string" },
  },
  Doorbell = {
    [1] = { "target", "string" },
    [2] = { "value", "uint64" },
  },
  LinkEvent = {
    [1] = { "link", "string" },
    [2] = { "up", "bool" },
    [3] = { "reason", "string" },
  },
}

-- Frames that take no seq (link.proto, Sequencing).
local UNSEQUENCED = { challenge = true, hello = true, welcome = true, goodbye = true, ping = true, pong = true, batch = true }

-- ------------------------------------------------------------ fields

local f = {}
local fields = {}
local function add_field(key, field) f[key] = field; fields[#fields + 1] = field end

add_field("header_length", ProtoField.uint32("soclink.header_length", "Frame length", base.DEC))
add_field("bulk_length", ProtoField.uint32("soclink.bulk_length", "Bulk bytes", base.DEC))
add_field("type", ProtoField.string("soclink.type", "Frame type"))
add_field("seq_computed", ProtoField.uint64("soclink.record_seq", "Seq (from first_seq)"))
add_field("bulk", ProtoField.bytes("soclink.bulk", "Bulk"))
add_field("direction", ProtoField.string("soclink.direction", "Direction"))
add_field("peer", ProtoField.string("soclink.peer", "Peer link"))
add_field("c_count", ProtoField.uint32("soclink.compact.count", "Records", base.DEC))
add_field("c_ack", ProtoField.uint64("soclink.compact.ack", "Ack"))
add_field("c_first_seq", ProtoField.uint64("soclink.compact.first_seq", "First seq"))
add_field("c_kind", ProtoField.uint8("soclink.compact.kind", "Record kind", base.DEC,
  { [1] = "WRITE", [2] = "UPDATE", [3] = "ORDERED", [4] = "DOORBELL", [5] = "FRAME" }))
add_field("c_length", ProtoField.uint32("soclink.compact.frame_length", "Embedded frame length", base.DEC))

-- One ProtoField per message field: soclink.<message>.<field>.
for mname, mfields in pairs(MESSAGES) do
  for num, def in pairs(mfields) do
    local name, ftype = def[1], def[2]
    local abbr = "soclink." .. mname:lower() .. "." .. name
    local label = name .. " (" .. num .. ")"
    local pf
    if ENUMS[ftype] ~= nil then
      pf = ProtoField.uint32(abbr, label, base.DEC, ENUMS[ftype])
    elseif ftype == "uint32" then
      pf = ProtoField.uint32(abbr, label, base.DEC)
    elseif ftype == "uint64" then
      pf = ProtoField.uint64(abbr, label, base.DEC)
    elseif ftype == "bool" then
      pf = ProtoField.bool(abbr, label)
    elseif ftype == "string" then
      pf = ProtoField.string(abbr, label)
    elseif ftype == "bytes" then
      pf = ProtoField.bytes(abbr, label)
    else
      pf = ProtoField.none(abbr, label .. ": " .. ftype)
    end
    add_field(mname .. "." .. name, pf)
  end
end
soclink.fields = fields

local r = {
  src = ProtoField.uint32("rpmsg.src", "src", base.DEC),
  dst = ProtoField.uint32("rpmsg.dst", "dst", base.DEC),
  reserved = ProtoField.uint32("rpmsg.reserved", "reserved", base.HEX),
  len = ProtoField.uint16("rpmsg.len", "len", base.DEC),
  flags = ProtoField.uint16("rpmsg.flags", "flags", base.HEX),
  payload = ProtoField.bytes("rpmsg.payload", "payload"),
  text = ProtoField.string("rpmsg.text", "payload as text"),
  window_offset = ProtoField.uint64("rpmsg.window_offset", "at window offset"),
  ns_name = ProtoField.string("rpmsg.ns.name", "name"),
  ns_addr = ProtoField.uint32("rpmsg.ns.addr", "addr", base.DEC),
  ns_flags = ProtoField.uint32("rpmsg.ns.flags", "flags", base.HEX, { [0] = "RPMSG_NS_CREATE", [1] = "RPMSG_NS_DESTROY", [2] = "RPMSG_AS_ANNOUNCE (create)", [3] = "RPMSG_NS_DESTROY | RPMSG_AS_ANNOUNCE" }),
  as_name = ProtoField.string("rpmsg.as.name", "name"),
  as_dst = ProtoField.uint32("rpmsg.as.dst", "dst", base.DEC),
  as_src = ProtoField.uint32("rpmsg.as.src", "src", base.DEC),
  as_flags = ProtoField.uint32("rpmsg.as.flags", "flags", base.HEX, { [1] = "RPMSG_AS_ASSIGN", [2] = "RPMSG_AS_FREE" }),
}
rpmsg.fields = { r.src, r.dst, r.reserved, r.len, r.flags, r.payload, r.text, r.window_offset, r.ns_name, r.ns_addr, r.ns_flags, r.as_name, r.as_dst, r.as_src, r.as_flags }

local RPMSG_NS_ADDR = 53
local RPMSG_AS_ADDR = 54
local RPMSG_HDR_SIZE = 16

-- ------------------------------------------------------------ helpers

local TWO_32 = 4294967296

local function u64_of(n)
  return UInt64.new(n % TWO_32, math.floor(n / TWO_32))
end

local function le_u64(tvb, at)
  return tvb(at, 4):le_uint() + tvb(at + 4, 4):le_uint() * TWO_32
end

local function camel(name)
  return (name:gsub("^%l", string.upper):gsub("_(%l)", string.upper))
end

-- A varint at `at`, before `limit`: its value (exact below 2^53) and where it ends.
local function varint(tvb, at, limit)
  local value, mult = 0, 1
  while at < limit do
    local b = tvb(at, 1):uint()
    at = at + 1
    value = value + (b % 128) * mult
    if b < 128 then return value, at end
    mult = mult * 128
  end
  error("varint runs past the end of its message")
end

-- Decodes message `mtype` in tvb[at, at + len) under `tree`; returns its values
-- (sub-messages as tables, repeated fields as lists) and its tree item in `_tree`.
local decode_message
decode_message = function(tvb, at, len, mtype, tree)
  local defs = MESSAGES[mtype]
  local vals = { _tree = tree, _type = mtype }
  local limit = at + len
  while at < limit do
    local key, after = varint(tvb, at, limit)
    local num, wt = math.floor(key / 8), key % 8
    local def = defs[num]
    local start = at
    at = after
    local value, vrange
    if wt == 0 then
      value, at = varint(tvb, at, limit)
      vrange = tvb(start, at - start)
    elseif wt == 2 then
      local n
      n, at = varint(tvb, at, limit)
      if at + n > limit then error(mtype .. " field " .. num .. " runs past the end") end
      vrange = tvb(start, at + n - start)
      value = { at = at, len = n }
      at = at + n
    elseif wt == 1 then
      vrange = tvb(at, 8); at = at + 8
    elseif wt == 5 then
      vrange = tvb(at, 4); at = at + 4
    else
      error(mtype .. ": wire type " .. wt .. " at byte " .. start)
    end
    if def == nil then
      tree:add(vrange, "unknown field " .. num .. " (wire type " .. wt .. ")")
    else
      local name, ftype, repeated = def[1], def[2], def[3]
      local pf = f[mtype .. "." .. name]
      local v
      if MESSAGES[ftype] ~= nil then
        local sub = tree:add(pf, vrange)
        sub:set_text(name .. " (" .. num .. "): " .. ftype)
        v = decode_message(tvb, value.at, value.len, ftype, sub)
      elseif ftype == "string" then
        v = value.len > 0 and tvb(value.at, value.len):string(ENC_UTF_8) or ""
        tree:add(pf, vrange, v)
      elseif ftype == "bytes" then
        v = value.len
        if value.len > 0 then tree:add(pf, tvb(value.at, value.len)) else tree:add(pf, vrange) end
      elseif ftype == "uint64" then
        v = value
        tree:add(pf, vrange, u64_of(value))
      elseif ftype == "bool" then
        v = value ~= 0
        tree:add(pf, vrange, v)
      else
        v = value
        tree:add(pf, vrange, value)
      end
      if repeated then
        vals[name] = vals[name] or {}
        table.insert(vals[name], v)
      else
        vals[name] = v
      end
      if mtype == "Frame" and num >= 10 then vals._body = name end
    end
  end
  return vals
end

-- A Write's, Update's or ReadCompletion's bulk, in ranges: { {offset, length}, ... }; nil if none.
local function bulk_ranges(frame)
  local m = frame.write or frame.update
  if m ~= nil then
    if m.ranges ~= nil and #m.ranges > 0 then
      local out = {}
      for _, rg in ipairs(m.ranges) do out[#out + 1] = { rg.offset or 0, rg.length or 0 } end
      return out
    end
    return { { m.offset or 0, m.length or 0 } }
  end
  if frame.read_completion ~= nil then return { { nil, frame.read_completion.length or 0 } } end
  return nil
end

-- A short summary of a frame, for the Info column.
local function summary(frame)
  local body = frame._body
  if body == nil then return "Ack" end
  local m = frame[body]
  local s = camel(body)
  if body == "hello" or body == "welcome" then
    s = s .. " " .. (m.name or "") .. " " .. (ENUMS.Role[m.role or 0] or "")
  elseif body == "doorbell" then
    s = s .. " " .. (m.target or "") .. "=" .. string.format("%d", m.value or 0)
  elseif body == "write" or body == "update" then
    local n = 0
    for _, rg in ipairs(bulk_ranges(frame)) do n = n + rg[2] end
    s = s .. " w" .. (m.window or 0) .. " " .. n .. "B"
  elseif body == "link_event" then
    s = s .. " " .. (m.link or "") .. (m.up and " up" or " down")
  elseif body == "goodbye" then
    s = s .. " " .. (ENUMS["Goodbye.Code"][m.code or 0] or "") .. " " .. (m.reason or "")
  elseif body == "batch" then
    s = "Batch of " .. #(m.frames or {})
  end
  return s
end

-- ------------------------------------------------------------ rpmsg

-- Tries an rpmsg message at tvb[at, at + len), the bytes of one range at window offset `woff`.
local function try_rpmsg(tvb, at, len, woff, tree, pinfo, notes)
  if len < RPMSG_HDR_SIZE or at + RPMSG_HDR_SIZE > tvb:len() then return end
  local reserved = tvb(at + 8, 4):le_uint()
  local mlen = tvb(at + 12, 2):le_uint()
  if reserved ~= 0 or mlen == 0 then return end
  if len ~= RPMSG_HDR_SIZE and RPMSG_HDR_SIZE + mlen > len then return end
  local src, dst = tvb(at, 4):le_uint(), tvb(at + 4, 4):le_uint()
  local shown = math.min(len, RPMSG_HDR_SIZE + mlen, tvb:len() - at)
  local t = tree:add(rpmsg, tvb(at, shown))
  t:set_text(string.format("rpmsg %d -> %d, %d bytes (heuristic)", src, dst, mlen))
  if woff ~= nil then t:add(r.window_offset, tvb(at, 0), u64_of(woff)) end
  t:add_le(r.src, tvb(at, 4))
  t:add_le(r.dst, tvb(at + 4, 4))
  t:add_le(r.reserved, tvb(at + 8, 4))
  t:add_le(r.len, tvb(at + 12, 2))
  t:add_le(r.flags, tvb(at + 14, 2))
  local have = shown - RPMSG_HDR_SIZE
  local p = at + RPMSG_HDR_SIZE
  local note = string.format("rpmsg %d->%d", src, dst)
  if dst == RPMSG_NS_ADDR and mlen == 40 and have >= 40 then
    local ns = t:add(tvb(p, 40), "Name service announcement (struct rpmsg_ns_msg)")
    local name = tvb(p, 32):stringz()
    ns:add(r.ns_name, tvb(p, 32), name)
    ns:add_le(r.ns_addr, tvb(p + 32, 4))
    ns:add_le(r.ns_flags, tvb(p + 36, 4))
    note = string.format("rpmsg NS %s addr=%d flags=%d", name, tvb(p + 32, 4):le_uint(), tvb(p + 36, 4):le_uint())
  elseif dst == RPMSG_AS_ADDR and mlen == 44 and have >= 44 then
    local as = t:add(tvb(p, 44), "Address service message (struct rpmsg_as_msg)")
    local name = tvb(p, 32):stringz()
    as:add(r.as_name, tvb(p, 32), name)
    as:add_le(r.as_dst, tvb(p + 32, 4))
    as:add_le(r.as_src, tvb(p + 36, 4))
    as:add_le(r.as_flags, tvb(p + 40, 4))
    note = string.format("rpmsg AS %s dst=%d src=%d flags=%d", name, tvb(p + 32, 4):le_uint(), tvb(p + 36, 4):le_uint(), tvb(p + 40, 4):le_uint())
  elseif have > 0 then
    t:add(r.payload, tvb(p, have))
    local ok, text = pcall(function() return tvb(p, have):string(ENC_UTF_8) end)
    if ok and text:match("^[%g%s]*$") then t:add(r.text, tvb(p, have), text) end
  end
  notes[#notes + 1] = note
end

-- The bulk of `frame` at tvb[at...]; returns where it ends.
local function dissect_bulk(tvb, at, frame, pinfo, notes)
  local ranges = bulk_ranges(frame)
  if ranges == nil then return at end
  local total = 0
  for _, rg in ipairs(ranges) do total = total + rg[2] end
  local captured = math.max(0, math.min(total, tvb:len() - at))
  local tree = frame._tree
  local bt = tree:add(f.bulk, tvb(math.min(at, tvb:len()), captured))
  bt:set_text(string.format("Bulk: %d bytes%s", total, captured < total and (" (" .. captured .. " captured)") or ""))
  local p = at
  for _, rg in ipairs(ranges) do
    local woff, n = rg[1], rg[2]
    try_rpmsg(tvb, p, n, woff, bt, pinfo, notes)
    p = p + n
  end
  return at + total
end

-- ------------------------------------------------------------ packets

local function dissect_protobuf(tvb, pinfo, root, infos, notes)
  local h = tvb(0, 4):le_uint()
  root:add_le(f.header_length, tvb(0, 4))
  if 4 + h > tvb:len() then
    root:add(tvb(4), "Frame cut short by the capture's snap length")
    infos[#infos + 1] = "(cut)"
    return
  end
  local ft = root:add(tvb(4, h), "Frame")
  local frame = decode_message(tvb, 4, h, "Frame", ft)
  local frames = { frame }
  if frame.batch ~= nil then frames = frame.batch.frames or {} end
  if frame.batch ~= nil then
    ft:set_text(string.format("Frame: Batch of %d frames", #frames))
    ft:add(f.type, tvb(4, h), "batch")
  end
  local at = 4 + h
  for _, fr in ipairs(frames) do
    local name = fr._body or "ack"
    fr._tree:add(f.type, tvb(4, h), name)
    if fr ~= frame then fr._tree:set_text(summary(fr)) else ft:set_text("Frame: " .. summary(fr)) end
    infos[#infos + 1] = summary(fr)
    at = dissect_bulk(tvb, at, fr, pinfo, notes)
  end
  if tvb:len() > 4 + h then root:add_le(f.bulk_length, tvb(4 + h), tvb:len() - 4 - h) end
end

local function dissect_compact(tvb, pinfo, root, infos, notes)
  local ct = root:add(soclink, tvb(0, math.min(24, tvb:len())))
  ct:set_text("Compact packet (layout " .. (tvb(0, 4):le_uint() - 0x80000000) .. ")")
  if tvb:len() < 24 then infos[#infos + 1] = "(cut)"; return end
  local count = tvb(4, 4):le_uint()
  ct:add_le(f.c_count, tvb(4, 4))
  ct:add_le(f.c_ack, tvb(8, 8))
  ct:add_le(f.c_first_seq, tvb(16, 8))
  local seq = le_u64(tvb, 16)
  local at = 24
  local frames = {}
  for i = 1, count do
    if at + 8 > tvb:len() then root:add(tvb(at), "Records cut short by the capture's snap length"); break end
    local kind = tvb(at, 1):uint()
    local rt = root:add(soclink, tvb(at, 8))
    rt:add(f.c_kind, tvb(at, 1))
    local frame = { _tree = rt }
    local size
    if kind == 1 or kind == 2 then
      local nr = tvb(at + 2, 2):le_uint()
      local head = kind == 1 and 16 or 8
      size = head + 12 * nr
      local body = kind == 1 and "write" or "update"
      local mtype = kind == 1 and "Write" or "Update"
      local m = { window = tvb(at + 4, 4):le_uint(), ranges = {} }
      rt:add_le(f[mtype .. ".window"], tvb(at + 4, 4))
      if kind == 1 then
        m.wseq = le_u64(tvb, at + 8)
        rt:add_le(f["Write.wseq"], tvb(at + 8, 8))
      end
      for k = 0, nr - 1 do
        local p = at + head + 12 * k
        if p + 12 > tvb:len() then break end
        local rg = rt:add(f[mtype .. ".ranges"], tvb(p, 12))
        rg:set_text(string.format("Range offset %d, %d bytes", le_u64(tvb, p), tvb(p + 8, 4):le_uint()))
        rg:add_le(f["Range.offset"], tvb(p, 8))
        rg:add_le(f["Range.length"], tvb(p + 8, 4))
        m.ranges[#m.ranges + 1] = { offset = le_u64(tvb, p), length = tvb(p + 8, 4):le_uint() }
      end
      frame[body] = m
      frame._body = body
    elseif kind == 3 then
      size = 16
      frame.ordered = { window = tvb(at + 4, 4):le_uint(), wseq = le_u64(tvb, at + 8) }
      frame._body = "ordered"
      rt:add_le(f["Ordered.window"], tvb(at + 4, 4))
      rt:add_le(f["Ordered.wseq"], tvb(at + 8, 8))
    elseif kind == 4 then
      local tl = tvb(at + 2, 2):le_uint()
      size = 12 + tl
      local target = tl > 0 and tvb(at + 12, tl):string(ENC_UTF_8) or ""
      frame.doorbell = { target = target, value = le_u64(tvb, at + 4) }
      frame._body = "doorbell"
      rt:add(f["Doorbell.target"], tvb(at + 12, tl), target)
      rt:add_le(f["Doorbell.value"], tvb(at + 4, 8))
    elseif kind == 5 then
      local l = tvb(at + 4, 4):le_uint()
      size = 8 + l
      rt:add_le(f.c_length, tvb(at + 4, 4))
      local sub = decode_message(tvb, at + 8, l, "Frame", rt)
      for k, v in pairs(sub) do if k ~= "_tree" then frame[k] = v end end
    else
      rt:add(tvb(at), "unknown record kind " .. kind)
      break
    end
    rt:set_len(math.min(size, tvb:len() - at))
    local name = frame._body or "ack"
    rt:add(f.type, tvb(at, 1), name)
    if not UNSEQUENCED[name] and name ~= "ack" then
      rt:add(f.seq_computed, tvb(at, 0), u64_of(seq))
      seq = seq + 1
    end
    rt:set_text("Record " .. i .. ": " .. summary(frame))
    infos[#infos + 1] = summary(frame)
    frames[#frames + 1] = frame
    at = at + size
  end
  for _, fr in ipairs(frames) do at = dissect_bulk(tvb, at, fr, pinfo, notes) end
  if count == 0 then infos[#infos + 1] = "Ack" end
end

local interface_name = Field.new("frame.interface_name")
local interface_description = Field.new("frame.interface_description")

function soclink.dissector(tvb, pinfo, tree)
  pinfo.cols.protocol = "soclink"
  local root = tree:add(soclink, tvb())
  local peer = interface_name()
  local dir = pinfo.p2p_dir == 1 and "in" or (pinfo.p2p_dir == 0 and "out" or "?")
  root:add(f.direction, tvb(0, 0), dir)
  if peer ~= nil then root:add(f.peer, tvb(0, 0), tostring(peer)) end
  if tvb:len() < 4 then root:add(tvb(), "packet shorter than its header"); return end
  local infos, notes = {}, {}
  local ok, err = pcall(function()
    if tvb(0, 4):le_uint() >= 0x80000000 then
      dissect_compact(tvb, pinfo, root, infos, notes)
    else
      dissect_protobuf(tvb, pinfo, root, infos, notes)
    end
  end)
  if not ok and tvb:len() < tvb:reported_len() then
    root:add(tvb(), "Cut short by the capture's snap length (" .. tostring(err) .. ")")
    infos[#infos + 1] = "(cut)"
  elseif not ok then
    root:add(tvb(), "Malformed: " .. tostring(err))
    infos[#infos + 1] = "[Malformed]"
  end
  -- soclink capture names the daemon in each interface's description: "soclink link of LOCAL to PEER".
  local desc = interface_description()
  local here = desc ~= nil and tostring(desc):match("^soclink link of (.+) to .+$") or nil
  local text
  if here ~= nil and peer ~= nil and dir ~= "?" then
    pinfo.cols.src = dir == "in" and tostring(peer) or here
    pinfo.cols.dst = dir == "in" and here or tostring(peer)
    text = table.concat(infos, ", ")
  else
    local arrow = dir == "in" and "<- " or (dir == "out" and "-> " or "")
    local who = peer ~= nil and (tostring(peer) .. " ") or ""
    text = arrow .. who .. table.concat(infos, ", ")
  end
  if #notes > 0 then text = text .. " [" .. table.concat(notes, "; ") .. "]" end
  pinfo.cols.info = text
end

DissectorTable.get("wtap_encap"):add(wtap_encaps.USER0, soclink)
