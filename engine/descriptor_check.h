// Whether a journal or a snapshot was written by domain D's schema: the one check of a
// schema descriptor (schema/descriptor.h) against a domain's, used by the engine's open,
// re-execution, the snapshot load and lockstep-replay.
#pragma once

#include <cstddef>
#include <cstring>
#include <span>
#include <string>
#include <string_view>

namespace lockstep {

// True if `descriptor` is domain D's, byte for byte.
template <class D>
bool is_descriptor_of(std::span<const std::byte> descriptor) noexcept {
  const auto mine = D::descriptor();
  return descriptor.size() == mine.size() &&
         (mine.empty() || std::memcmp(descriptor.data(), mine.data(), mine.size()) == 0);
}

// "" if `descriptor` is domain D's; else why not, with `what` (the file or "the journal")
// as the subject.
template <class D>
std::string check_descriptor(std::span<const std::byte> descriptor, std::string_view what) {
  if (is_descriptor_of<D>(descriptor)) return {};
  return std::string(what) + " was written by another schema than domain '" +
         std::string(D::kName) + "' version " + std::to_string(D::kVersion);
}

}  // namespace lockstep
