#include "careledger/config.h"

#include <sys/stat.h>
#include <toml++/toml.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

extern char** environ;

namespace careledger {

namespace {

constexpr std::string_view kKafkaPrefix = "kafka.";
constexpr std::string_view kKafkaEnvPrefix = "CARELEDGER_KAFKA_";
constexpr std::array<std::string_view, 6> kLogLevels = {"trace", "debug", "info",
                                                        "warn",  "error", "off"};

// Settings other than kafka.*, each with the TOML type it must have in the settings file.
enum class Shape { kString, kStringList, kInteger };
struct Known {
  std::string_view key;
  Shape shape;
  std::string_view env;  // the CARELEDGER_* variable that overrides it; empty: none
};
constexpr std::array<Known, 14> kKnown = {{
    {"brokers", Shape::kString, "CARELEDGER_BROKERS"},
    {"data", Shape::kString, "CARELEDGER_DATA"},
    {"ingest.instance_id", Shape::kString, "CARELEDGER_INGEST_INSTANCE_ID"},
    {"ingest.metrics_listen", Shape::kString, "CARELEDGER_INGEST_METRICS_LISTEN"},
    {"log_level", Shape::kString, "CARELEDGER_LOG_LEVEL"},
    {"publish.threshold", Shape::kInteger, "CARELEDGER_PUBLISH_THRESHOLD"},
    {"serve.advertised", Shape::kString, "CARELEDGER_SERVE_ADVERTISED"},
    {"serve.listen", Shape::kString, "CARELEDGER_SERVE_LISTEN"},
    {"serve.peer_ca", Shape::kString, "CARELEDGER_SERVE_PEER_CA"},
    {"serve.peer_timeout_ms", Shape::kInteger, "CARELEDGER_SERVE_PEER_TIMEOUT_MS"},
    {"serve.token", Shape::kString, "CARELEDGER_SERVE_TOKEN"},
    {"serve.tls_cert", Shape::kString, "CARELEDGER_SERVE_TLS_CERT"},
    {"serve.tls_key", Shape::kString, "CARELEDGER_SERVE_TLS_KEY"},
    {"ssda903.local_postcode_districts", Shape::kStringList, ""},
}};

const Known* FindKnown(std::string_view key) {
  for (const auto& k : kKnown) {
    if (k.key == key) return &k;
  }
  return nullptr;
}

std::string_view TypeName(toml::node_type t) {
  switch (t) {
    case toml::node_type::string:
      return "a string";
    case toml::node_type::integer:
      return "an integer";
    case toml::node_type::floating_point:
      return "a floating-point number";
    case toml::node_type::boolean:
      return "a boolean";
    case toml::node_type::date:
      return "a date";
    case toml::node_type::time:
      return "a time";
    case toml::node_type::date_time:
      return "a date-time";
    case toml::node_type::array:
      return "an array";
    case toml::node_type::table:
      return "a table";
    default:
      return "nothing";
  }
}

std::string JoinList(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& item : items) {
    if (!out.empty()) out += ',';
    out += item;
  }
  return out;
}

std::string Quoted(std::string_view key) {
  return "'" + std::string(key) + "'";
}

// librdkafka property names are lower-case words joined by dots (a few by underscores).
bool IsKafkaPropertyName(std::string_view name) {
  if (name.empty() || name.front() == '.' || name.back() == '.') return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_';
  });
}

// toml++ quotes the character it stopped at ("saw 'h'"); that character may belong to a
// secret, so the description ends before it.
std::string SafeParseError(std::string_view description) {
  for (std::string_view cut : {", saw ", " sequence '"}) {
    if (auto at = description.find(cut); at != std::string_view::npos) {
      description = description.substr(0, at);
    }
  }
  return std::string(description);
}

}  // namespace

