// IoStatus: the outcome of one I/O operation. Either ok, or the errno together with the
// operation, the file and the byte offset it concerned, so every journal error can say
// exactly where and what (docs/journal-format.md; STYLE: errors that say where).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace lockstep::journal {

class [[nodiscard]] IoStatus {
 public:
  IoStatus() = default;  // ok
  static IoStatus ok() noexcept { return {}; }
  static IoStatus error(int error_code, std::string_view operation, std::string_view file,
                        std::uint64_t offset);

  bool is_ok() const noexcept { return error_code_ == 0; }
  explicit operator bool() const noexcept { return is_ok(); }
  int error_code() const noexcept { return error_code_; }
  const std::string& operation() const noexcept { return operation_; }
  const std::string& file() const noexcept { return file_; }
  std::uint64_t offset() const noexcept { return offset_; }

  // "fdatasync of 00000000000000000000.lsj at offset 8192 failed: Input/output error (EIO)"
  std::string message() const;

 private:
  int error_code_ = 0;
  std::string operation_;
  std::string file_;
  std::uint64_t offset_ = 0;
};

}  // namespace lockstep::journal
