#include "snapshot/snapshot.h"

#include <algorithm>

#include "snapshot/codec.h"

namespace lockstep::snapshot {

using namespace codec;

// ---- the directory -----------------------------------------------------------------------

SnapshotStatus list_snapshots(journal::IoBackend& io,
                              std::vector<std::pair<std::uint64_t, std::string>>* out) {
  out->clear();
  std::vector<std::string> names;
  if (journal::IoStatus s = io.list(&names); !s) return SnapshotStatus::io(s);
  for (std::string& name : names) {
    if (const std::optional<std::uint64_t> seq = parse_snapshot_file_name(name)) {
      out->emplace_back(*seq, std::move(name));
    }
  }
  std::sort(out->begin(), out->end());
  return {};
}

SnapshotStatus prune_snapshots(journal::IoBackend& io, std::size_t keep) {
  std::vector<std::string> names;
  if (journal::IoStatus s = io.list(&names); !s) return SnapshotStatus::io(s);
  std::vector<std::pair<std::uint64_t, std::string>> snapshots;
  std::vector<std::string> doomed;
  for (std::string& name : names) {
    const std::string_view n = name;
    if (const std::optional<std::uint64_t> seq = parse_snapshot_file_name(n)) {
      snapshots.emplace_back(*seq, std::move(name));
    } else if (n.ends_with(kSnapshotTempSuffix) &&
               parse_snapshot_file_name(n.substr(0, n.size() - kSnapshotTempSuffix.size()))) {
      doomed.push_back(std::move(name));
    }
  }
  std::sort(snapshots.begin(), snapshots.end());
  const std::size_t excess = snapshots.size() > keep ? snapshots.size() - keep : 0;
  for (std::size_t i = 0; i < excess; ++i) doomed.push_back(std::move(snapshots[i].second));
  for (const std::string& name : doomed) {
    if (journal::IoStatus s = io.remove(name); !s) return SnapshotStatus::io(s);
  }
  if (journal::IoStatus s = io.sync_directory(); !s) return SnapshotStatus::io(s);
  return {};
}

}  // namespace lockstep::snapshot