// Builds a Config layer by layer; each Set replaces a lower layer's value.
class ConfigBuilder {
 public:
  ConfigBuilder() {
    Set("data", "careledger-data", SettingOrigin::kDefault, "");
    Set("log_level", "info", SettingOrigin::kDefault, "");
    Set("serve.listen", "127.0.0.1:8080", SettingOrigin::kDefault, "");
    Set("publish.threshold", "5", SettingOrigin::kDefault, "");
    Set("serve.peer_timeout_ms", "5000", SettingOrigin::kDefault, "");
  }

  void Set(std::string key, std::string value, SettingOrigin origin, std::string where) {
    // One name for the bootstrap servers, whichever way they were given.
    if (key == "kafka.bootstrap.servers") key = "brokers";
    config_.entries_[std::move(key)] = {std::move(value), origin, std::move(where)};
  }

  Status AddFile(const std::string& path);
  Status AddEnvironment(const Environment& env);
  Status AddFlags(const ConfigFlags& flags);
  Status Validate() const;
  Config Take() { return std::move(config_); }

 private:
  Status AddTable(const toml::table& table, const std::string& prefix, const std::string& path);
  Status AddPopulation(const toml::node& node, const std::string& where, const std::string& path);
  Status AddArea(const toml::node& node, const std::string& where, const std::string& path);
  Status AddKpis(const toml::node& node, const std::string& where, const std::string& path);
  Status AddKafkaTable(const toml::table& table, const std::string& prefix,
                       const std::string& path);
  Config config_;
  bool file_has_secret_ = false;
};

Status ConfigBuilder::AddFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return Status::BadInput("cannot read settings file " + path + ": " + std::strerror(errno));
  }
  std::stringstream text;
  text << in.rdbuf();
  toml::table root;
  try {
    root = toml::parse(text.str(), std::string_view(path));
  } catch (const toml::parse_error& e) {
    std::string msg = path + ":" + std::to_string(e.source().begin.line) +
                      ": not valid TOML: " + SafeParseError(e.description());
    if (e.description().find("could not determine value type") != std::string_view::npos) {
      msg += " (text values are quoted: data = \"/var/lib/careledger\")";
    }
    return Status::BadInput(msg);
  }
  CARELEDGER_RETURN_IF_ERROR(AddTable(root, "", path));
  struct stat st {};
  if (file_has_secret_ && stat(path.c_str(), &st) == 0 && (st.st_mode & 077) != 0) {
    config_.warnings_.push_back("settings file " + path +
                                " holds secrets and is readable by others: chmod 600 it");
  }
  return Status::Ok();
}

Status ConfigBuilder::AddTable(const toml::table& table, const std::string& prefix,
                               const std::string& path) {
  for (auto&& [k, node] : table) {
    std::string key = prefix + std::string(k.str());
    std::string where = path + ":" + std::to_string(k.source().begin.line);
    if (key == "kafka") {
      const toml::table* kafka = node.as_table();
      if (!kafka) {
        return Status::BadInput(where + ": 'kafka' must be a table of librdkafka properties, not " +
                                std::string(TypeName(node.type())));
      }
      CARELEDGER_RETURN_IF_ERROR(AddKafkaTable(*kafka, "", path));
      continue;
    }
    if (key == "population") {
      CARELEDGER_RETURN_IF_ERROR(AddPopulation(node, where, path));
      continue;
    }
    if (key == "area") {
      CARELEDGER_RETURN_IF_ERROR(AddArea(node, where, path));
      continue;
    }
    if (key == "kpi") {
      CARELEDGER_RETURN_IF_ERROR(AddKpis(node, where, path));
      continue;
    }
    if ((key == "ingest" || key == "publish" || key == "serve" || key == "ssda903") &&
        node.is_table()) {
      CARELEDGER_RETURN_IF_ERROR(AddTable(*node.as_table(), key + ".", path));
      continue;
    }
    const Known* known = FindKnown(key);
    if (!known) return Status::BadInput(where + ": unknown setting " + Quoted(key));
    if (known->shape == Shape::kInteger) {
      const toml::value<int64_t>* n = node.as_integer();
      if (!n) {
        return Status::BadInput(where + ": " + Quoted(key) + " must be an integer, not " +
                                std::string(TypeName(node.type())));
      }
      Set(key, std::to_string(n->get()), SettingOrigin::kFile, where);
      continue;
    }
    if (const toml::value<std::string>* text = node.as_string()) {
      const std::string& s = text->get();
      Set(key, known->shape == Shape::kStringList ? JoinList(SplitList(s)) : s,
          SettingOrigin::kFile, where);
      if (IsSecretKey(key)) file_has_secret_ = true;
      continue;
    }
    if (known->shape == Shape::kStringList && node.is_array()) {
      std::vector<std::string> items;
      for (const toml::node& item : *node.as_array()) {
        if (!item.is_string()) {
          return Status::BadInput(where + ": " + Quoted(key) + " must be a list of strings, not " +
                                  "a list holding " + std::string(TypeName(item.type())));
        }
        for (auto& one : SplitList(item.as_string()->get())) items.push_back(std::move(one));
      }
      Set(key, JoinList(items), SettingOrigin::kFile, where);
      continue;
    }
    return Status::BadInput(
        where + ": " + Quoted(key) + " must be " +
        (known->shape == Shape::kStringList ? "a list of strings" : "a string") + ", not " +
        std::string(TypeName(node.type())));
  }
  return Status::Ok();
}

