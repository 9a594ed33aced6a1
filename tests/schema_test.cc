// The schema parser, layout and descriptor: good schemas, and bad ones with their errors.
#include <gtest/gtest.h>

#include "schema/descriptor.h"
#include "schema/parser.h"

namespace {

using lockstep::schema::parse;

TEST(Schema, TheBankSchemaParses) {
  const auto r = lockstep::schema::parse_file(LOCKSTEP_BANK_SCHEMA);
  ASSERT_TRUE(r.ok()) << r.error_text();
  EXPECT_EQ(r.domain.name, "bank");
  EXPECT_EQ(r.domain.records.size(), 2u);
}

}  // namespace
