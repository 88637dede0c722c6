// careledger/config.h — the effective settings of one run: defaults, then the TOML settings
// file, then CARELEDGER_* environment variables, then command-line flags; each setting keeps
// where it came from, and secrets are masked whenever settings are shown.
#pragma once

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "careledger/common.h"

namespace careledger {

// Lowest precedence first.
enum class SettingOrigin { kDefault, kFile, kEnvironment, kFlag };

struct SettingValue {
  std::string value;  // a list is comma-separated
  SettingOrigin origin = SettingOrigin::kDefault;
  std::string where;  // "careledger.toml:3", "CARELEDGER_DATA", "--data"; empty for a default
};

// The area's child population in a year (ONS mid-year estimates, or the local figure),
// for rates per 10,000 children; 0 where the settings do not give it.
struct AreaPopulation {
  int year = 0;
  int64_t aged_10_17 = 0;
  int64_t under_18 = 0;
  // Children aged 10-17 by sex (F, M), by ethnicity group (White, Mixed, Asian, Black, Other,
  // GRT, ...) and by age band (10-13, 14-15, 16-17), as the ONS mid-year estimates and the
  // census give them; empty where the settings do not: rates by those groups then divide by
  // the children the store knows, or are left blank.
  std::map<std::string, int64_t> aged_10_17_by_sex = {};
  std::map<std::string, int64_t> aged_10_17_by_ethnicity_group = {};
  std::map<std::string, int64_t> aged_10_17_by_age_band = {};
  // The breakdown by a --by dimension ("sex", "ethnicity_group", "age_band"); null for any
  // other dimension.
  const std::map<std::string, int64_t>* GroupsBy(std::string_view dimension) const {
    return Groups(*this, dimension);
  }
  std::map<std::string, int64_t>* GroupsBy(std::string_view dimension) {
    return Groups(*this, dimension);
  }

 private:
  template <typename Self>
  static auto Groups(Self& self, std::string_view dimension) -> decltype(&self.aged_10_17_by_sex) {
    if (dimension == "sex") return &self.aged_10_17_by_sex;
    if (dimension == "ethnicity_group") return &self.aged_10_17_by_ethnicity_group;
    if (dimension == "age_band") return &self.aged_10_17_by_age_band;
    return nullptr;
  }
};

// The partnership's area as published tables name areas (ONS codes): its own, its region and
// its statistical neighbours, for KPI comparators. Empty where the settings do not say.
struct AreaCodes {
  std::string code, name, region;
  std::vector<std::string> neighbours;
};

// Keys are the settings file's names, flattened: brokers, data, log_level, publish.threshold,
// serve.listen, serve.token, serve.tls_cert, serve.tls_key, ssda903.local_postcode_districts,
// population.<year>.aged_10_17|under_18|aged_10_17_by_sex.<F|M>|aged_10_17_by_ethnicity_group.<group>,
// area.code|name|region|neighbours, kpi.<id>.<field> (select.<dimension>, comparators.<name>),
// kafka.<librdkafka property>.
class Config {
 public:
  const std::map<std::string, SettingValue>& entries() const { return entries_; }
  const std::string& data_dir() const;
  const std::string& log_level() const;
  // librdkafka properties, with bootstrap.servers from `brokers` when it is set.
  Settings KafkaSettings() const;
  std::vector<std::string> LocalPostcodeDistricts() const;  // upper case
  // Published figures suppress counts from 1 to this minus 1 (spec/metrics.md, default 5).
  int64_t PublishThreshold() const;
  const std::string& ServeListen() const;
  // Where `ingest` serves its own metrics; empty (the default): it does not.
  const std::string& IngestMetricsListen() const;
  // ingest's static group membership: "auto", an id, or empty (the default: dynamic).
  const std::string& IngestInstanceId() const;
  // serve.advertised: the URL `run` announces to the group's other instances (empty: the
  // address it binds).
  const std::string& ServeAdvertised() const;
  // serve.peer_ca: the PEM file of the authority that signed the other instances' TLS
  // certificates (empty: the system's); serve.peer_timeout_ms: how long a figure waits for
  // another instance's answer before leaving its partitions out (saying so).
  const std::string& ServePeerCa() const;
  std::chrono::milliseconds ServePeerTimeout() const;
  const std::string& ServeToken() const;    // empty: exact figures are not served
  const std::string& ServeTlsCert() const;  // PEM paths; empty: plain HTTP
  const std::string& ServeTlsKey() const;
  std::optional<AreaPopulation> PopulationFor(int year) const;
  AreaCodes Area() const;
  // [kpi.ID] as given: ID → field ("metric", "target", "select.cohort", "comparators.national",
  // …) → value and where it came from. Checked where the KPIs are built.
  std::map<std::string, std::map<std::string, SettingValue>> KpiSettings() const;
  // One "key = value  # origin" line per setting, sorted by key, every secret "*****".
  std::string Describe() const;
  // Advice that does not make the settings invalid (a settings file with secrets that others
  // can read), for the caller to log once logging is set up.
  const std::vector<std::string>& warnings() const { return warnings_; }

 private:
  friend class ConfigBuilder;
  std::map<std::string, SettingValue> entries_;
  std::vector<std::string> warnings_;
};

// The settings given on one command line; empty ones leave lower layers in force.
struct ConfigFlags {
  std::string config_file;
  std::string brokers, data, log_level;
  std::vector<std::string> kafka;  // "key=value", repeatable
};

// NAME → value of the process's CARELEDGER_* variables (read once, in main's thread).
using Environment = std::map<std::string, std::string>;
Environment CareledgerEnvironment();

// BadInput naming where the setting came from (file:line, variable or flag), the key and the
// reason; never a value.
Result<Config> ResolveConfig(const ConfigFlags& flags, const Environment& env);

// "ab1, AB2,,ab3" → {"AB1", "AB2", "AB3"}: postcode districts as a user may type them.
std::vector<std::string> SplitList(std::string_view list);

std::string_view OriginName(SettingOrigin origin);  // "default", "file", "env", "flag"

}  // namespace careledger