// [population] holds the area's child population by year, for rates per 10,000:
//   2024 = { aged_10_17 = 41230, under_18 = 98310 }
Status ConfigBuilder::AddPopulation(const toml::node& node, const std::string& where,
                                    const std::string& path) {
  const toml::table* years = node.as_table();
  if (!years) {
    return Status::BadInput(where + ": 'population' must be a table of years, not " +
                            std::string(TypeName(node.type())));
  }
  for (auto&& [year_key, year_node] : *years) {
    std::string year(year_key.str());
    std::string at = path + ":" + std::to_string(year_key.source().begin.line);
    bool is_year = year.size() == 4 && std::all_of(year.begin(), year.end(),
                                                   [](char c) { return c >= '0' && c <= '9'; });
    if (!is_year || year < "1990" || year > "2100") {
      return Status::BadInput(at + ": " + Quoted("population." + year) +
                              " must be a year such as 2024");
    }
    const toml::table* counts = year_node.as_table();
    if (!counts) {
      return Status::BadInput(at + ": " + Quoted("population." + year) +
                              " must be a table { aged_10_17 = N, under_18 = N }");
    }
    for (auto&& [count_key, count_node] : *counts) {
      std::string name = "population." + year + "." + std::string(count_key.str());
      std::string_view by = count_key.str();
      if (by.starts_with("aged_10_17_by_") &&
          AreaPopulation{}.GroupsBy(by.substr(std::string_view("aged_10_17_by_").size()))) {
        const toml::table* groups = count_node.as_table();
        if (!groups) {
          return Status::BadInput(at + ": " + Quoted(name) +
                                  " must be a table of groups { F = N, M = N }");
        }
        for (auto&& [group, n_node] : *groups) {
          const toml::value<int64_t>* n = n_node.as_integer();
          std::string group_name = name + "." + std::string(group.str());
          if (!n || n->get() <= 0) {
            return Status::BadInput(at + ": " + Quoted(group_name) + " must be a positive integer");
          }
          // The bands the age_band dimension gives children aged 10-17; any other would
          // never meet a row.
          const std::string_view band = group.str();
          if (by == "aged_10_17_by_age_band" && band != "10-13" && band != "14-15" &&
              band != "16-17") {
            return Status::BadInput(at + ": " + Quoted(group_name) +
                                    " is not an age band of children aged 10-17 (\"10-13\", "
                                    "\"14-15\", \"16-17\")");
          }
          Set(group_name, std::to_string(n->get()), SettingOrigin::kFile, at);
        }
        continue;
      }
      if (count_key.str() != "aged_10_17" && count_key.str() != "under_18") {
        return Status::BadInput(at + ": unknown setting " + Quoted(name) +
                                " (aged_10_17, under_18, aged_10_17_by_sex, "
                                "aged_10_17_by_ethnicity_group or aged_10_17_by_age_band)");
      }
      const toml::value<int64_t>* n = count_node.as_integer();
      if (!n || n->get() <= 0) {
        return Status::BadInput(at + ": " + Quoted(name) + " must be a positive integer");
      }
      Set(name, std::to_string(n->get()), SettingOrigin::kFile, at);
    }
  }
  return Status::Ok();
}

