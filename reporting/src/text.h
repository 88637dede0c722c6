// Private to reporting/: how figures and text are written into tables and pages.
#pragma once

#include <cstdio>
#include <string>
#include <string_view>

namespace careledger::text {

// `v` to `decimals` places, as printf rounds.
inline std::string Fixed(double v, int decimals) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  return buf;
}

// Safe inside an HTML element or a quoted attribute.
inline std::string HtmlEscape(std::string_view s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

}  // namespace careledger::text
