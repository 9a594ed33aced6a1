#include "fuzz/fuzz_domains.h"

#include <cstdio>
#include <cstdlib>
#include <string>

#include "bank.schema.h"
#include "every_type.schema.h"
#include "schema/descriptor.h"

namespace lockstep::fuzz {
namespace {

FuzzDomain decoded(std::string_view label, std::span<const std::byte> descriptor) {
  FuzzDomain d;
  d.label = label;
  std::string error;
  if (!schema::decode_descriptor(descriptor, &d.domain, &error)) {
    std::fprintf(stderr, "the %.*s descriptor does not decode: %s\n",
                 static_cast<int>(label.size()), label.data(), error.c_str());
    std::abort();
  }
  return d;
}

std::vector<FuzzDomain> make_domains() {
  std::vector<FuzzDomain> all;
  all.push_back(decoded("bank", bank::Domain::descriptor()));
  all.push_back(decoded("every_type", every_type::Domain::descriptor()));
  // Pointers into the final vector's domains.
  for (FuzzDomain& d : all) {
    for (const auto* list : {&d.domain.records, &d.domain.commands, &d.domain.events}) {
      for (const schema::Struct& s : *list) d.structs.push_back(&s);
    }
  }
  return all;
}

}  // namespace

const std::vector<FuzzDomain>& fuzz_domains() {
  static const std::vector<FuzzDomain> domains = make_domains();
  return domains;
}

JsonInput decode_json_input(std::span<const std::byte> input) {
  std::uint8_t prefix[kJsonPrefixBytes] = {};
  for (std::size_t i = 0; i < kJsonPrefixBytes && i < input.size(); ++i) {
    prefix[i] = std::to_integer<std::uint8_t>(input[i]);
  }
  const std::vector<FuzzDomain>& domains = fuzz_domains();
  JsonInput in;
  in.mode = static_cast<JsonMode>(prefix[0] % kJsonModes);
  in.domain = &domains[prefix[1] % domains.size()];
  in.s = in.domain->structs[prefix[2] % in.domain->structs.size()];
  if (input.size() > kJsonPrefixBytes) in.body = input.subspan(kJsonPrefixBytes);
  return in;
}

std::vector<std::byte> encode_json_input(JsonMode mode, std::size_t domain, std::size_t s,
                                         std::span<const std::byte> body) {
  std::vector<std::byte> out = {static_cast<std::byte>(mode), static_cast<std::byte>(domain),
                                static_cast<std::byte>(s)};
  out.insert(out.end(), body.begin(), body.end());
  return out;
}

}  // namespace lockstep::fuzz