// [area] names the partnership's area as the published tables do, for comparators:
//   code = "E08000009", region = "E12000002", neighbours = ["E09000006", ...]
Status ConfigBuilder::AddArea(const toml::node& node, const std::string& where,
                              const std::string& path) {
  const toml::table* area = node.as_table();
  if (!area) {
    return Status::BadInput(where + ": 'area' must be a table { code = \"E08000009\", ... }, not " +
                            std::string(TypeName(node.type())));
  }
  for (auto&& [k, value] : *area) {
    const std::string key = "area." + std::string(k.str());
    const std::string at = path + ":" + std::to_string(k.source().begin.line);
    if (key == "area.neighbours") {
      std::vector<std::string> codes;
      const toml::array* list = value.as_array();
      for (size_t i = 0; list && i < list->size(); ++i) {
        const auto* code = (*list)[i].as_string();
        if (!code) {
          list = nullptr;
          break;
        }
        for (auto& one : SplitList(code->get())) codes.push_back(std::move(one));
      }
      if (!list) {
        return Status::BadInput(at + ": " + Quoted(key) +
                                " must be a list of area codes [\"E09000006\", ...]");
      }
      Set(key, JoinList(codes), SettingOrigin::kFile, at);
      continue;
    }
    if (key != "area.code" && key != "area.region" && key != "area.name") {
      return Status::BadInput(at + ": unknown setting " + Quoted(key) +
                              " (code, name, region or neighbours)");
    }
    const auto* text = value.as_string();
    if (!text || text->get().empty()) {
      return Status::BadInput(at + ": " + Quoted(key) + " must be a non-empty string");
    }
    Set(key, key == "area.name" ? text->get() : JoinList(SplitList(text->get())),
        SettingOrigin::kFile, at);
  }
  return Status::Ok();
}

