#include "journal/io_status.h"

#include <cerrno>
#include <cstring>

#include "base/assert.h"

namespace lockstep::journal {
namespace {

std::string_view errno_name(int e) noexcept {
  switch (e) {
    case EIO: return "EIO";
    case ENOSPC: return "ENOSPC";
    case EBADF: return "EBADF";
    case EINVAL: return "EINVAL";
    case ENOENT: return "ENOENT";
    case EEXIST: return "EEXIST";
    case EACCES: return "EACCES";
    case EROFS: return "EROFS";
    case EDQUOT: return "EDQUOT";
    case EFBIG: return "EFBIG";
    case ECANCELED: return "ECANCELED";
    case ENOMEM: return "ENOMEM";
    default: return "";
  }
}

}  // namespace

IoStatus IoStatus::error(int error_code, std::string_view operation, std::string_view file,
                         std::uint64_t offset) {
  LS_ASSERT(error_code > 0);
  IoStatus s;
  s.error_code_ = error_code;
  s.operation_ = operation;
  s.file_ = file;
  s.offset_ = offset;
  return s;
}

std::string IoStatus::message() const {
  if (is_ok()) return "ok";
  std::string out = operation_;
  if (!file_.empty()) out += " of " + file_;
  out += " at offset " + std::to_string(offset_) + " failed: ";
  out += std::strerror(error_code_);
  if (const std::string_view name = errno_name(error_code_); !name.empty()) {
    out += " (";
    out += name;
    out += ")";
  }
  return out;
}

}  // namespace lockstep::journal
