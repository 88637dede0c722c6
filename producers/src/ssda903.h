// The SSDA903 adapter's parts its files share (ssda903.cc: the files, headers, missing and OC3
// rows; ssda903_episodes.cc: episodes into care events; ssda903_cells.cc: reading a return's
// cells; ssda903_census.cc: the census the reports read). Private to producers/.
#pragma once

#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "feed.h"

namespace careledger::feed::ssda903_detail {

constexpr std::string_view kSource = "ssda903";

enum class FileKind { kHeader, kEpisodes, kMissing, kOc3 };

// RNE, the reason for a new episode (DfE SSDA903 guidance): S started to be looked after;
// L change of legal status only; P change of placement and carer(s) only; T change of
// placement only, same carer(s); U change of legal status and of placement and carer(s);
// B change of legal status and of placement, same carer(s).
struct RneMeaning {
  std::string_view code;
  bool legal_status_changes;
  bool placement_changes;
};

struct OpenFile {
  CsvFile csv;
  FileKind kind;
  size_t index;  // order on the command line: a later file's copy of a record wins a tie
  Instant extracted_at;
  int la = -1, year = -1;            // the LA and YEAR columns, when the extract has them
  std::optional<int> inferred_year;  // episodes: the collection year of the latest DECOM
};

struct Episode {
  const OpenFile* file;
  uint64_t line;
  int year;  // the collection year of the return the row came from
  std::string child;
  Date decom;
  std::optional<Date> dec;
  const RneMeaning* rne;
  std::string_view ls, place, provider, rec, reason, urn;
  std::optional<bool> out_of_area;
  bool short_break;
  // What a placement is, for telling a move from a change of episode with the same details.
  bool SamePlacement(const Episode& o) const {
    return place == o.place && provider == o.provider && urn == o.urn &&
           out_of_area == o.out_of_area;
  }
};

std::string_view CellAt(const CsvRow& r, int i);
// A cell by column name; "" when the column or the cell is absent.
std::string_view Cell(const CsvFile& f, const CsvRow& r, std::string_view column);
// dd/mm/yyyy as in the return, or yyyy-mm-dd.
Result<Date> ReturnDate(std::string_view s);
// The outward code of a full postcode ("LS1 4AP", "LS14AP", "LS1   4AP") or of a district
// ("LS1"), upper-cased; empty when it does not look like one. The inward code is always 3
// characters.
std::string District(std::string_view postcode);
// The collection year a day falls in, named by its first calendar year (1 April 2017 – 31
// March 2018 is 2017, as the YEAR column of LIIA extracts names it).
int CollectionYearOf(Date d);
Date CollectionYearEnd(int year);
std::string YearName(int year);  // "2017/18"
// Whether `code` of `list` may be used in a return of `year` (schemas/codes/ carries each
// code's first and last collection year where the DfE guidance bounds it). `why` says why not.
bool CodeValidInYear(std::string_view list, std::string_view code, int year, std::string& why);
std::string EventId(std::string_view type, std::string_view child, std::string_view key);
// The child's identity: (LA, CHILD) when the extract names authorities, else CHILD; empty
// when CHILD is.
std::string ChildKey(const OpenFile& f, const CsvRow& row);
// An episodes file with its LA and YEAR columns found; nullopt for any other kind.
Result<std::optional<OpenFile>> OpenEpisodes(const std::string& path, size_t index);
int YearColumn(const OpenFile& f, const CsvRow& row);  // -1 when absent or not a year
// Which copy of a record wins: the later return, then the later file, then the later line.
bool CopyBefore(int year_a, const OpenFile& fa, uint64_t la, int year_b, const OpenFile& fb,
                uint64_t lb);

class Ssda903Adapter {
 public:
  Ssda903Adapter(const AdapterOptions& options, RowSink& sink) : options_(options), sink_(sink) {}

  Status Run(const std::vector<std::string>& paths);

 private:
  void Reject(const OpenFile& f, uint64_t line, std::string_view field, std::string_view reason,
              std::string_view rule) {
    sink_.Reject(f.csv.path, line, field, reason, rule);
  }
  void Warn(const OpenFile& f, uint64_t line, std::string_view field, std::string_view reason,
            std::string_view rule) {
    sink_.Warn(f.csv.path, line, field, reason, rule);
  }

  static void InferYear(OpenFile& f);
  int RowYear(const OpenFile& f, const CsvRow& row) const;
  std::string Child(const OpenFile& f, const CsvRow& row);
  std::optional<Date> RequiredDate(const OpenFile& f, const CsvRow& row, std::string_view column,
                                   std::string_view rule);
  std::string_view OptionalCode(const OpenFile& f, const CsvRow& row, std::string_view column,
                                std::string_view list);
  Status Emit(const OpenFile& f, uint64_t line, std::vector<PendingEvent> events) {
    return sink_.Row(f.csv.path, line, events);
  }

  // Header (ssda903.cc).
  Status Headers(const std::vector<OpenFile>& files);
  Status HeaderRow(const OpenFile& f, const CsvRow& row, const std::string& child);

  // Episodes (ssda903_episodes.cc).
  std::optional<Episode> ParseEpisode(const OpenFile& f, const CsvRow& row);
  bool ReadEpisodeEnd(const OpenFile& f, const CsvRow& row, Episode& e);
  void ReadOutOfArea(const OpenFile& f, const CsvRow& row, Episode& e);
  void Placement(EnvelopeWriter& w, const Episode& e);
  Status Episodes(const std::vector<OpenFile>& files);
  std::vector<Episode> OnePerDecom(std::vector<Episode>& episodes);
  void CheckSequence(const std::vector<Episode>& episodes);
  Status CareEvents(const std::string& child, const std::vector<Episode>& episodes);
  static EnvelopeWriter Writer(std::string_view type, const std::string& child,
                               const std::string& key, const std::string& day, const Episode& from);
  static std::vector<std::pair<std::string, std::string_view>> Columns(bool ls, bool place);

  // Missing and OC3 (ssda903.cc).
  Status MissingRow(const OpenFile& f, const CsvRow& row);
  Status Oc3Row(const OpenFile& f, const CsvRow& row);

  const AdapterOptions& options_;
  RowSink& sink_;
  std::optional<int> run_year_;
  bool warned_no_districts_ = false;
  std::set<std::string> header_children_;
  std::map<std::string, int> missing_per_day_;
};

}  // namespace careledger::feed::ssda903_detail
