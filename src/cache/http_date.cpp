#include "cache/http_date.hpp"

#include <array>
#include <cstdint>
#include <cstdio>

namespace bulwark::cache {
namespace {

constexpr std::array<std::string_view, 7> kDays = {"Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"};
constexpr std::array<std::string_view, 7> kLongDays = {
    "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"};
constexpr std::array<std::string_view, 12> kMonths = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                      "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil).
int64_t days_from_civil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const auto yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

bool leap(int64_t y) {
  return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

unsigned days_in_month(int64_t y, unsigned m) {
  static constexpr unsigned kDaysIn[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return m == 2 && leap(y) ? 29 : kDaysIn[m - 1];
}

class Cursor {
 public:
  explicit Cursor(std::string_view s) : s_(s) {}
  bool literal(std::string_view lit) {
    if (s_.substr(0, lit.size()) != lit) return false;
    s_.remove_prefix(lit.size());
    return true;
  }
  // Exactly `n` digits.
  bool digits(size_t n, int64_t& out) {
    if (s_.size() < n) return false;
    out = 0;
    for (size_t i = 0; i < n; ++i) {
      if (s_[i] < '0' || s_[i] > '9') return false;
      out = out * 10 + (s_[i] - '0');
    }
    s_.remove_prefix(n);
    return true;
  }
  template <size_t N>
  bool one_of(const std::array<std::string_view, N>& names, unsigned& index) {
    for (size_t i = 0; i < N; ++i) {
      if (literal(names[i])) {
        index = static_cast<unsigned>(i);
        return true;
      }
    }
    return false;
  }
  bool done() const { return s_.empty(); }

 private:
  std::string_view s_;
};

struct Parts {
  int64_t year = 0, day = 0, hour = 0, minute = 0, second = 0;
  unsigned month = 0;  // 1..12
};

bool time_of_day(Cursor& in, Parts& p) {
  return in.digits(2, p.hour) && in.literal(":") && in.digits(2, p.minute) && in.literal(":") &&
         in.digits(2, p.second);
}

std::optional<std::chrono::sys_seconds> assemble(const Parts& p) {
  if (p.month < 1 || p.month > 12) return std::nullopt;
  if (p.day < 1 || p.day > static_cast<int64_t>(days_in_month(p.year, p.month))) {
    return std::nullopt;
  }
  if (p.hour > 23 || p.minute > 59 || p.second > 60) return std::nullopt;
  const int64_t days = days_from_civil(p.year, p.month, static_cast<unsigned>(p.day));
  return std::chrono::sys_seconds{
      std::chrono::seconds{days * 86400 + p.hour * 3600 + p.minute * 60 + p.second}};
}

// IMF-fixdate: "Sun, 06 Nov 1994 08:49:37 GMT".
std::optional<Parts> imf_fixdate(std::string_view s) {
  Cursor in(s);
  Parts p;
  unsigned index = 0;
  if (!in.one_of(kDays, index) || !in.literal(", ") || !in.digits(2, p.day) || !in.literal(" ") ||
      !in.one_of(kMonths, p.month) || !in.literal(" ") || !in.digits(4, p.year) ||
      !in.literal(" ") || !time_of_day(in, p) || !in.literal(" GMT") || !in.done()) {
    return std::nullopt;
  }
  ++p.month;
  return p;
}

// RFC 850: "Sunday, 06-Nov-94 08:49:37 GMT".
std::optional<Parts> rfc850_date(std::string_view s, std::chrono::sys_seconds now) {
  Cursor in(s);
  Parts p;
  unsigned index = 0;
  if (!in.one_of(kLongDays, index) || !in.literal(", ") || !in.digits(2, p.day) ||
      !in.literal("-") || !in.one_of(kMonths, p.month) || !in.literal("-") ||
      !in.digits(2, p.year) || !in.literal(" ") || !time_of_day(in, p) || !in.literal(" GMT") ||
      !in.done()) {
    return std::nullopt;
  }
  ++p.month;
  // RFC 9110 §5.6.7: at most 50 years in the future; otherwise the previous century.
  const auto today = std::chrono::year_month_day{std::chrono::floor<std::chrono::days>(now)};
  const int64_t now_year = static_cast<int>(today.year());
  int64_t year = now_year - now_year % 100 + p.year;
  if (year > now_year + 50) year -= 100;
  if (year <= now_year - 50) year += 100;  // the nearest century, within the 50-year window
  p.year = year;
  return p;
}

// asctime: "Sun Nov  6 08:49:37 1994" (the day is space-padded to two characters).
std::optional<Parts> asctime_date(std::string_view s) {
  Cursor in(s);
  Parts p;
  unsigned index = 0;
  if (!in.one_of(kDays, index) || !in.literal(" ") || !in.one_of(kMonths, p.month) ||
      !in.literal(" ")) {
    return std::nullopt;
  }
  if (in.literal(" ")) {
    if (!in.digits(1, p.day)) return std::nullopt;
  } else if (!in.digits(2, p.day)) {
    return std::nullopt;
  }
  if (!in.literal(" ") || !time_of_day(in, p) || !in.literal(" ") || !in.digits(4, p.year) ||
      !in.done()) {
    return std::nullopt;
  }
  ++p.month;
  return p;
}

}  // namespace

std::optional<std::chrono::sys_seconds> parse_http_date(std::string_view text,
                                                        std::chrono::sys_seconds now) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  std::optional<Parts> parts = imf_fixdate(text);
  if (!parts) parts = rfc850_date(text, now);
  if (!parts) parts = asctime_date(text);
  if (!parts) return std::nullopt;
  return assemble(*parts);
}

std::string format_http_date(std::chrono::sys_seconds time) {
  const auto day = std::chrono::floor<std::chrono::days>(time);
  const std::chrono::year_month_day ymd{day};
  const std::chrono::hh_mm_ss hms{time - day};
  const unsigned weekday = std::chrono::weekday{day}.iso_encoding();  // 1 = Monday
  char buf[40];
  std::snprintf(buf, sizeof buf, "%s, %02u %s %04d %02d:%02d:%02d GMT",
                std::string(kDays[weekday - 1]).c_str(), static_cast<unsigned>(ymd.day()),
                std::string(kMonths[static_cast<unsigned>(ymd.month()) - 1]).c_str(),
                static_cast<int>(ymd.year()), static_cast<int>(hms.hours().count()),
                static_cast<int>(hms.minutes().count()), static_cast<int>(hms.seconds().count()));
  return buf;
}

}  // namespace bulwark::cache