// [kpi.ID] declares a KPI or changes a default one; the fields are checked against the metrics
// where the KPIs are built (reporting), which knows them. Here only their TOML shapes:
//   metric = "informal-share", measure = "informal_pct", select = { cohort = "cla" },
//   better = "higher", target = 75, red = 60, comparators = { national = "indicator" }
Status ConfigBuilder::AddKpis(const toml::node& node, const std::string& where,
                              const std::string& path) {
  const toml::table* kpis = node.as_table();
  if (!kpis) {
    return Status::BadInput(where + ": 'kpi' must hold tables [kpi.NAME], not " +
                            std::string(TypeName(node.type())));
  }
  auto at = [&](const toml::key& k) { return path + ":" + std::to_string(k.source().begin.line); };
  for (auto&& [id_key, kpi_node] : *kpis) {
    const std::string id(id_key.str());
    const bool good_id = !id.empty() && std::all_of(id.begin(), id.end(), [](char c) {
      return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
    });
    if (!good_id) {
      return Status::BadInput(at(id_key) + ": " + Quoted("kpi." + id) +
                              " must be named in lower case, digits and '_'");
    }
    const toml::table* fields = kpi_node.as_table();
    if (!fields) {
      return Status::BadInput(at(id_key) + ": " + Quoted("kpi." + id) +
                              " must be a table of the KPI's settings");
    }
    for (auto&& [field_key, value] : *fields) {
      const std::string field(field_key.str());
      std::string key = "kpi." + id;
      key += "." + field;
      if (field == "select" || field == "comparators") {
        const toml::table* pairs = value.as_table();
        if (!pairs) {
          return Status::BadInput(at(field_key) + ": " + Quoted(key) +
                                  " must be a table { name = \"value\" }");
        }
        for (auto&& [name, text] : *pairs) {
          if (!text.is_string()) {
            return Status::BadInput(at(name) + ": " + Quoted(key + "." + std::string(name.str())) +
                                    " must be a string");
          }
          Set(key + "." + std::string(name.str()), text.as_string()->get(), SettingOrigin::kFile,
              at(name));
        }
        continue;
      }
      std::string text;
      if (const auto* s = value.as_string()) {
        text = s->get();
      } else if (const auto* i = value.as_integer()) {
        text = std::to_string(i->get());
      } else if (const auto* f = value.as_floating_point()) {
        std::ostringstream out;
        out << f->get();
        text = out.str();
      } else if (const auto* b = value.as_boolean()) {
        text = b->get() ? "true" : "false";
      } else {
        return Status::BadInput(at(field_key) + ": " + Quoted(key) +
                                " must be a string, a number or a boolean, not " +
                                std::string(TypeName(value.type())));
      }
      Set(key, std::move(text), SettingOrigin::kFile, at(field_key));
    }
  }
  return Status::Ok();
}

// [kafka] holds librdkafka properties. Quoted keys ("sasl.password" = ...) are the plain way;
// dotted keys (sasl.password = ...) make TOML tables, which are flattened back to the name.
Status ConfigBuilder::AddKafkaTable(const toml::table& table, const std::string& prefix,
                                    const std::string& path) {
  for (auto&& [k, node] : table) {
    std::string name = prefix + std::string(k.str());
    std::string where = path + ":" + std::to_string(k.source().begin.line);
    if (const toml::table* sub = node.as_table()) {
      CARELEDGER_RETURN_IF_ERROR(AddKafkaTable(*sub, name + ".", path));
      continue;
    }
    if (!IsKafkaPropertyName(name)) {
      return Status::BadInput(where + ": " + Quoted("kafka." + name) +
                              " is not a librdkafka property name");
    }
    std::string value;
    switch (node.type()) {
      case toml::node_type::string:
        value = node.as_string()->get();
        break;
      case toml::node_type::integer:
        value = std::to_string(node.as_integer()->get());
        break;
      case toml::node_type::boolean:
        value = node.as_boolean()->get() ? "true" : "false";
        break;
      default:
        return Status::BadInput(where + ": " + Quoted("kafka." + name) +
                                " must be a string, an integer or a boolean, not " +
                                std::string(TypeName(node.type())));
    }
    if (IsSecretKey(name)) file_has_secret_ = true;
    Set(std::string(kKafkaPrefix) + name, std::move(value), SettingOrigin::kFile, where);
  }
  return Status::Ok();
}

// CARELEDGER_KAFKA_SASL_PASSWORD → kafka.sasl.password: librdkafka's string properties are
// lower-case words joined by dots, so '_' ↔ '.' is unambiguous for every one of them.
Status ConfigBuilder::AddEnvironment(const Environment& env) {
  for (const auto& known : kKnown) {
    if (known.env.empty()) continue;
    auto it = env.find(std::string(known.env));
    if (it != env.end() && !it->second.empty()) {
      Set(std::string(known.key), it->second, SettingOrigin::kEnvironment, it->first);
    }
  }
  for (const auto& [name, value] : env) {
    if (!name.starts_with(kKafkaEnvPrefix) || value.empty()) continue;
    std::string property;
    for (char c : std::string_view(name).substr(kKafkaEnvPrefix.size())) {
      property += c == '_' ? '.' : char(std::tolower(static_cast<unsigned char>(c)));
    }
    if (!IsKafkaPropertyName(property)) {
      return Status::BadInput(name + ": not a librdkafka property (CARELEDGER_KAFKA_ then the " +
                              "property in upper case with '_' for '.')");
    }
    Set(std::string(kKafkaPrefix) + property, value, SettingOrigin::kEnvironment, name);
  }
  return Status::Ok();
}

