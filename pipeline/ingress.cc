#include "pipeline/ingress.h"

namespace lockstep {

std::string_view to_string(SubmitStatus status) noexcept {
  switch (status) {
    case SubmitStatus::kOk: return "ok";
    case SubmitStatus::kBusy: return "busy";
    case SubmitStatus::kTimedOut: return "timed out";
  }
  return "?";
}

}  // namespace lockstep
