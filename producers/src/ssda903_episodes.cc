// SSDA903 episodes into care events: each row read and checked, the latest return's copy of
// each episode kept, and a child's care read as the DfE counts it.
#include <algorithm>
#include <set>
#include <unordered_map>

#include "ssda903.h"

namespace careledger::feed::ssda903_detail {

namespace {

// URN of a placement with no Ofsted unique reference number (DfE guidance).
constexpr std::string_view kNoUrn = "XXXXXXX";
// REC X1: the episode ends but the period of care goes on (a change, not a leaving).
constexpr std::string_view kEpisodeEndsPeriodContinues = "X1";

// RNE codes and what each changes (RneMeaning, ssda903.h).
constexpr RneMeaning kRne[] = {
    {"S", false, false}, {"L", true, false}, {"P", false, true},
    {"T", false, true},  {"U", true, true},  {"B", true, true},
};
constexpr RneMeaning kRneUnknown = {"", false, false};

}  // namespace

// ---- Episodes ----------------------------------------------------------------------------
std::optional<Episode> Ssda903Adapter::ParseEpisode(const OpenFile& f, const CsvRow& row) {
  Episode e{&f, row.line, RowYear(f, row), {}, {}, {}, &kRneUnknown, {}, {}, {}, {}, {}, {},
            {}, false};
  e.child = Child(f, row);
  if (e.child.empty()) return std::nullopt;
  auto decom = RequiredDate(f, row, "DECOM", "decom-unreadable");
  if (!decom) return std::nullopt;
  e.decom = *decom;
  std::string why;
  e.ls = Cell(f.csv, row, "LS");
  if (!CodeValidInYear("legal_status", e.ls, e.year, why)) {
    Reject(f, row.line, "LS", e.ls.empty() ? "required" : why, "legal-status-not-valid");
    return std::nullopt;
  }
  e.place = Cell(f.csv, row, "PLACE");
  if (!CodeValidInYear("placement", e.place, e.year, why)) {
    Reject(f, row.line, "PLACE", e.place.empty() ? "required" : why, "placement-not-valid");
    return std::nullopt;
  }
  e.short_break = IsShortBreakLegalStatus(e.ls);
  std::string_view rne = Cell(f.csv, row, "RNE");
  for (const auto& m : kRne) {
    if (m.code == rne) e.rne = &m;
  }
  if (e.rne == &kRneUnknown) {
    Warn(f, row.line, "RNE",
         "not a known code (S, L, P, T, U, B): the episode is read by its dates", "code-unknown");
  }
  if (!ReadEpisodeEnd(f, row, e)) return std::nullopt;
  ReadOutOfArea(f, row, e);
  e.provider = OptionalCode(f, row, "PLACE_PROVIDER", "provider");
  e.reason = OptionalCode(f, row, "REASON_PLACE_CHANGE", "reason_place_change");
  e.urn = Cell(f.csv, row, "URN");
  if (e.urn == kNoUrn) e.urn = {};
  return e;
}

// DEC and REC: an end that cannot be read, or is before DECOM, rejects the row (false).
bool Ssda903Adapter::ReadEpisodeEnd(const OpenFile& f, const CsvRow& row, Episode& e) {
  std::string_view dec = Cell(f.csv, row, "DEC");
  e.rec = OptionalCode(f, row, "REC", "reason_for_end");
  if (!dec.empty()) {
    auto d = ReturnDate(dec);
    if (!d.ok()) {
      Reject(f, row.line, "DEC", d.status().message(), "dec-unreadable");
      return false;
    }
    if (*d < e.decom) {
      Reject(f, row.line, "DEC", "before DECOM", "dec-before-decom");
      return false;
    }
    e.dec = *d;
    if (*d > CollectionYearEnd(e.year)) {
      Warn(f, row.line, "DEC", "after the end of the " + YearName(e.year) + " collection year",
           "dec-after-year-end");
    }
    if (e.rec.empty()) {
      Warn(f, row.line, "REC", "empty while DEC is given: the episode ends, reason unknown (X1)",
           "rec-missing");
      e.rec = kEpisodeEndsPeriodContinues;
    }
  } else if (!e.rec.empty()) {
    Warn(f, row.line, "REC", "given on an open episode (no DEC): ignored", "rec-on-open-episode");
    e.rec = {};
  }
  return true;
}

// PL_POST: out_of_area when the local postcode districts are known, else left unknown.
void Ssda903Adapter::ReadOutOfArea(const OpenFile& f, const CsvRow& row, Episode& e) {
  if (std::string_view pl_post = Cell(f.csv, row, "PL_POST"); !pl_post.empty()) {
    std::string district = District(pl_post);
    if (options_.local_postcode_districts.empty()) {
      if (!warned_no_districts_) {
        warned_no_districts_ = true;
        Warn(f, row.line, "PL_POST",
             "no local postcode districts: out_of_area is left unknown for every placement "
             "(pass --local-postcodes or set ssda903.local_postcode_districts)",
             "out-of-area-unknown");
      }
    } else if (district.empty()) {
      Warn(f, row.line, "PL_POST", "not a postcode or postcode district: out_of_area unknown",
           "postcode-unreadable");
    } else {
      const auto& local = options_.local_postcode_districts;
      e.out_of_area = std::find(local.begin(), local.end(), district) == local.end();
    }
  }
}

void Ssda903Adapter::Placement(EnvelopeWriter& w, const Episode& e) {
  w.Text("placement", e.place);
  if (!e.provider.empty()) w.Text("provider", e.provider);
  if (!e.urn.empty()) w.Text("home_id", e.urn);
  if (e.out_of_area) w.Flag("out_of_area", *e.out_of_area);
}

// Every episodes row of every file, per child: the same episode sent by several returns is
// one (the latest return's copy wins), and the child's care is then read as the DfE counts
// it: looked after on a day when an episode that is not a short break (V3/V4) covers it
// (DECOM <= day < DEC), described by the one that began last. Events mark where that
// changes: a period starts, its legal status or placement changes, it ends.
Status Ssda903Adapter::Episodes(const std::vector<OpenFile>& files) {
  std::vector<std::string> children;
  std::unordered_map<std::string, std::vector<Episode>> by_child;
  for (const auto& f : files) {
    if (f.kind != FileKind::kEpisodes) continue;
    for (const auto& row : f.csv.rows) {
      sink_.CountRow();
      auto e = ParseEpisode(f, row);
      if (!e) continue;
      auto [it, inserted] = by_child.try_emplace(e->child);
      if (inserted) children.push_back(e->child);
      it->second.push_back(std::move(*e));
    }
  }
  bool have_headers = std::any_of(files.begin(), files.end(),
                                  [](const OpenFile& f) { return f.kind == FileKind::kHeader; });
  for (const auto& child : children) {
    auto& episodes = by_child[child];
    std::vector<Episode> kept = OnePerDecom(episodes);
    if (have_headers && !header_children_.count(child)) {
      Warn(*kept.front().file, kept.front().line, "CHILD", "no header row for this child",
           "no-header-row");
    }
    CheckSequence(kept);
    CARELEDGER_RETURN_IF_ERROR(CareEvents(child, kept));
  }
  return Status::Ok();
}

// The child's episodes by DECOM, one per DECOM: the last copy of each run of equal DECOMs
// (the latest return's), each earlier copy a warning.
std::vector<Episode> Ssda903Adapter::OnePerDecom(std::vector<Episode>& episodes) {
  std::sort(episodes.begin(), episodes.end(), [](const Episode& a, const Episode& b) {
    if (a.decom != b.decom) return a.decom < b.decom;
    return CopyBefore(a.year, *a.file, a.line, b.year, *b.file, b.line);
  });
  std::vector<Episode> kept;
  for (auto& e : episodes) {
    if (!kept.empty() && kept.back().decom == e.decom) {
      const Episode& earlier = kept.back();
      Warn(*e.file, e.line, "DECOM",
           "the same episode as " + earlier.file->csv.path + ":" + std::to_string(earlier.line) +
               " (this later copy is kept)",
           "episode-resent");
      kept.back() = e;
      continue;
    }
    kept.push_back(e);
  }
  return kept;
}

// Findings that leave the figures well defined: overlaps (the child is counted once) and a
// gap after an episode that said the care went on.
void Ssda903Adapter::CheckSequence(const std::vector<Episode>& episodes) {
  std::optional<Date> reach;  // the latest DEC so far; nullopt: still open
  const Episode* reaching = nullptr;
  for (const auto& e : episodes) {
    if (reaching != nullptr) {
      if (!reach || *reach > e.decom) {
        Warn(*e.file, e.line, "DECOM",
             "overlaps the episode on " + reaching->file->csv.path + ":" +
                 std::to_string(reaching->line) +
                 " (the child is counted once, described by the episode that began last)",
             "overlapping-episodes");
      } else if (*reach < e.decom && reaching->rec == kEpisodeEndsPeriodContinues) {
        Warn(*e.file, e.line, "DECOM",
             "starts after a gap: the episode on " + reaching->file->csv.path + ":" +
                 std::to_string(reaching->line) +
                 " ended X1 (care continues); not looked after in between",
             "gap-between-episodes");
      }
    }
    if (reaching == nullptr || (reach && (!e.dec || *e.dec >= *reach))) {
      reach = e.dec;
      reaching = &e;
    }
  }
}

// The care events of one child's episodes (sorted by DECOM, one per DECOM).
Status Ssda903Adapter::CareEvents(const std::string& child, const std::vector<Episode>& episodes) {
  std::set<Date> boundaries;
  for (const auto& e : episodes) {
    boundaries.insert(e.decom);
    if (e.dec) boundaries.insert(*e.dec);
  }
  const Episode* current = nullptr;  // describing the child's care; null when not in care
  for (Date b : boundaries) {
    // Of the episodes covering b, the one that began last, a short break only when nothing
    // else covers it.
    const Episode* next = nullptr;
    for (const auto& e : episodes) {
      if (e.decom > b) break;
      if (e.dec && *e.dec <= b) continue;
      if (next == nullptr || !e.short_break || next->short_break) next = &e;
    }
    if (next == current) continue;
    const std::string day = FormatDate(b);
    std::vector<PendingEvent> events;
    // Every event is keyed by the row that caused it (its DECOM, the episode's key in the
    // return), so a re-sent row gives the same ids: a new episode's start or change, else
    // the end of the one that was describing the care.
    const bool starts_here = next != nullptr && next->decom == b;
    const Episode& by = starts_here ? *next : *current;
    const std::string key = FormatDate(by.decom);
    if (current == nullptr) {
      auto w = Writer("care.period_started", child, key, day, by);
      w.Text("legal_status", next->ls);
      Placement(w, *next);
      events.push_back({std::move(w).FinishVersion(), Columns(true, true)});
    } else if (next == nullptr) {
      auto w = Writer("care.period_ended", child, key, day, by);
      w.Text("reason", current->rec.empty() ? kEpisodeEndsPeriodContinues : current->rec);
      events.push_back({std::move(w).FinishVersion(),
                        {{"child_id", "CHILD"}, {"data.reason", "REC"}, {"event_id", "DECOM"}}});
    } else {
      // A new episode says what changed (RNE); a return to an overlapping older one, when
      // the newer ends, changes whatever differs.
      const std::string change_key = starts_here ? key : key + "/end";
      bool ls = next->ls != current->ls || (starts_here && next->rne->legal_status_changes);
      bool place = !next->SamePlacement(*current) || (starts_here && next->rne->placement_changes);
      if (ls) {
        auto w = Writer("care.legal_status_changed", child, change_key, day, by);
        w.Text("legal_status", next->ls);
        events.push_back({std::move(w).FinishVersion(), Columns(true, false)});
      }
      if (place) {
        auto w = Writer("care.placement_changed", child, change_key, day, by);
        Placement(w, *next);
        if (starts_here && !next->reason.empty()) w.Text("reason", next->reason);
        events.push_back({std::move(w).FinishVersion(), Columns(false, true)});
      }
    }
    current = next;
    if (events.empty()) continue;
    CARELEDGER_RETURN_IF_ERROR(Emit(*by.file, by.line, std::move(events)));
  }
  return Status::Ok();
}

EnvelopeWriter Ssda903Adapter::Writer(std::string_view type, const std::string& child,
                                      const std::string& key, const std::string& day,
                                      const Episode& from) {
  return EnvelopeWriter(EventId(type, child, key), type, kSource, child, day,
                        FormatInstant(from.file->extracted_at));
}

std::vector<std::pair<std::string, std::string_view>> Ssda903Adapter::Columns(bool ls, bool place) {
  std::vector<std::pair<std::string, std::string_view>> c = {{"child_id", "CHILD"},
                                                             {"event_id", "DECOM"}};
  if (ls) c.emplace_back("data.legal_status", "LS");
  if (place) {
    c.emplace_back("data.placement", "PLACE");
    c.emplace_back("data.provider", "PLACE_PROVIDER");
    c.emplace_back("data.home_id", "URN");
    c.emplace_back("data.reason", "REASON_PLACE_CHANGE");
  }
  return c;
}

}  // namespace careledger::feed::ssda903_detail