Status ConfigBuilder::AddFlags(const ConfigFlags& flags) {
  if (!flags.brokers.empty()) Set("brokers", flags.brokers, SettingOrigin::kFlag, "--brokers");
  if (!flags.data.empty()) Set("data", flags.data, SettingOrigin::kFlag, "--data");
  if (!flags.log_level.empty()) {
    Set("log_level", flags.log_level, SettingOrigin::kFlag, "--log-level");
  }
  for (const auto& kv : flags.kafka) {
    auto eq = kv.find('=');
    std::string name = kv.substr(0, eq);
    if (eq == std::string::npos || !IsKafkaPropertyName(name)) {
      return Status::BadInput("--kafka: expected property=value with a librdkafka property name");
    }
    Set(std::string(kKafkaPrefix) + name, kv.substr(eq + 1), SettingOrigin::kFlag, "--kafka");
  }
  return Status::Ok();
}

Status ConfigBuilder::Validate() const {
  const auto& e = config_.entries_;
  auto fail = [&](const std::string& key, const std::string& reason) {
    const SettingValue& v = e.at(key);
    std::string where = v.where.empty() ? std::string("default") : v.where;
    return Status::BadInput(where + ": " + Quoted(key) + " " + reason);
  };
  const std::string& level = e.at("log_level").value;
  if (std::find(kLogLevels.begin(), kLogLevels.end(), level) == kLogLevels.end()) {
    return fail("log_level", "must be one of trace, debug, info, warn, error, off");
  }
  if (e.at("data").value.empty()) return fail("data", "must not be empty");
  if (auto b = e.find("brokers"); b != e.end() && b->second.value.empty()) {
    return fail("brokers", "must not be empty");
  }
  auto host_port = [](const std::string& listen) {
    auto colon = listen.rfind(':');
    int port = 0;
    bool digits = colon != std::string::npos && colon + 1 < listen.size() &&
                  listen.size() - colon - 1 <= 5 &&
                  std::all_of(listen.begin() + long(colon) + 1, listen.end(),
                              [](char c) { return c >= '0' && c <= '9'; });
    if (digits) port = std::stoi(listen.substr(colon + 1));
    return digits && colon != 0 && port >= 1 && port <= 65535;
  };
  if (!host_port(e.at("serve.listen").value)) {
    return fail("serve.listen", "must be HOST:PORT with a port from 1 to 65535");
  }
  if (auto m = e.find("ingest.metrics_listen"); m != e.end() && !host_port(m->second.value)) {
    return fail("ingest.metrics_listen", "must be HOST:PORT with a port from 1 to 65535");
  }
  if (auto t = e.find("serve.token"); t != e.end()) {
    const std::string& token = t->second.value;
    // A bearer token guards exact (unrounded, small-number) figures: it must not be guessable.
    bool printable =
        std::all_of(token.begin(), token.end(), [](char c) { return c > ' ' && c < 127; });
    if (token.size() < 32 || !printable) {
      return fail("serve.token",
                  "must be at least 32 printable characters without spaces (openssl rand -hex 32)");
    }
  }
  bool cert = e.count("serve.tls_cert") && !e.at("serve.tls_cert").value.empty();
  bool key = e.count("serve.tls_key") && !e.at("serve.tls_key").value.empty();
  if (cert != key) {
    return fail(cert ? "serve.tls_cert" : "serve.tls_key",
                cert ? "needs serve.tls_key beside it" : "needs serve.tls_cert beside it");
  }
  // Below 3 a "<2" would say the count is 1: nothing would be hidden. Past 100 nearly every
  // local figure would be.
  auto whole_number_in = [](const std::string& v, int64_t lo, int64_t hi) {
    return !v.empty() && v.size() <= 9 && v.find_first_not_of("0123456789") == std::string::npos &&
           std::stoll(v) >= lo && std::stoll(v) <= hi;
  };
  if (!whole_number_in(e.at("publish.threshold").value, 3, 100)) {
    return fail("publish.threshold", "must be a whole number from 3 to 100");
  }
  if (!whole_number_in(e.at("serve.peer_timeout_ms").value, 100, 600000)) {
    return fail("serve.peer_timeout_ms",
                "must be a whole number of milliseconds from 100 to 600000");
  }
  if (auto d = e.find("ssda903.local_postcode_districts"); d != e.end()) {
    for (const std::string& district : SplitList(d->second.value)) {
      bool ok =
          district.size() >= 2 && district.size() <= 4 && std::isalpha(district[0]) &&
          std::all_of(district.begin(), district.end(), [](char c) { return std::isalnum(c); });
      if (!ok) {
        return fail("ssda903.local_postcode_districts",
                    "must list postcode districts such as \"AB1\" or \"SW1A\"");
      }
    }
  }
  return Status::Ok();
}

