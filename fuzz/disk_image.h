// DiskImage: a journal directory as one byte string, the input of fuzz_recovery (and of the
// seeds lockstep-fuzz-seeds writes for it).
//
//   image = control name body { separator name body }
//
// - control: one byte the target reads as it likes (fuzz_recovery: the sequence to read
//   and recover from);
// - name: one byte choosing the file's name: below kSegmentNameCount, the segment file of
//   that first sequence (segment_file_name(name)); otherwise one of a few names that are
//   not segments, or are segments far away (kOtherNames);
// - separator: kSeparator. There are at most kFilesMax files: a separator after the last
//   one is part of its body; a separator at the very end adds no file.
//
// A separator rather than lengths, so that a mutation inside one file leaves the others
// where they were. A later file of the same name replaces an earlier one.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "journal/memory_disk.h"

namespace lockstep::fuzz {

struct DiskFile {
  std::string name;
  std::vector<std::byte> bytes;
};

struct DiskImage {
  std::uint8_t control = 0;
  std::vector<DiskFile> files;
};

inline constexpr std::size_t kFilesMax = 4;
inline constexpr std::array<std::byte, 8> kSeparator = {
    std::byte{0xF5}, std::byte{'|'}, std::byte{'f'}, std::byte{'i'},
    std::byte{'l'},  std::byte{'e'}, std::byte{'|'}, std::byte{0x5F}};
// Name bytes below this are segment names.
inline constexpr std::uint8_t kSegmentNameCount = 0xF0;

// The name a name byte stands for.
std::string disk_file_name(std::uint8_t name_byte);
// The name byte of `name`, or nothing if no byte stands for it.
std::optional<std::uint8_t> disk_name_byte(std::string_view name);

DiskImage decode_disk_image(std::span<const std::byte> input);
// The image's bytes; nothing if a file's name has no name byte, more than kFilesMax files,
// or a body (not the last) that holds the separator.
std::optional<std::vector<std::byte>> encode_disk_image(const DiskImage& image);

// Creates every file of the image on `disk`, with its bytes, durable.
void load_disk_image(const DiskImage& image, journal::MemoryDisk& disk);

}  // namespace lockstep::fuzz
