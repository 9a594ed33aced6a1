#include "replay/replay.h"

#include <cstring>
#include <utility>

#include "journal/format.h"
#include "journal/posix_backend.h"
#include "journal/segment_header.h"
#include "schema/descriptor.h"
#include "schema/json.h"

namespace lockstep::replay {

bool open_directory(const std::string& path, std::unique_ptr<journal::IoBackend>* out,
                    std::string* error) {
  std::unique_ptr<journal::PosixBackend> b;
  if (journal::IoStatus s = journal::PosixBackend::open_directory(path, false, 1, &b); !s) {
    *error = "cannot open journal directory " + path + ": " + s.message();
    return false;
  }
  *out = std::move(b);
  return true;
}

std::string where(const JournalEntry& e) {
  return "sequence " + std::to_string(e.sequence) + " (" + e.segment + ", frame at offset " +
         std::to_string(e.frame_offset) + ")";
}

bool read_journal_head(journal::IoBackend& io, JournalHead* out, std::string* error) {
  std::vector<std::string> names;
  if (journal::IoStatus s = io.list(&names); !s) {
    *error = "cannot list the journal directory: " + s.message();
    return false;
  }
  std::optional<std::uint64_t> first;
  for (const std::string& n : names) {
    const auto seq = journal::parse_segment_file_name(n);
    if (seq && (!first || *seq < *first)) first = seq;
  }
  if (!first) {
    *error = "empty journal: the directory has no segment (*.lsj)";
    return false;
  }
  out->first_segment = journal::segment_file_name(*first);
  journal::FileHandle f = 0;
  if (journal::IoStatus s = io.open(out->first_segment, {}, &f); !s) {
    *error = s.message();
    return false;
  }
  std::vector<std::byte> head(journal::segment_header_bytes(journal::kDescriptorBytesMax));
  std::size_t got = 0;
  journal::IoStatus rs = io.read(f, 0, head, &got);
  (void)io.close(f);
  if (!rs) {
    *error = rs.message();
    return false;
  }
  head.resize(got);
  const journal::DecodedSegmentHeader h = journal::decode_segment_header(head);
  if (h.status != journal::SegmentHeaderStatus::kOk) {
    *error = out->first_segment + " at offset 0: bad segment header: " + journal::describe(h);
    return false;
  }
  out->descriptor = h.header.descriptor;
  out->flags = h.header.flags;
  out->first_sequence = h.header.first_sequence;
  return true;
}

bool domain_of(std::span<const std::byte> descriptor, schema::Domain* out, std::string* error) {
  if (descriptor.empty()) {
    *error = "the journal has no segment, so no schema: nothing to read";
    return false;
  }
  std::string why;
  if (!schema::decode_descriptor(descriptor, out, &why)) {
    *error = "the journal's schema descriptor does not decode: " + why;
    return false;
  }
  return true;
}

namespace {

std::string hex(std::span<const std::byte> b) { return schema::to_hex(b); }

// `s` decoded, or {"undecodable":"<hex>","why":"..."}.
std::string struct_json(const schema::Domain& d, const schema::Struct* s,
                        std::span<const std::byte> bytes) {
  std::string out;
  std::string why = "not in the schema";
  if (s != nullptr && bytes.size() == s->size && schema::to_json(d, *s, bytes, &out, &why)) {
    return out;
  }
  if (s != nullptr && bytes.size() != s->size) {
    why = std::to_string(bytes.size()) + " bytes, " + s->name + " has " + std::to_string(s->size);
  }
  std::string q;
  for (const char c : why) {
    if (c == '"' || c == '\\') q += '\\';
    q += c;
  }
  return "{\"undecodable\":\"" + hex(bytes) + "\",\"why\":\"" + q + "\"}";
}

}  // namespace

std::string event_name(const schema::Domain& d, std::uint16_t kind) {
  const schema::Struct* s = d.find_event(kind);
  return s ? s->name : "kind_" + std::to_string(kind);
}

std::string event_fields_json(const schema::Domain& d, const TxEventView& e) {
  return struct_json(d, d.find_event(e.kind), e.bytes);
}

std::string events_json(const schema::Domain& d, const TxResultView& r) {
  std::string o = "[";
  for (std::size_t i = 0; i < r.events.size(); ++i) {
    const TxEventView& e = r.events[i];
    if (i > 0) o += ',';
    o += "{\"kind\":\"" + event_name(d, e.kind) + "\",\"event\":" + event_fields_json(d, e) + "}";
  }
  return o + "]";
}

std::string result_json(const schema::Domain& d, const TxResultView& r) {
  std::string o = "{\"sequence\":" + std::to_string(r.command_sequence) +
                  ",\"tx_sequence\":" + std::to_string(r.tx_sequence) +
                  ",\"time_ns\":" + std::to_string(r.logical_time_ns) +
                  ",\"client_id\":" + std::to_string(r.client_id) +
                  ",\"request_id\":" + std::to_string(r.request_id);
  const schema::Struct* c = d.find_command(r.command_kind);
  o += ",\"kind\":\"" + (c ? c->name : "kind_" + std::to_string(r.command_kind)) + "\"";
  o += ",\"command\":" + struct_json(d, c, r.command);
  o += ",\"outcome\":\"" + outcome_name(d, r.outcome.code()) + "\"";
  if (!r.outcome.is_ok()) o += ",\"detail\":" + std::to_string(r.outcome.detail());
  if ((r.flags & kTxFlagLinked) != 0) o += ",\"linked\":true";
  o += ",\"writes\":[";
  for (std::size_t i = 0; i < r.writes.size(); ++i) {
    const TxWriteView& w = r.writes[i];
    const schema::Struct* t = w.table < d.records.size() ? &d.records[w.table] : nullptr;
    if (i > 0) o += ',';
    o += "{\"op\":\"" + std::string(w.op == kWriteUpsert ? "upsert" : "erase") + "\",\"table\":\"" +
         (t ? t->name : "table_" + std::to_string(w.table)) + "\",";
    if (w.op == kWriteUpsert) {
      o += "\"record\":" + struct_json(d, t, w.bytes) + "}";
    } else {
      std::string k;
      std::string why;
      if (t == nullptr || !key_to_json(d, *t, w.bytes, &k, &why)) {
        k = "{\"undecodable\":\"" + hex(w.bytes) + "\"}";
      }
      o += "\"key\":" + k + "}";
    }
  }
  o += "],\"events\":" + events_json(d, r);
  if (r.has_state_hash) {
    o += ",\"state_hash\":{\"hi\":" + std::to_string(r.state_hash.hi) +
         ",\"lo\":" + std::to_string(r.state_hash.lo) +
         ",\"records\":" + std::to_string(r.state_hash.records) + "}";
  }
  o += "}";
  return o;
}

bool snapshot_fits_journal(journal::IoBackend& io, const std::string& name,
                           const snapshot::SnapshotHeader& h, std::string* why) {
  if (h.next_sequence == 0) return true;
  journal::RecoveryReport report;
  const journal::RecoveryStatus s = journal::recover_journal(io, journal::RecoveryMode::kVerifyOnly,
                                                             &report, {}, h.next_sequence);
  if (!s.is_ok()) {
    *why = name + ": the journal after it cannot be read: " + s.message();
    return false;
  }
  if (report.tail.next_sequence < h.next_sequence) {
    *why = name + ": the journal ends at sequence " + std::to_string(report.tail.next_sequence) +
           ", before the snapshot's " + std::to_string(h.next_sequence);
    return false;
  }
  if (!report.boundary_found || report.boundary_chain != h.chain) {
    *why = name + ": the journal's chain hash at sequence " + std::to_string(h.next_sequence) +
           " is not the snapshot's (another history, or not a frame boundary)";
    return false;
  }
  return true;
}

bool DeltaReplay::load_snapshot(journal::IoBackend& io, const std::string& name,
                                std::string* error) {
  std::unique_ptr<snapshot::SnapshotReader> reader;
  if (snapshot::SnapshotStatus s = snapshot::SnapshotReader::open(io, name, &reader); !s.is_ok()) {
    *error = s.message();
    return false;
  }
  const snapshot::SnapshotHeader& h = reader->header();
  const std::vector<std::byte> ours = schema::encode_descriptor(state_.domain());
  if (h.descriptor != ours) {
    *error = name + ": written by another schema than the journal's";
    return false;
  }
  if (!snapshot_fits_journal(io, name, h, error)) return false;
  std::string bad;
  const snapshot::SnapshotStatus s = reader->read(
      [&](const snapshot::ClientRecord& x) {
        sessions_[x.client_id] = {x.request_id, x.sequence};
      },
      [&](std::uint16_t table, std::span<const std::byte> image) {
        if (bad.empty() && !state_.insert(table, image, &bad)) bad = name + ": " + bad;
      });
  if (!s.is_ok()) {
    *error = s.message();
    return false;
  }
  if (!bad.empty()) {
    *error = bad;
    return false;
  }
  if (!(state_.hash() == h.state_hash)) {
    *error = name + ": its records do not hash to the state hash in its header";
    return false;
  }
  next_sequence_ = h.next_sequence;
  tx_sequence_ = h.tx_sequence;
  last_time_ = h.last_logical_time_ns;
  chain_ = h.chain;
  any_ = h.next_sequence > 0;
  at_frame_end_ = true;
  snapshot_ = h;
  return true;
}

bool DeltaReplay::apply(const JournalEntry& e, std::string* error) {
  const auto fail = [&](const std::string& what) {
    *error = where(e) + ": " + what;
    return false;
  };
  if (e.sequence != next_sequence_) {
    return fail("expected sequence " + std::to_string(next_sequence_));
  }
  std::string why;
  if (!decode_tx_result(e.bytes, &last_, &why)) return fail("the TxResult does not decode: " + why);
  const TxResultView& r = last_;
  if (r.command_sequence != e.sequence) {
    return fail("the TxResult says it is sequence " + std::to_string(r.command_sequence));
  }
  if (any_ && r.logical_time_ns <= last_time_) {
    return fail("logical time " + std::to_string(r.logical_time_ns) +
                " does not increase (the previous command's is " + std::to_string(last_time_) +
                ")");
  }
  const bool ok = r.outcome.is_ok();
  const std::uint64_t want_tx = tx_sequence_ + (ok ? 1 : 0);
  if (r.tx_sequence != want_tx) {
    return fail("transaction sequence " + std::to_string(r.tx_sequence) + ", expected " +
                std::to_string(want_tx) + " (" + (ok ? "a committed" : "a refused") +
                " result after " + std::to_string(tx_sequence_) + " committed)");
  }
  if (!ok && (!r.writes.empty() || !r.events.empty())) {
    return fail("a refused result (" + outcome_name(state_.domain(), r.outcome.code()) +
                ") carries writes or events");
  }
  if (!state_.apply(r, &why)) return fail(why);
  const bool linked = (r.flags & kTxFlagLinked) != 0;
  const bool batch_end = (r.flags & kTxFlagBatchEnd) != 0;
  if (r.has_state_hash) {
    if (!(r.state_hash == state_.hash())) {
      return fail("the recorded state hash differs from the one the deltas produce");
    }
    ++hashes_checked_;
  }
  if (linked && batch_end) return fail("a linked chain is left open at its batch's end");
  if (e.last_in_frame && linked) return fail("a linked chain is split across frames");
  in_chain_ = linked;
  if (r.client_id != 0) sessions_[r.client_id] = {r.request_id, r.command_sequence};
  next_sequence_ = e.sequence + 1;
  tx_sequence_ = r.tx_sequence;
  last_time_ = r.logical_time_ns;
  any_ = true;
  at_frame_end_ = e.last_in_frame;
  if (e.last_in_frame) chain_ = e.frame_chain;
  ++entries_;
  (ok ? committed_ : refused_) += 1;
  return true;
}

bool DeltaReplay::write_snapshot(journal::IoBackend& io, std::uint32_t journal_flags,
                                 std::span<const std::byte> descriptor, std::string* name,
                                 std::string* error) const {
  if (!at_frame_end_) {
    *error = "a snapshot must end at a frame's end";
    return false;
  }
  snapshot::SnapshotHeader h;
  h.next_sequence = next_sequence_;
  h.tx_sequence = tx_sequence_;
  h.last_logical_time_ns = last_time_;
  h.state_hash = state_.hash();
  h.chain = chain_;
  h.journal_flags = journal_flags;
  h.descriptor.assign(descriptor.begin(), descriptor.end());
  std::unique_ptr<snapshot::SnapshotWriter> w;
  snapshot::SnapshotStatus s = snapshot::SnapshotWriter::begin(io, h, &w);
  for (const auto& [client, x] : sessions_) {
    if (!s.is_ok()) break;
    s = w->add_session({client, x.request_id, x.sequence});
  }
  const auto& records = state_.domain().records;
  for (std::size_t t = 0; t < records.size() && s.is_ok(); ++t) {
    if (state_.records(static_cast<std::uint16_t>(t)) == 0) continue;
    s = w->begin_table(static_cast<std::uint16_t>(t), records[t].size);
    state_.for_each(static_cast<std::uint16_t>(t),
                    [&](std::string_view, std::span<const std::byte> image) {
                      if (s.is_ok()) s = w->add_record(image);
                    });
  }
  if (s.is_ok()) s = w->finish();
  if (!s.is_ok()) {
    *error = s.message();
    return false;
  }
  *name = snapshot::snapshot_file_name(next_sequence_);
  return true;
}

std::unique_ptr<DeltaReplay> start_replay(journal::IoBackend& io, const schema::Domain& domain,
                                          std::optional<std::uint64_t> at_most,
                                          std::vector<std::string>* skipped) {
  if (at_most) {
    std::vector<std::pair<std::uint64_t, std::string>> all;
    if (snapshot::SnapshotStatus s = snapshot::list_snapshots(io, &all); !s.is_ok()) {
      skipped->push_back(s.message());
      all.clear();
    }
    for (auto it = all.rbegin(); it != all.rend(); ++it) {
      if (it->first > *at_most) continue;
      auto replay = std::make_unique<DeltaReplay>(domain);
      std::string error;
      if (replay->load_snapshot(io, it->second, &error)) return replay;
      skipped->push_back(error);
    }
  }
  return std::make_unique<DeltaReplay>(domain);
}

}  // namespace lockstep::replay
