#include "fuzz/disk_image.h"

#include <algorithm>

#include "base/assert.h"
#include "journal/segment_header.h"

namespace lockstep::fuzz {
namespace {

// Names above the segment range: a snapshot, temporary files, a name that looks like a
// segment but is not one, and segments whose first sequence is far from any other.
constexpr std::array<std::string_view, 6> kOtherNames = {
    "snapshot-00000000000000000000.lsnap",
    "00000000000000000000.lsj.tmp",
    "0000000000000000000x.lsj",
    "99999999999999999999.lsj",  // over 2^64: not a segment name
    "18446744073709551615.lsj",  // the largest first sequence
    "00000000004294967296.lsj",
};

// The offset of the first separator in `bytes`, or bytes.size().
std::size_t find_separator(std::span<const std::byte> bytes) {
  return static_cast<std::size_t>(
      std::search(bytes.begin(), bytes.end(), kSeparator.begin(), kSeparator.end()) -
      bytes.begin());
}

}  // namespace

std::string disk_file_name(std::uint8_t name_byte) {
  if (name_byte < kSegmentNameCount) return journal::segment_file_name(name_byte);
  return std::string(kOtherNames[(name_byte - kSegmentNameCount) % kOtherNames.size()]);
}

std::optional<std::uint8_t> disk_name_byte(std::string_view name) {
  for (unsigned b = 0; b <= 0xFF; ++b) {
    if (disk_file_name(static_cast<std::uint8_t>(b)) == name) return static_cast<std::uint8_t>(b);
  }
  return std::nullopt;
}

DiskImage decode_disk_image(std::span<const std::byte> input) {
  DiskImage image;
  if (input.empty()) return image;
  image.control = static_cast<std::uint8_t>(input[0]);
  std::span<const std::byte> rest = input.subspan(1);
  while (!rest.empty()) {
    DiskFile file;
    file.name = disk_file_name(static_cast<std::uint8_t>(rest[0]));
    rest = rest.subspan(1);
    const std::size_t end =
        image.files.size() + 1 == kFilesMax ? rest.size() : find_separator(rest);
    file.bytes.assign(rest.begin(), rest.begin() + static_cast<std::ptrdiff_t>(end));
    image.files.push_back(std::move(file));
    if (end == rest.size()) break;
    rest = rest.subspan(end + kSeparator.size());
  }
  return image;
}

std::optional<std::vector<std::byte>> encode_disk_image(const DiskImage& image) {
  if (image.files.size() > kFilesMax) return std::nullopt;
  std::vector<std::byte> out{std::byte{image.control}};
  for (std::size_t i = 0; i < image.files.size(); ++i) {
    const DiskFile& f = image.files[i];
    const std::optional<std::uint8_t> name = disk_name_byte(f.name);
    const bool last = i + 1 == image.files.size();
    if (!name || (!last && find_separator(f.bytes) != f.bytes.size())) {
      return std::nullopt;
    }
    if (i > 0) out.insert(out.end(), kSeparator.begin(), kSeparator.end());
    out.push_back(std::byte{*name});
    out.insert(out.end(), f.bytes.begin(), f.bytes.end());
  }
  return out;
}

void load_disk_image(const DiskImage& image, journal::MemoryDisk& disk) {
  for (const DiskFile& f : image.files) {
    journal::FileHandle handle = 0;
    LS_ASSERT(disk.open(f.name, {.create = true}, &handle).is_ok());
    LS_ASSERT(disk.truncate(handle, 0).is_ok());
    if (!f.bytes.empty()) LS_ASSERT(disk.write_and_sync(handle, 0, f.bytes).is_ok());
    LS_ASSERT(disk.close(handle).is_ok());
  }
  LS_ASSERT(disk.sync_directory().is_ok());
}

}  // namespace lockstep::fuzz
