// Opening a journal directory for the engine (apart from runtime/engine.h: liburing's
// headers define BLOCK_SIZE, which moodycamel's queue, included by the engine, uses as a
// name).
#pragma once

#include <cstddef>
#include <memory>
#include <string>

#include "journal/io_backend.h"

namespace lockstep {

// Throws EngineOpenError (runtime/engine.h) with `what`.
[[noreturn]] void throw_engine_open_error(const std::string& what);

// Opens (creating if missing) a journal directory through io_uring, or through POSIX
// writes where io_uring is refused (*note says which and why). Throws EngineOpenError.
std::unique_ptr<journal::IoBackend> open_journal_directory(const std::string& dir,
                                                           std::size_t depth, std::string* note);

}  // namespace lockstep