Result<Config> ResolveConfig(const ConfigFlags& flags, const Environment& env) {
  ConfigBuilder builder;
  if (!flags.config_file.empty()) CARELEDGER_RETURN_IF_ERROR(builder.AddFile(flags.config_file));
  CARELEDGER_RETURN_IF_ERROR(builder.AddEnvironment(env));
  CARELEDGER_RETURN_IF_ERROR(builder.AddFlags(flags));
  CARELEDGER_RETURN_IF_ERROR(builder.Validate());
  return builder.Take();
}

Environment CareledgerEnvironment() {
  Environment env;
  for (char** p = environ; p && *p; ++p) {
    std::string_view entry(*p);
    auto eq = entry.find('=');
    if (eq == std::string_view::npos || !entry.starts_with("CARELEDGER_")) continue;
    env.emplace(entry.substr(0, eq), entry.substr(eq + 1));
  }
  return env;
}

const std::string& Config::data_dir() const {
  return entries_.at("data").value;
}
const std::string& Config::log_level() const {
  return entries_.at("log_level").value;
}
int64_t Config::PublishThreshold() const {
  return std::stoll(entries_.at("publish.threshold").value);
}

const std::string& Config::ServeListen() const {
  return entries_.at("serve.listen").value;
}

const std::string& Config::IngestMetricsListen() const {
  static const std::string kNone;
  auto it = entries_.find("ingest.metrics_listen");
  return it == entries_.end() ? kNone : it->second.value;
}

const std::string& Config::IngestInstanceId() const {
  static const std::string kNone;
  auto it = entries_.find("ingest.instance_id");
  return it == entries_.end() ? kNone : it->second.value;
}

const std::string& Config::ServeAdvertised() const {
  static const std::string kNone;
  auto it = entries_.find("serve.advertised");
  return it == entries_.end() ? kNone : it->second.value;
}

const std::string& Config::ServePeerCa() const {
  static const std::string kNone;
  auto it = entries_.find("serve.peer_ca");
  return it == entries_.end() ? kNone : it->second.value;
}

std::chrono::milliseconds Config::ServePeerTimeout() const {
  return std::chrono::milliseconds{std::stoll(entries_.at("serve.peer_timeout_ms").value)};
}

const std::string& Config::ServeToken() const {
  static const std::string kNone;
  auto it = entries_.find("serve.token");
  return it == entries_.end() ? kNone : it->second.value;
}

const std::string& Config::ServeTlsCert() const {
  static const std::string kNone;
  auto it = entries_.find("serve.tls_cert");
  return it == entries_.end() ? kNone : it->second.value;
}

