#include "pipeline/claim.h"

namespace lockstep {

std::string_view to_string(ClaimStatus status) noexcept {
  switch (status) {
    case ClaimStatus::kOk: return "ok";
    case ClaimStatus::kFull: return "full";
    case ClaimStatus::kTimedOut: return "timed out";
    case ClaimStatus::kHalted: return "halted";
  }
  return "?";
}

std::string_view to_string(WaitStatus status) noexcept {
  switch (status) {
    case WaitStatus::kOk: return "ok";
    case WaitStatus::kTimedOut: return "timed out";
    case WaitStatus::kAlerted: return "alerted";
  }
  return "?";
}

}  // namespace lockstep
