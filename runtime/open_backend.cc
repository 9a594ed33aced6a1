#include <memory>
#include <string>

#include "journal/uring_backend.h"
#include "runtime/open_journal.h"

namespace lockstep {

std::unique_ptr<journal::IoBackend> open_journal_directory(const std::string& dir,
                                                           std::size_t depth, std::string* note) {
  std::unique_ptr<journal::IoBackend> io;
  const journal::IoStatus st =
      journal::open_io_backend(dir, /*create_directory=*/true, depth, &io, note);
  if (!st.is_ok())
    throw_engine_open_error("engine: cannot open journal directory: " + st.message());
  return io;
}

}  // namespace lockstep
