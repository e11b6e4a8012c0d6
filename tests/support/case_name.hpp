#pragma once
// Table-driven tests name each generated case after its row's `name` field, so ctest lists
// "Accepted/DotSegments" rather than "Accepted/17".

#include <gtest/gtest.h>

#include <string>

namespace bulwark::testing_support {

template <typename Case>
std::string case_name(const testing::TestParamInfo<Case>& info) {
  return std::string(info.param.name);
}

}  // namespace bulwark::testing_support
