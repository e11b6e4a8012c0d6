#include "gateway/client_address.hpp"

#include <gtest/gtest.h>

#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include "gateway_test_support.hpp"
#include "support/case_name.hpp"

namespace bulwark::gateway {
namespace {

using ::bulwark::testing_support::case_name;
using testing_support::address;
using testing_support::network;

struct AddressCase {
  std::string_view name;
  std::string_view peer;
  std::vector<std::string_view> trusted;  // CIDR networks
  std::vector<http::HeaderField> fields;
  std::string_view expected_text;
  std::string_view expected_address;  // parsed for the bytes; the text when empty
};
void PrintTo(const AddressCase& c, std::ostream* os) {
  *os << c.name;
}

class ClientAddressResolution : public testing::TestWithParam<AddressCase> {};

TEST_P(ClientAddressResolution, Resolved) {
  const auto& c = GetParam();
  std::vector<config::IpNetwork> trusted;
  for (auto text : c.trusted) trusted.push_back(network(text));
  const ClientAddress peer{address(c.peer), std::string(c.peer)};
  const auto client = client_address(peer, trusted, c.fields);
  EXPECT_EQ(client.text, c.expected_text);
  EXPECT_EQ(client.bytes,
            address(c.expected_address.empty() ? c.expected_text : c.expected_address));
}

const std::vector<std::string_view> kTen = {"10.0.0.0/8"};

INSTANTIATE_TEST_SUITE_P(UntrustedPeer, ClientAddressResolution,
                         testing::Values(AddressCase{"NoTrustedProxiesIgnoresXff",
                                                     "198.51.100.1",
                                                     {},
                                                     {{"X-Forwarded-For", "203.0.113.5"}},
                                                     "198.51.100.1"},
                                         AddressCase{"PeerOutsideTrustedIgnoresXff",
                                                     "198.51.100.1",
                                                     kTen,
                                                     {{"X-Forwarded-For", "203.0.113.5"}},
                                                     "198.51.100.1"},
                                         AddressCase{"PeerOutsideTrustedIgnoresTrustedLookingXff",
                                                     "198.51.100.1",
                                                     kTen,
                                                     {{"X-Forwarded-For", "10.0.0.9"}},
                                                     "198.51.100.1"},
                                         AddressCase{"UntrustedIpv6Peer",
                                                     "2001:db8::1",
                                                     {"10.0.0.0/8", "fd00::/8"},
                                                     {{"X-Forwarded-For", "203.0.113.5"}},
                                                     "2001:db8::1"}),
                         case_name<AddressCase>);

INSTANTIATE_TEST_SUITE_P(
    TrustedPeer, ClientAddressResolution,
    testing::Values(
        AddressCase{"NoXff", "10.0.0.1", kTen, {{"X-Real-IP", "203.0.113.5"}}, "10.0.0.1"},
        AddressCase{"EmptyXff", "10.0.0.1", kTen, {{"X-Forwarded-For", ""}}, "10.0.0.1"},
        AddressCase{
            "OneEntry", "10.0.0.1", kTen, {{"X-Forwarded-For", "203.0.113.5"}}, "203.0.113.5"},
        AddressCase{"FieldNameAnyCase",
                    "10.0.0.1",
                    kTen,
                    {{"X-FORWARDED-FOR", "203.0.113.5"}},
                    "203.0.113.5"},
        // Entries left of the first untrusted one could have been written by anybody.
        AddressCase{"RightmostUntrustedWins",
                    "10.0.0.1",
                    kTen,
                    {{"X-Forwarded-For", "1.1.1.1, 203.0.113.5"}},
                    "203.0.113.5"},
        AddressCase{"ChainOfTrustedProxies",
                    "10.0.0.1",
                    kTen,
                    {{"X-Forwarded-For", "1.1.1.1, 203.0.113.5, 10.0.0.7, 10.0.0.8"}},
                    "203.0.113.5"},
        AddressCase{"SeveralTrustedNetworks",
                    "10.0.0.1",
                    {"10.0.0.0/8", "192.168.0.0/16"},
                    {{"X-Forwarded-For", "203.0.113.5, 192.168.1.1, 10.0.0.7"}},
                    "203.0.113.5"},
        AddressCase{"EveryEntryTrustedGivesTheLeftmost",
                    "10.0.0.1",
                    kTen,
                    {{"X-Forwarded-For", "10.0.0.7, 10.0.0.8"}},
                    "10.0.0.7"},
        AddressCase{"SeveralFieldsInOrder",
                    "10.0.0.1",
                    kTen,
                    {{"X-Forwarded-For", "1.1.1.1"}, {"X-Forwarded-For", "203.0.113.5, 10.0.0.7"}},
                    "203.0.113.5"},
        AddressCase{"SeveralFieldsLastHasTheClient",
                    "10.0.0.1",
                    kTen,
                    {{"X-Forwarded-For", "1.1.1.1, 10.0.0.3"},
                     {"Accept", "*/*"},
                     {"x-forwarded-for", "203.0.113.5"}},
                    "203.0.113.5"},
        AddressCase{"SeveralFieldsChainAcrossThem",
                    "10.0.0.1",
                    kTen,
                    {{"X-Forwarded-For", "203.0.113.5"}, {"X-Forwarded-For", "10.0.0.7"}},
                    "203.0.113.5"},
        AddressCase{"WhitespaceAroundEntries",
                    "10.0.0.1",
                    kTen,
                    {{"X-Forwarded-For", " 1.1.1.1 ,\t203.0.113.5\t, 10.0.0.7 "}},
                    "203.0.113.5"},
        AddressCase{"EmptyEntriesSkipped",
                    "10.0.0.1",
                    kTen,
                    {{"X-Forwarded-For", "203.0.113.5,, ,10.0.0.7,"}},
                    "203.0.113.5"},
        AddressCase{"XRealIpIgnoredForwardedUsed",
                    "10.0.0.1",
                    kTen,
                    {{"Forwarded", "for=1.1.1.1"}, {"X-Real-IP", "1.1.1.2"}},
                    "1.1.1.1"}),
    case_name<AddressCase>);

INSTANTIATE_TEST_SUITE_P(
    MalformedEntries, ClientAddressResolution,
    testing::Values(
        AddressCase{"RightmostMalformedKeepsThePeer",
                    "10.0.0.1",
                    kTen,
                    {{"X-Forwarded-For", "203.0.113.5, garbage"}},
                    "10.0.0.1"},
        AddressCase{"MalformedStopsAtTheLastGoodProxy",
                    "10.0.0.1",
                    kTen,
                    {{"X-Forwarded-For", "203.0.113.5, unknown, 10.0.0.7"}},
                    "10.0.0.7"},
        AddressCase{"MalformedLeftOfTheClientIgnored",
                    "10.0.0.1",
                    kTen,
                    {{"X-Forwarded-For", "garbage, 203.0.113.5, 10.0.0.7"}},
                    "203.0.113.5"},
        AddressCase{"Ipv4WithPort",
                    "10.0.0.1",
                    kTen,
                    {{"X-Forwarded-For", "203.0.113.5:4711"}},
                    "203.0.113.5"},
        AddressCase{"Ipv6InBrackets",
                    "10.0.0.1",
                    kTen,
                    {{"X-Forwarded-For", "[2001:db8::5]"}},
                    "2001:db8::5"},
        AddressCase{"Ipv6InBracketsWithPort",
                    "10.0.0.1",
                    kTen,
                    {{"X-Forwarded-For", "[2001:db8::5]:443"}},
                    "2001:db8::5"},
        AddressCase{"PortNotDigits",
                    "10.0.0.1",
                    kTen,
                    {{"X-Forwarded-For", "203.0.113.5:http"}},
                    "10.0.0.1"},
        AddressCase{"Ipv4OctetTooLarge",
                    "10.0.0.1",
                    kTen,
                    {{"X-Forwarded-For", "203.0.113.256"}},
                    "10.0.0.1"},
        AddressCase{"Cidr", "10.0.0.1", kTen, {{"X-Forwarded-For", "203.0.113.0/24"}}, "10.0.0.1"},
        AddressCase{
            "Hostname", "10.0.0.1", kTen, {{"X-Forwarded-For", "client.example"}}, "10.0.0.1"},
        AddressCase{"SpaceInsideEntry",
                    "10.0.0.1",
                    kTen,
                    {{"X-Forwarded-For", "203.0.113.5 10.0.0.7"}},
                    "10.0.0.1"}),
    case_name<AddressCase>);

INSTANTIATE_TEST_SUITE_P(
    Ipv6, ClientAddressResolution,
    testing::Values(AddressCase{"Ipv6Client",
                                "10.0.0.1",
                                kTen,
                                {{"X-Forwarded-For", "2001:db8:cafe::17"}},
                                "2001:db8:cafe::17"},
                    AddressCase{"Ipv6TextKeptAsWritten",
                                "10.0.0.1",
                                kTen,
                                {{"X-Forwarded-For", "2001:DB8:CAFE:0:0:0:0:17"}},
                                "2001:DB8:CAFE:0:0:0:0:17",
                                "2001:db8:cafe::17"},
                    AddressCase{"Ipv6ChainOfTrusted",
                                "fd00::1",
                                {"fd00::/8"},
                                {{"X-Forwarded-For", "2001:db8::5, fd00::7, fd00::8"}},
                                "2001:db8::5"},
                    AddressCase{"MixedFamilies",
                                "fd00::1",
                                {"10.0.0.0/8", "fd00::/8"},
                                {{"X-Forwarded-For", "2001:db8::5, 10.0.0.7, fd00::9"}},
                                "2001:db8::5"},
                    AddressCase{"Ipv4MappedEntryIsIpv4",
                                "10.0.0.1",
                                kTen,
                                {{"X-Forwarded-For", "203.0.113.5, ::ffff:10.0.0.7"}},
                                "203.0.113.5"},
                    AddressCase{"Ipv4MappedClient",
                                "10.0.0.1",
                                kTen,
                                {{"X-Forwarded-For", "::ffff:203.0.113.5"}},
                                "::ffff:203.0.113.5",
                                "203.0.113.5"},
                    AddressCase{"Ipv6ClientBehindIpv4Proxy",
                                "10.0.0.1",
                                kTen,
                                {{"X-Forwarded-For", "2001:db8::5"}},
                                "2001:db8::5"},
                    AddressCase{"Ipv6Malformed",
                                "fd00::1",
                                {"fd00::/8"},
                                {{"X-Forwarded-For", "2001:db8:::5"}},
                                "fd00::1"}),
    case_name<AddressCase>);

// When a trusted proxy gives no usable entry, the client is unknown: throttling "the peer"
// would throttle every client of that proxy at once.
TEST(ClientAddressKnown, UnknownWhenTheTrustedPeerGivesNoUsableEntry) {
  const std::vector<config::IpNetwork> trusted = {network("10.0.0.0/8")};
  const ClientAddress peer{address("10.0.0.1"), "10.0.0.1"};
  const std::vector<http::HeaderField> none;
  const std::vector<http::HeaderField> garbage = {{"X-Forwarded-For", "unknown"}};
  const std::vector<http::HeaderField> good = {{"X-Forwarded-For", "203.0.113.5:80"}};
  EXPECT_FALSE(client_address(peer, trusted, none).known);
  EXPECT_FALSE(client_address(peer, trusted, garbage).known);
  EXPECT_TRUE(client_address(peer, trusted, good).known);
  EXPECT_EQ(client_address(peer, trusted, good).text, "203.0.113.5");
  const ClientAddress stranger{address("198.51.100.1"), "198.51.100.1"};
  EXPECT_TRUE(client_address(stranger, trusted, none).known);
}

// RFC 7239 Forwarded, used when no X-Forwarded-For is present.
TEST(ClientAddressForwarded, ForParametersWalkedFromTheRight) {
  const std::vector<config::IpNetwork> trusted = {network("10.0.0.0/8")};
  const ClientAddress peer{address("10.0.0.1"), "10.0.0.1"};
  auto resolve = [&](std::vector<http::HeaderField> fields) {
    return client_address(peer, trusted, fields);
  };
  EXPECT_EQ(resolve({{"Forwarded", "for=203.0.113.5;proto=https"}}).text, "203.0.113.5");
  EXPECT_EQ(resolve({{"Forwarded", "for=198.51.100.1, for=203.0.113.5, for=10.0.0.7"}}).text,
            "203.0.113.5");
  EXPECT_EQ(resolve({{"Forwarded", R"(for="[2001:db8:cafe::17]:4711")"}}).text,
            "2001:db8:cafe::17");
  EXPECT_EQ(resolve({{"Forwarded", "proto=http;For=203.0.113.9"}}).text, "203.0.113.9");
  EXPECT_EQ(resolve({{"forwarded", "for=203.0.113.5"}, {"Forwarded", "for=203.0.113.6"}}).text,
            "203.0.113.6");
  // Obfuscated or unknown hops end the walk: nothing usable means an unknown client.
  EXPECT_FALSE(resolve({{"Forwarded", "for=unknown"}}).known);
  EXPECT_FALSE(resolve({{"Forwarded", "for=_hidden"}}).known);
  EXPECT_FALSE(resolve({{"Forwarded", "proto=https"}}).known);
  // X-Forwarded-For wins when both are present.
  EXPECT_EQ(resolve({{"Forwarded", "for=203.0.113.5"}, {"X-Forwarded-For", "198.51.100.3"}}).text,
            "198.51.100.3");
  // From an untrusted peer, Forwarded means nothing.
  const ClientAddress stranger{address("198.51.100.1"), "198.51.100.1"};
  EXPECT_EQ(client_address(stranger, trusted, {{{"Forwarded", "for=203.0.113.5"}}}).text,
            "198.51.100.1");
}

}  // namespace
}  // namespace bulwark::gateway