const std::string& Config::ServeTlsKey() const {
  static const std::string kNone;
  auto it = entries_.find("serve.tls_key");
  return it == entries_.end() ? kNone : it->second.value;
}

Settings Config::KafkaSettings() const {
  Settings out;
  for (const auto& [key, v] : entries_) {
    if (key.starts_with(kKafkaPrefix)) out[key.substr(kKafkaPrefix.size())] = v.value;
  }
  if (auto b = entries_.find("brokers"); b != entries_.end()) {
    out["bootstrap.servers"] = b->second.value;
  }
  return out;
}

std::vector<std::string> Config::LocalPostcodeDistricts() const {
  auto it = entries_.find("ssda903.local_postcode_districts");
  return it == entries_.end() ? std::vector<std::string>{} : SplitList(it->second.value);
}

std::string Config::Describe() const {
  std::string out;
  for (const auto& [key, v] : entries_) {
    out += key;
    out += " = ";
    out += IsSecretKey(key) ? "*****" : v.value;
    out += "  # ";
    out += OriginName(v.origin);
    if (!v.where.empty()) {
      out += ' ';
      out += v.where;
    }
    out += '\n';
  }
  return out;
}

std::vector<std::string> SplitList(std::string_view list) {
  std::vector<std::string> out;
  std::string item;
  for (size_t i = 0; i <= list.size(); ++i) {
    char c = i < list.size() ? list[i] : ',';
    if (c == ',') {
      if (!item.empty()) out.push_back(std::move(item));
      item.clear();
    } else if (c != ' ' && c != '\t') {
      item += char(std::toupper(static_cast<unsigned char>(c)));
    }
  }
  return out;
}

AreaCodes Config::Area() const {
  AreaCodes area;
  auto get = [&](const char* key) {
    auto it = entries_.find(key);
    return it == entries_.end() ? std::string() : it->second.value;
  };
  area.code = get("area.code");
  area.name = get("area.name");
  area.region = get("area.region");
  area.neighbours = SplitList(get("area.neighbours"));
  return area;
}

std::map<std::string, std::map<std::string, SettingValue>> Config::KpiSettings() const {
  std::map<std::string, std::map<std::string, SettingValue>> out;
  for (auto it = entries_.lower_bound("kpi.");
       it != entries_.end() && it->first.starts_with("kpi."); ++it) {
    std::string_view rest = std::string_view(it->first).substr(4);
    auto dot = rest.find('.');
    if (dot == std::string_view::npos) continue;
    out[std::string(rest.substr(0, dot))][std::string(rest.substr(dot + 1))] = it->second;
  }
  return out;
}

std::optional<AreaPopulation> Config::PopulationFor(int year) const {
  auto count = [&](const char* what) -> int64_t {
    auto it = entries_.find("population." + std::to_string(year) + "." + what);
    return it == entries_.end() ? 0 : std::stoll(it->second.value);
  };
  AreaPopulation p{year, count("aged_10_17"), count("under_18")};
  if (p.aged_10_17 == 0 && p.under_18 == 0) return std::nullopt;
  const std::string prefix = "population." + std::to_string(year) + ".aged_10_17_by_";
  for (auto it = entries_.lower_bound(prefix);
       it != entries_.end() && it->first.starts_with(prefix); ++it) {
    std::string_view rest = std::string_view(it->first).substr(prefix.size());
    auto dot = rest.find('.');
    if (dot == std::string_view::npos) continue;
    if (auto* groups = p.GroupsBy(rest.substr(0, dot))) {
      (*groups)[std::string(rest.substr(dot + 1))] = std::stoll(it->second.value);
    }
  }
  return p;
}

std::string_view OriginName(SettingOrigin origin) {
  switch (origin) {
    case SettingOrigin::kDefault:
      return "default";
    case SettingOrigin::kFile:
      return "file";
    case SettingOrigin::kEnvironment:
      return "env";
    case SettingOrigin::kFlag:
      return "flag";
  }
  return "?";
}

}  // namespace careledger
