// CIDR networks and addresses: both families in the one IPv4-mapped IPv6 form.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "config/units.hpp"

namespace bulwark::config {
namespace {

using ::testing::HasSubstr;

template <class Case>
std::string case_name(const ::testing::TestParamInfo<Case>& info) {
  return info.param.name;
}

std::array<uint8_t, 16> address(std::string_view text) {
  const auto parsed = parse_ip_address(text);
  EXPECT_TRUE(parsed.has_value()) << text;
  return parsed.value_or(std::array<uint8_t, 16>{});
}

IpNetwork network(std::string_view text) {
  std::string why;
  const auto parsed = parse_ip_network(text, &why);
  EXPECT_TRUE(parsed.has_value()) << text << ": " << why;
  return parsed.value_or(IpNetwork{});
}

// --- Addresses ------------------------------------------------------------------------------

TEST(IpAddress, Ipv4IsStoredMapped) {
  const std::array<uint8_t, 16> expected{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 10, 1, 2, 3};
  EXPECT_EQ(address("10.1.2.3"), expected);
}

TEST(IpAddress, MappedIpv6EqualsIpv4) {
  EXPECT_EQ(address("::ffff:10.1.2.3"), address("10.1.2.3"));
}

TEST(IpAddress, Ipv6IsStoredAsIs) {
  const std::array<uint8_t, 16> expected{0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0,
                                         0,    0,    0,    0,    0, 0, 0, 1};
  EXPECT_EQ(address("2001:db8::1"), expected);
}

TEST(IpAddress, SurroundingSpacesIgnored) {
  EXPECT_EQ(address(" 10.1.2.3\t"), address("10.1.2.3"));
}

TEST(IpAddress, RefusesWhatIsNotALiteralAddress) {
  for (const char* text :
       {"", "1.2.3", "1.2.3.4.5", "256.0.0.1", "01.2.3.4", "0x1.2.3.4", "1::2::3", "fe80::1%eth0",
        "[::1]", "1.2.3.4/32", "example.com", "1.2.3.4:80", "1. 2.3.4"}) {
    EXPECT_FALSE(parse_ip_address(text).has_value()) << text;
  }
}

// --- Networks -------------------------------------------------------------------------------

struct NetworkCase {
  std::string name;
  std::string text;
  std::string address;  // the expected network address, as parse_ip_address reads it
  unsigned prefix_bits;
};

void PrintTo(const NetworkCase& c, std::ostream* os) {
  *os << c.name;
}

class NetworkAccepted : public ::testing::TestWithParam<NetworkCase> {};

TEST_P(NetworkAccepted, Parses) {
  const IpNetwork parsed = network(GetParam().text);
  EXPECT_EQ(parsed.address, address(GetParam().address));
  EXPECT_EQ(parsed.prefix_bits, GetParam().prefix_bits);
}

INSTANTIATE_TEST_SUITE_P(
    Networks, NetworkAccepted,
    ::testing::Values(NetworkCase{"Ipv4PrefixCountsOnMappedForm", "10.0.0.0/8", "10.0.0.0", 104},
                      NetworkCase{"Ipv4BareAddressIsSlash32", "192.168.1.10", "192.168.1.10", 128},
                      NetworkCase{"Ipv4Slash32", "192.168.1.10/32", "192.168.1.10", 128},
                      NetworkCase{"Ipv4Everything", "0.0.0.0/0", "0.0.0.0", 96},
                      NetworkCase{"Ipv4PartialByte", "192.168.1.128/25", "192.168.1.128", 121},
                      NetworkCase{"Ipv6", "2001:db8::/32", "2001:db8::", 32},
                      NetworkCase{"Ipv6BareAddressIsSlash128", "::1", "::1", 128},
                      NetworkCase{"Ipv6Everything", "::/0", "::", 0},
                      NetworkCase{"Ipv6MappedForm", "::ffff:10.0.0.0/104", "10.0.0.0", 104},
                      NetworkCase{"SurroundingSpacesIgnored", " 10.0.0.0/8 ", "10.0.0.0", 104}),
    case_name<NetworkCase>);

TEST(Network, MappedFormEqualsIpv4Form) {
  EXPECT_EQ(network("::ffff:10.0.0.0/104"), network("10.0.0.0/8"));
}

struct NetworkRefusal {
  std::string name;
  std::string text;
  std::vector<std::string> hints;
};

void PrintTo(const NetworkRefusal& c, std::ostream* os) {
  *os << c.name;
}

class NetworkRefused : public ::testing::TestWithParam<NetworkRefusal> {};

TEST_P(NetworkRefused, ExplainsWhy) {
  std::string why;
  EXPECT_FALSE(parse_ip_network(GetParam().text, &why).has_value());
  for (const std::string& hint : GetParam().hints) EXPECT_THAT(why, HasSubstr(hint));
}

INSTANTIATE_TEST_SUITE_P(
    Networks, NetworkRefused,
    ::testing::Values(
        NetworkRefusal{
            "Ipv4HostBitsSet", "10.0.0.1/8", {"host bits", "did you mean '10.0.0.0/8'?"}},
        NetworkRefusal{
            "Ipv4HostBitsInPartialByte", "192.168.1.130/25", {"did you mean '192.168.1.128/25'?"}},
        NetworkRefusal{
            "Ipv6HostBitsSet", "2001:db8::1/32", {"host bits", "did you mean '2001:db8::/32'?"}},
        NetworkRefusal{"Ipv4PrefixTooLong", "10.0.0.0/33", {"from 0 to 32"}},
        NetworkRefusal{"Ipv6PrefixTooLong", "::/129", {"from 0 to 128"}},
        NetworkRefusal{"EmptyPrefix", "10.0.0.0/", {"prefix length"}},
        NetworkRefusal{"NegativePrefix", "10.0.0.0/-1", {"prefix length"}},
        NetworkRefusal{"WordPrefix", "10.0.0.0/a", {"prefix length"}},
        NetworkRefusal{"LongPrefixDigits", "10.0.0.0/0008", {"prefix length"}},
        NetworkRefusal{"ShortAddress", "10.0.0/8", {"not an IPv4 or IPv6 address"}},
        NetworkRefusal{"OctetTooLarge", "10.0.0.256", {"not an IPv4 or IPv6 address"}},
        NetworkRefusal{"HostName", "example.com/8", {"not an IPv4 or IPv6 address"}},
        NetworkRefusal{"SpaceInside", "10.0.0.0 /8", {"no spaces"}},
        NetworkRefusal{"Empty", "", {"empty"}}),
    case_name<NetworkRefusal>);

// --- Contains -------------------------------------------------------------------------------

struct ContainsCase {
  std::string name;
  std::string network;
  std::string address;
  bool contained;
};

void PrintTo(const ContainsCase& c, std::ostream* os) {
  *os << c.name;
}

class NetworkContains : public ::testing::TestWithParam<ContainsCase> {};

TEST_P(NetworkContains, Answers) {
  const auto& c = GetParam();
  EXPECT_EQ(network(c.network).contains(address(c.address)), c.contained)
      << c.network << " contains " << c.address;
}

INSTANTIATE_TEST_SUITE_P(
    Networks, NetworkContains,
    ::testing::Values(
        ContainsCase{"Ipv4Inside", "10.0.0.0/8", "10.1.2.3", true},
        ContainsCase{"Ipv4Outside", "10.0.0.0/8", "11.0.0.0", false},
        ContainsCase{"Ipv4FirstAddress", "10.0.0.0/8", "10.0.0.0", true},
        ContainsCase{"Ipv4LastAddress", "10.0.0.0/8", "10.255.255.255", true},
        ContainsCase{"Ipv4MappedLiteralInside", "10.0.0.0/8", "::ffff:10.0.0.1", true},
        ContainsCase{"Ipv4CompatibleLiteralOutside", "10.0.0.0/8", "::a00:1", false},
        ContainsCase{"Ipv4PartialByteInside", "192.168.1.0/25", "192.168.1.127", true},
        ContainsCase{"Ipv4PartialByteOutside", "192.168.1.0/25", "192.168.1.128", false},
        ContainsCase{"Ipv4SingleAddress", "1.2.3.4", "1.2.3.4", true},
        ContainsCase{"Ipv4SingleAddressNeighbour", "1.2.3.4", "1.2.3.5", false},
        ContainsCase{"Ipv4EverythingHoldsIpv4", "0.0.0.0/0", "203.0.113.9", true},
        ContainsCase{"Ipv4EverythingExcludesIpv6", "0.0.0.0/0", "::1", false},
        ContainsCase{"Ipv6EverythingHoldsIpv4Too", "::/0", "1.2.3.4", true},
        ContainsCase{"Ipv6EverythingHoldsIpv6", "::/0", "2001:db8::1", true},
        ContainsCase{"Ipv6Inside", "2001:db8::/32", "2001:db8:ffff::1", true},
        ContainsCase{"Ipv6Outside", "2001:db8::/32", "2001:db9::", false},
        ContainsCase{"Ipv6PartialByteInside", "2001:db8::/33", "2001:db8:7fff::1", true},
        ContainsCase{"Ipv6PartialByteOutside", "2001:db8::/33", "2001:db8:8000::", false},
        ContainsCase{"Ipv6SingleAddress", "::1", "::1", true},
        ContainsCase{"Ipv6SingleAddressNeighbour", "::1", "::2", false},
        ContainsCase{"Ipv6NetworkExcludesIpv4", "2001:db8::/32", "32.1.13.184", false}),
    case_name<ContainsCase>);

}  // namespace
}  // namespace bulwark::config
