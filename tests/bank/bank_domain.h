// The bank test domain's handlers (tests/bank/bank.lss): accounts, deposits, withdrawals,
// transfers, status changes and refusals, written the way a domain developer would.
#pragma once

#include "bank.schema.h"

namespace bank {

// Every command's handler.
Handlers handlers();

}  // namespace bank
