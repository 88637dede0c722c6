// The feed adapters, without Kafka: the example files in ops/examples give exactly the events
// written out by hand in golden/, and every kind of bad row is named by file, line, column and
// reason — never by its content.
#include <gtest/gtest.h>
#include <sys/time.h>

#include <filesystem>
#include <string>
#include <vector>

#include "careledger/producers.h"
#include "test_support.h"

namespace careledger {
namespace {

std::string Example(std::string_view name) {
  return std::string(CARELEDGER_SOURCE_DIR) + "/ops/examples/" + std::string(name);
}
std::string Golden(std::string_view name) {
  return test::ReadFile(std::string(CARELEDGER_SOURCE_DIR) + "/tests/unit/golden/" +
                        std::string(name));
}

const std::vector<std::string> kSsda903Files = {
    Example("ssda903_header.csv"), Example("ssda903_episodes.csv"), Example("ssda903_missing.csv"),
    Example("ssda903_oc3.csv")};

AdapterOptions Options() {
  AdapterOptions o;
  o.extracted_at = ParseTimestamp("2025-06-30T09:00:00Z")->instant;
  o.local_postcode_districts = {"LS1", "LS2", "LS6"};
  return o;
}

struct Adapted {
  Status status;
  AdaptReport report;
  std::vector<FeedEvent> events;
  std::vector<Reject> rejects;
  std::vector<Finding> warnings;

  std::string Envelopes() const {
    std::string out;
    for (const auto& e : events) out += e.envelope + "\n";
    return out;
  }
  std::vector<std::string> Rejects() const {
    std::vector<std::string> out;
    for (const auto& r : rejects) out.push_back(r.ToString());
    return out;
  }
  std::vector<std::string> Warnings() const {
    std::vector<std::string> out;
    for (const auto& w : warnings) out.push_back(w.ToString());
    return out;
  }
};

Adapted Adapt(FeedFormat format, const std::vector<std::string>& files,
              const AdapterOptions& options = Options()) {
  Adapted a;
  AdapterOptions with_warnings = options;
  with_warnings.on_warning = [&](Finding&& f) { a.warnings.push_back(std::move(f)); };
  auto r = AdaptFiles(format, files, with_warnings, a.events, a.rejects);
  if (r.ok()) {
    a.report = *r;
  } else {
    a.status = r.status();
  }
  return a;
}

// The record an envelope is a version of ("" when it has no source_key).
std::string SourceKey(const std::string& envelope) {
  constexpr std::string_view kKey = R"("source_key":")";
  size_t at = envelope.find(kKey);
  if (at == std::string::npos) return {};
  at += kKey.size();
  return envelope.substr(at, envelope.find('"', at) - at);
}

// One file in a temporary directory, for the reject cases.
struct OneFile {
  test::TempDir dir;
  std::string path;
  explicit OneFile(std::string_view content, std::string_view name = "in.csv") : path(dir / name) {
    test::WriteFile(path, content);
  }
};

constexpr char kEpisodesHeader[] =
    "CHILD,DECOM,RNE,LS,CIN,PLACE,PLACE_PROVIDER,DEC,REC,REASON_PLACE_CHANGE,HOME_POST,PL_POST,"
    "URN\n";
constexpr char kPoliceHeader[] =
    "record_type,child_id,occurred_at,recorded_at,episode_id,category,risk,home_id,offence_id,"
    "offence_group,offence_type,knife_related,at_placement,home_office_outcome,disposal,"
    "incident_id,reason\n";

// ---- Golden files ---------------------------------------------------------------------------

TEST(Ssda903Adapter, ExampleFilesGiveTheHandWrittenEvents) {
  auto a = Adapt(FeedFormat::kSsda903, kSsda903Files);
  ASSERT_TRUE(a.status.ok()) << a.status.message();
  EXPECT_EQ(a.Rejects(), std::vector<std::string>{});
  EXPECT_EQ(a.Envelopes(), Golden("ssda903.jsonl"));
  EXPECT_EQ(a.report.rows, 17u);  // 5 header + 7 episodes + 3 missing + 2 OC3
  EXPECT_EQ(a.report.events, 22u);
  EXPECT_EQ(a.report.rejected, 0u);
}

TEST(Ssda903Adapter, EachEventNamesTheRowItCameFromAndItsKey) {
  auto a = Adapt(FeedFormat::kSsda903, kSsda903Files);
  ASSERT_EQ(a.events.size(), 22u);
  // C1001's placement change is on line 5 of the episodes file (rows are sorted by DECOM).
  const FeedEvent& change = a.events[6];
  EXPECT_EQ(change.type, EventType::kCarePlacementChanged);
  EXPECT_EQ(change.child_id, "C1001");
  EXPECT_EQ(change.file, Example("ssda903_episodes.csv"));
  EXPECT_EQ(change.line, 5u);
  // The legal status change and the period's end both come from line 3.
  EXPECT_EQ(a.events[7].type, EventType::kCareLegalStatusChanged);
  EXPECT_EQ(a.events[7].line, 3u);
  EXPECT_EQ(a.events[8].type, EventType::kCarePeriodEnded);
  EXPECT_EQ(a.events[8].line, 3u);
  EXPECT_EQ(a.events[21].type, EventType::kCareLeaverContactRecorded);
  EXPECT_EQ(a.events[21].file, Example("ssda903_oc3.csv"));
  EXPECT_EQ(a.events[21].line, 3u);
}

TEST(Ssda903Adapter, ReRunsAndOtherFileOrdersGiveTheSameBytes) {
  auto first = Adapt(FeedFormat::kSsda903, kSsda903Files);
  auto again = Adapt(FeedFormat::kSsda903, kSsda903Files);
  auto reversed = Adapt(FeedFormat::kSsda903, {kSsda903Files.rbegin(), kSsda903Files.rend()});
  EXPECT_EQ(again.Envelopes(), first.Envelopes());
  EXPECT_EQ(reversed.Envelopes(), first.Envelopes());
}

TEST(PoliceCsvAdapter, ExampleFileGivesTheHandWrittenEvents) {
  auto a = Adapt(FeedFormat::kPoliceCsv, {Example("police.csv")});
  ASSERT_TRUE(a.status.ok()) << a.status.message();
  EXPECT_EQ(a.Rejects(), std::vector<std::string>{});
  EXPECT_EQ(a.Envelopes(), Golden("police.jsonl"));
  EXPECT_EQ(a.report.rows, 7u);
  EXPECT_EQ(a.report.events, 7u);
  EXPECT_EQ(a.events[6].type, EventType::kPlacementPoliceCallout);
  EXPECT_EQ(a.events[6].line, 8u);
}

TEST(YjsCsvAdapter, ExampleFileGivesTheHandWrittenEvents) {
  auto a = Adapt(FeedFormat::kYjsCsv, {Example("yjs.csv")});
  ASSERT_TRUE(a.status.ok()) << a.status.message();
  EXPECT_EQ(a.Rejects(), std::vector<std::string>{});
  EXPECT_EQ(a.Envelopes(), Golden("yjs.jsonl"));
  EXPECT_EQ(a.report.rows, 5u);
  EXPECT_EQ(a.report.events, 5u);
}

TEST(JsonlAdapter, PassesValidEnvelopesThroughByteForByte) {
  OneFile f(Golden("police.jsonl") + "\n   \n" + Golden("yjs.jsonl"), "in.jsonl");
  auto a = Adapt(FeedFormat::kJsonl, {f.path});
  EXPECT_EQ(a.Envelopes(), Golden("police.jsonl") + Golden("yjs.jsonl"));
  EXPECT_EQ(a.report.rows, 12u) << "blank lines are not rows";
  EXPECT_EQ(a.events[7].line, 10u) << "lines are counted with the blank ones";
}

TEST(JsonlAdapter, AByteOrderMarkDoesNotCostTheFirstLine) {
  // As a Windows editor saves UTF-8: before, the first event was refused as not JSON.
  OneFile f("\xEF\xBB\xBF" + Golden("police.jsonl"), "bom.jsonl");
  auto a = Adapt(FeedFormat::kJsonl, {f.path});
  EXPECT_EQ(a.Envelopes(), Golden("police.jsonl"));
  EXPECT_EQ(a.report.rows, a.report.events);
  EXPECT_EQ(a.rejects.size(), 0u);
}

// ---- SSDA903 rejects ------------------------------------------------------------------------

TEST(Ssda903Adapter, BadDatesAreNamedAndTheOtherRowsPublished) {
  OneFile f(
      "CHILD,SEX,DOB,ETHNIC\n"
      "C1,1,31/02/2010,WBRI\n"
      "C2,2,2010/02/01,WBRI\n"
      "C3,2,01/02/2010,WBRI\n"
      "C4,1,,WBRI\n");
  auto a = Adapt(FeedFormat::kSsda903, {f.path});
  EXPECT_EQ(a.Rejects(),
            (std::vector<std::string>{
                f.path + ":2: field 'DOB': no such calendar date [dob-unreadable]",
                f.path + ":3: field 'DOB': not a date (dd/mm/yyyy or yyyy-mm-dd) [dob-unreadable]",
                f.path + ":5: field 'DOB': required [dob-unreadable]",
            }));
  ASSERT_EQ(a.events.size(), 1u);
  EXPECT_EQ(a.events[0].child_id, "C3");
  EXPECT_EQ(a.report.rows, 4u);
  EXPECT_EQ(a.report.rejected, 3u);
}

TEST(Ssda903Adapter, UnknownColumnSetEmptyFileAndMissingColumnRejectTheFile) {
  OneFile unknown("CHILD,SHOE_SIZE\nC1,5\n");
  OneFile empty("");
  OneFile no_dec("CHILD,DECOM,RNE,LS,PLACE\nC1,01/04/2024,S,C2,U1\n");
  OneFile two_missing("CHILD,MISSING,MIS_START\nC1,M,01/04/2024\n");
  auto a = Adapt(FeedFormat::kSsda903, {unknown.path, empty.path, no_dec.path, two_missing.path});
  ASSERT_TRUE(a.status.ok());
  EXPECT_EQ(a.Rejects(),
            (std::vector<std::string>{
                unknown.path +
                    ":1: unknown column set: not an SSDA903 header, episodes, missing or OC3 file "
                    "[unknown-file]",
                empty.path + ":1: empty file: no header row",
                no_dec.path + ":1: field 'DEC': required column missing from the header",
                two_missing.path + ":1: field 'MIS_END': required column missing from the header",
            }));
  EXPECT_EQ(a.events.size(), 0u);
}

TEST(Ssda903Adapter, OnlyRowsThatCannotBeUnderstoodAreRejectedTheRestWarn) {
  OneFile header("CHILD,SEX,DOB,ETHNIC\nC1,3,01/02/2010,WBRI\n");
  OneFile episodes(std::string(kEpisodesHeader) +
                   "C1,01/04/2023,S,C2,N1,Q9,PR1,,,,,,\n"              // unknown PLACE
                   "C2,01/04/2023,S,C2,N1,U1,PR1,01/05/2023,Z9,,,,\n"  // unknown REC
                   "C3,01/04/2023,Q,C2,N1,U1,PR1,,,,,,\n"              // unknown RNE
                   "C4,01/04/2023,S,C2,N1,U1,PR9,,,,,,\n"              // unknown provider
                   "C5,01/04/2023,S,Q1,N1,U1,PR1,,,,,,\n");            // unknown LS
  OneFile missing("CHILD,MISSING,MIS_START,MIS_END\nC1,X,01/02/2024,\n");
  auto a = Adapt(FeedFormat::kSsda903, {header.path, episodes.path, missing.path});
  EXPECT_EQ(
      a.Rejects(),
      (std::vector<std::string>{
          episodes.path + ":2: field 'PLACE': not a known placement code [placement-not-valid]",
          episodes.path + ":6: field 'LS': not a known legal_status code [legal-status-not-valid]",
          missing.path + ":2: field 'MISSING': not a known code (M, A) [code-unknown]",
      }));
  EXPECT_EQ(
      a.Warnings(),
      (std::vector<std::string>{
          header.path + ":2: field 'SEX': not a known code (1, 2, M, F, U): recorded as U "
                        "[code-unknown]",
          episodes.path +
              ":3: field 'REC': not a known reason_for_end code: left out [code-unknown]",
          episodes.path + ":3: field 'REC': empty while DEC is given: the episode ends, reason "
                          "unknown (X1) [rec-missing]",
          episodes.path + ":4: field 'RNE': not a known code (S, L, P, T, U, B): the episode is "
                          "read by its dates [code-unknown]",
          episodes.path + ":5: field 'PLACE_PROVIDER': not a known provider code: left out "
                          "[code-unknown]",
          episodes.path + ":3: field 'CHILD': no header row for this child [no-header-row]",
          episodes.path + ":4: field 'CHILD': no header row for this child [no-header-row]",
          episodes.path + ":5: field 'CHILD': no header row for this child [no-header-row]",
      }));
  // C1's registration; C2's start and end; C3's and C4's starts.
  EXPECT_EQ(a.events.size(), 5u);
  EXPECT_EQ(a.report.warnings.at("code-unknown"), 4u);
}

TEST(Ssda903Adapter, EpisodesAreReadAsTheDfeCountsThem) {
  OneFile episodes(std::string(kEpisodesHeader) +
                   // An X1 end followed by a gap: not looked after in between.
                   "C1,01/04/2023,S,C2,N1,U1,PR1,01/05/2023,X1,,,,\n"
                   "C1,01/06/2023,P,C2,N1,U3,PR1,,,,,,\n"
                   // Overlapping episodes: counted once, the later one describes the care
                   // while it lasts, then the earlier one again.
                   "C2,01/04/2023,S,C2,N1,U1,PR1,,,,,,\n"
                   "C2,01/06/2023,P,C2,N1,K2,PR1,01/08/2023,X1,,,,\n"
                   // REC on an open episode is ignored; DEC before DECOM cannot be understood.
                   "C3,01/04/2023,S,C2,N1,U1,PR1,,E11,,,,\n"
                   "C4,01/04/2023,S,C2,N1,U1,PR1,01/03/2023,E11,,,,\n"
                   // A short break beside care does not stop the care being counted.
                   "C5,01/04/2023,S,C2,N1,U1,PR1,,,,,,\n"
                   "C5,01/05/2023,S,V3,N1,U6,PR1,03/05/2023,E8,,,,\n");
  auto a = Adapt(FeedFormat::kSsda903, {episodes.path});
  const std::string p = episodes.path;
  EXPECT_EQ(a.Rejects(),
            std::vector<std::string>{p + ":7: field 'DEC': before DECOM [dec-before-decom]"});
  EXPECT_EQ(a.Warnings(),
            (std::vector<std::string>{
                p + ":6: field 'REC': given on an open episode (no DEC): ignored "
                    "[rec-on-open-episode]",
                p + ":3: field 'DECOM': starts after a gap: the episode on " + p +
                    ":2 ended X1 (care continues); not looked after in between "
                    "[gap-between-episodes]",
                p + ":5: field 'DECOM': overlaps the episode on " + p +
                    ":4 (the child is counted once, described by the episode that began last) "
                    "[overlapping-episodes]",
                p + ":9: field 'DECOM': overlaps the episode on " + p +
                    ":8 (the child is counted once, described by the episode that began last) "
                    "[overlapping-episodes]",
            }));
  std::vector<std::string> ids;
  for (const auto& e : a.events) ids.push_back(e.child_id + " " + e.envelope.substr(8, 60));
  std::vector<std::string> want;
  for (const char* id : {
           "ssda903:care.period_started:C1:2023-04-01",
           "ssda903:care.period_ended:C1:2023-04-01",
           "ssda903:care.period_started:C1:2023-06-01",
           "ssda903:care.period_started:C2:2023-04-01",
           "ssda903:care.placement_changed:C2:2023-06-01",
           "ssda903:care.placement_changed:C2:2023-06-01/end",
           "ssda903:care.period_started:C3:2023-04-01",
           "ssda903:care.period_started:C5:2023-04-01",
       }) {
    want.push_back(id);
  }
  std::vector<std::string> got;
  for (const auto& e : a.events) got.push_back(SourceKey(e.envelope));
  EXPECT_EQ(got, want);
  // C2 is back in U1 on 1 August, the day the overlapping K2 episode ends.
  EXPECT_NE(a.events[5].envelope.find(R"("occurred_at":"2023-08-01")"), std::string::npos);
  EXPECT_NE(a.events[5].envelope.find(R"("placement":"U1")"), std::string::npos);
}

TEST(Ssda903Adapter, TheSameEpisodeReSentByALaterReturnIsOneEpisode) {
  // A multi-year extract: the 2017 return has the episode open, the 2018 one closed.
  OneFile episodes(
      "CHILD,DECOM,RNE,LS,CIN,PLACE,PLACE_PROVIDER,DEC,REC,REASON_PLACE_CHANGE,HOME_POST,PL_POST,"
      "URN,LA,YEAR\r\n"
      "C1,2018-01-10,S,C2,N1,U1,PR1,2018-06-01,E11,,,,,Bromley,2018\r\n"
      "C1,2018-01-10,S,C2,N1,U1,PR1,,X1,,,,,Bromley,2017\r\n"
      "C1,2018-02-01,S,C2,N1,U4,PR1,,,,,,,Southwark,2017\r\n");
  auto a = Adapt(FeedFormat::kSsda903, {episodes.path});
  EXPECT_EQ(a.Rejects(), std::vector<std::string>{});
  ASSERT_EQ(a.events.size(), 3u);
  EXPECT_EQ(a.events[0].child_id, "Bromley/C1") << "(LA, CHILD) is the child";
  EXPECT_EQ(a.events[1].type, EventType::kCarePeriodEnded);
  EXPECT_NE(a.events[1].envelope.find(R"("occurred_at":"2018-06-01")"), std::string::npos);
  EXPECT_EQ(a.events[2].child_id, "Southwark/C1");
  EXPECT_EQ(a.report.warnings.at("episode-resent"), 1u);
  EXPECT_EQ(a.report.warnings.count("rec-on-open-episode"), 1u) << "the 2017 copy's X1";
}

TEST(Ssda903Adapter, AChangedRowIsANewVersionOfItsRecordAndAnUnchangedOneTheSameEvent) {
  OneFile first(std::string(kEpisodesHeader) + "C1,01/04/2023,S,C2,N1,U1,PR1,,,,,,\n");
  OneFile closed(std::string(kEpisodesHeader) +
                 "C1,01/04/2023,S,C2,N1,U1,PR1,01/06/2023,E11,,,,\n");
  OneFile recoded(std::string(kEpisodesHeader) +
                  "C1,01/04/2023,S,C2,N1,U3,PR1,01/06/2023,E11,,,,\n");
  AdapterOptions o = Options();
  auto a = Adapt(FeedFormat::kSsda903, {first.path}, o);
  o.extracted_at = ParseTimestamp("2025-09-30T09:00:00Z")->instant;  // a later extract
  auto b = Adapt(FeedFormat::kSsda903, {closed.path}, o);
  auto c = Adapt(FeedFormat::kSsda903, {recoded.path}, o);
  ASSERT_EQ(a.events.size(), 1u);
  ASSERT_EQ(b.events.size(), 2u);
  ASSERT_EQ(c.events.size(), 2u);
  auto id = [](const FeedEvent& e) {
    size_t at = e.envelope.find("\"event_id\":\"") + 12;
    return e.envelope.substr(at, e.envelope.find('"', at) - at);
  };
  // The start did not change: the same id, only recorded_at differs (ingest: a duplicate).
  EXPECT_EQ(id(b.events[0]), id(a.events[0]));
  EXPECT_NE(b.events[0].envelope, a.events[0].envelope);
  // The placement was corrected: the same record, a new version.
  EXPECT_EQ(SourceKey(c.events[0].envelope), SourceKey(a.events[0].envelope));
  EXPECT_NE(id(c.events[0]), id(a.events[0]));
  EXPECT_EQ(id(c.events[0]).substr(0, id(c.events[0]).find('@')), SourceKey(a.events[0].envelope));
}

TEST(Ssda903Adapter, ACodeIsJudgedByTheReturnsYear) {
  // H5 was retired after 2023/24 (schemas/codes/placement.json); the 2024 return may not use it.
  OneFile episodes(
      "CHILD,DECOM,RNE,LS,PLACE,DEC,YEAR\n"
      "C1,2018-01-10,S,C2,H5,,2017\n"
      "C2,2024-05-10,S,C2,H5,,2024\n");
  auto a = Adapt(FeedFormat::kSsda903, {episodes.path});
  ASSERT_EQ(a.Rejects().size(), 1u);
  EXPECT_EQ(a.rejects[0].line, 3u);
  EXPECT_EQ(a.rejects[0].rule, "placement-not-valid");
  EXPECT_EQ(a.rejects[0].reason.substr(0, 57),
            "'H5' is not a valid placement code in 2024/25 returns (va");
  EXPECT_EQ(a.events.size(), 1u);
}

TEST(Ssda903Adapter, WithoutLocalPostcodeDistrictsOutOfAreaIsUnknown) {
  AdapterOptions o = Options();
  o.local_postcode_districts.clear();
  auto a = Adapt(FeedFormat::kSsda903, kSsda903Files, o);
  ASSERT_TRUE(a.status.ok()) << a.status.message();
  EXPECT_EQ(a.Rejects(), std::vector<std::string>{});
  EXPECT_EQ(a.Warnings(),
            std::vector<std::string>{
                Example("ssda903_episodes.csv") +
                ":2: field 'PL_POST': no local postcode districts: out_of_area is left unknown for "
                "every placement (pass --local-postcodes or set "
                "ssda903.local_postcode_districts) [out-of-area-unknown]"});
  EXPECT_EQ(a.events.size(), 22u);
  for (const auto& e : a.events) EXPECT_EQ(e.envelope.find("out_of_area"), std::string::npos);
}

TEST(Ssda903Adapter, MalformedPostcodeWarnsWithoutEchoingIt) {
  OneFile episodes(std::string(kEpisodesHeader) + "C1,01/04/2023,S,C2,N1,U1,PR1,,,,,9Z9 9ZZ,\n");
  auto a = Adapt(FeedFormat::kSsda903, {episodes.path});
  EXPECT_EQ(a.Rejects(), std::vector<std::string>{});
  EXPECT_EQ(a.Warnings(),
            std::vector<std::string>{episodes.path +
                                     ":2: field 'PL_POST': not a postcode or postcode district: "
                                     "out_of_area unknown [postcode-unreadable]"});
  EXPECT_EQ(a.events.size(), 1u);
}

TEST(Ssda903Adapter, Oc3DateIsTheYearEndOptionElseTheLast31MarchBeforeTheExtract) {
  OneFile oc3("CHILD,IN_TOUCH,ACTIV,ACCOM\nC1,YES,F1,B1\nC2,,,\n");
  AdapterOptions o = Options();
  o.extracted_at = ParseTimestamp("2025-03-30T23:00:00Z")->instant;
  auto a = Adapt(FeedFormat::kSsda903, {oc3.path}, o);
  EXPECT_EQ(a.Rejects(), std::vector<std::string>{
                             oc3.path + ":3: field 'IN_TOUCH': required [in-touch-required]"});
  ASSERT_EQ(a.events.size(), 1u);
  EXPECT_EQ(SourceKey(a.events[0].envelope), "ssda903:care_leaver.contact_recorded:C1:2024-03-31");
  EXPECT_NE(
      a.events[0].envelope.find(
          R"("type":"care_leaver.contact_recorded","schema_version":1,"source":"ssda903",)"
          R"("child_id":"C1","occurred_at":"2024-03-31","recorded_at":"2025-03-30T23:00:00Z",)"
          R"("source_key":"ssda903:care_leaver.contact_recorded:C1:2024-03-31",)"
          R"("data":{"in_touch":"YES","activity":"F1","accommodation":"B1"}})"),
      std::string::npos)
      << a.events[0].envelope;
  o.year_end = *ParseDate("2025-03-31");
  o.extracted_at = ParseTimestamp("2025-04-02T08:00:00Z")->instant;  // after the year end
  auto b = Adapt(FeedFormat::kSsda903, {oc3.path}, o);
  ASSERT_EQ(b.events.size(), 1u);
  EXPECT_EQ(SourceKey(b.events[0].envelope), "ssda903:care_leaver.contact_recorded:C1:2025-03-31");
}

TEST(Ssda903Adapter, WithoutExtractTimeRecordedAtIsTheFilesModificationTime) {
  OneFile header("CHILD,SEX,DOB,ETHNIC\nC1,1,01/02/2010,WBRI\n");
  struct timeval times[2] = {{1719738000, 0}, {1719738000, 0}};  // 2024-06-30T09:00:00Z
  ASSERT_EQ(::utimes(header.path.c_str(), times), 0);
  AdapterOptions o = Options();
  o.extracted_at.reset();
  auto a = Adapt(FeedFormat::kSsda903, {header.path}, o);
  ASSERT_EQ(a.events.size(), 1u);
  EXPECT_NE(a.events[0].envelope.find(R"("recorded_at":"2024-06-30T09:00:00Z")"), std::string::npos)
      << a.events[0].envelope;
}

TEST(Ssda903Adapter, QuotedCellsAreReadAndBrokenRecordsAreRejectedWithoutBeingRead) {
  OneFile header(
      "\xEF\xBB\xBF\"CHILD\",SEX,DOB,ETHNIC\r\n"
      "\"C1\", 1 ,\"01/02/2010\",WBRI\r\n"
      "C3,2,01/02/2010,\"WB\"RI\n"
      "C4,2,01/02/2010,WBRI,LS6\n"
      "C5,2,01/02/2010\n"
      "C2,2,01/02/2010,\"WBRI\n");
  auto a = Adapt(FeedFormat::kSsda903, {header.path});
  EXPECT_EQ(a.Rejects(), (std::vector<std::string>{
                             header.path + ":3: text after a closing quote",
                             header.path + ":4: 5 cells where the header has 4",
                             header.path + ":5: 3 cells where the header has 4",
                             header.path + ":6: unterminated quoted cell",
                         }));
  EXPECT_EQ(a.report.rows, 5u);
  ASSERT_EQ(a.events.size(), 1u);
  EXPECT_EQ(a.events[0].child_id, "C1");
}

// ---- Police and YJS rejects ----------------------------------------------------------------

TEST(PoliceCsvAdapter, EveryKindOfBadRowIsNamed) {
  OneFile f(std::string(kPoliceHeader) +
            "teleport,C1,2024-01-01,,,,,,,,,,,,,,\n"                              // 2
            "missing_reported,C1,2024-01-01,,MP-1,missing,,,,,,,,,,,\n"           // 3
            "offence,C1,2024-01-01,,,,,,OF-1,theft_handling,,maybe,Y,,,,\n"       // 4
            "outcome,C1,2024-02-01,,,,,,OF-1,,,,,23,,,\n"                         // 5
            "outcome,C1,2024-02-01,,,,,,OF-1,,,,,,,,\n"                           // 6
            "offence,C1,2024-01-01,2024-01-02,,,,,OF-2,theft_handling,,,N,,,,\n"  // 7
            "offence,,2024-01-01,,,,,,OF-3,theft_handling,,,N,,,,\n"              // 8
            "offence,C1,01/01/2024,,,,,,OF-4,theft_handling,,,N,,,,\n"            // 9
            "callout,C1,2024-01-01,,,,,H1,,,,,,,,,restraint\n"                    // 10
            "offence,C1,2024-01-01,,,,,,OF-5,theft_handling,,,N,,,,\n"            // 11
            "offence,C1,2024-01-01,,,,,,OF-5,robbery,,,N,,,,\n");                 // 12
  auto a = Adapt(FeedFormat::kPoliceCsv, {f.path});
  const std::string p = f.path;
  EXPECT_EQ(
      a.Rejects(),
      (std::vector<std::string>{
          p + ":2: field 'record_type': not a known police-csv record type "
              "(missing_reported, missing_returned, offence, outcome, callout)",
          p + ":3: field 'risk': required for record_type missing_reported",
          p + ":4: field 'knife_related': must be Y or N",
          p + ":5: field 'home_office_outcome': not a Home Office outcome code (1–22)",
          p + ":6: field 'home_office_outcome': one of home_office_outcome or disposal is "
              "required for record_type outcome",
          p + ":7: field 'recorded_at': must be a date-time, not a date",
          p + ":8: field 'child_id': required",
          p + ":9: field 'occurred_at': not an RFC 3339 date (YYYY-MM-DD)",
          p + ":10: field 'incident_id': required for record_type callout",
          p + ":12: field 'offence_id': the same source key as line 11 with different content",
      }));
  ASSERT_EQ(a.events.size(), 1u);
  EXPECT_EQ(a.events[0].line, 11u);
  EXPECT_EQ(a.report.rows, 11u);
  EXPECT_EQ(a.report.rejected, 10u);
}

TEST(PoliceCsvAdapter, MissingRequiredColumnsAndAbsentOptionalOnesAreToldApart) {
  OneFile no_child("record_type,occurred_at,offence_id\noffence,2024-01-01,OF-1\n");
  // Only the columns offences need: a missing report row in it lacks its columns.
  OneFile offences_only(
      "record_type,child_id,occurred_at,offence_id,offence_group,at_placement\n"
      "offence,C1,2024-01-01,OF-1,drugs,N\n"
      "missing_reported,C1,2024-01-01,,,\n");
  auto a = Adapt(FeedFormat::kPoliceCsv, {no_child.path, offences_only.path});
  EXPECT_EQ(
      a.Rejects(),
      (std::vector<std::string>{
          no_child.path + ":1: field 'child_id': required column missing from the header",
          offences_only.path + ":3: field 'episode_id': column missing from the header (needed for "
                               "record_type missing_reported)",
      }));
  ASSERT_EQ(a.events.size(), 1u);
  EXPECT_EQ(
      a.events[0].envelope,
      R"({"event_id":"police-rms:offence.recorded:OF-1","type":"offence.recorded",)"
      R"("schema_version":1,"source":"police-rms","child_id":"C1","occurred_at":"2024-01-01",)"
      R"("recorded_at":"2025-06-30T09:00:00Z","data":{"offence_id":"OF-1",)"
      R"("offence_group":"drugs","at_placement":false}})");
}

TEST(YjsCsvAdapter, CourtOutcomeNeedsADisposalAndRecordTypesAreYjsOnes) {
  OneFile f(
      "record_type,child_id,occurred_at,recorded_at,case_id,intervention,offence_id,disposal\n"
      "court_outcome,C1,2024-06-14,,,,OF-1,\n"
      "offence,C1,2024-06-14,,,,OF-1,\n"
      "case_closed,C1,2024-06-14,,YJ-1,,,\n");
  auto a = Adapt(FeedFormat::kYjsCsv, {f.path});
  EXPECT_EQ(a.Rejects(),
            (std::vector<std::string>{
                f.path + ":2: field 'disposal': required for record_type court_outcome",
                f.path + ":3: field 'record_type': not a known yjs-csv record type "
                         "(case_opened, case_closed, court_outcome, remand)",
                f.path + ":4: field 'intervention': required for record_type case_closed",
            }));
  EXPECT_EQ(a.events.size(), 0u);
}

// ---- JSON Lines, rejects file ---------------------------------------------------------------

TEST(JsonlAdapter, RejectsKeepTheMessagesPublishHasAlwaysPrinted) {
  OneFile f(R"({"event_id":"x","type":"care.period_started","schema_version":1,"source":"lcs",)"
            R"("occurred_at":"2024-01-01","recorded_at":"2024-01-02T00:00:00Z","data":{}})"
            "\n[1]\n",
            "in.jsonl");
  auto a = Adapt(FeedFormat::kJsonl, {f.path});
  EXPECT_EQ(a.Rejects(), (std::vector<std::string>{f.path + ":1: field 'child_id': required",
                                                   f.path + ":2: not a JSON object"}));
  ASSERT_EQ(a.rejects.size(), 2u);
  EXPECT_EQ(a.rejects[1].field, "");
}

TEST(RejectsFile, HoldsFileLineFieldAndReasonOnlyAndNeverDescribesAnotherRun) {
  test::TempDir dir;
  {
    RejectsFile file(dir / "r.jsonl");
    ASSERT_TRUE(file.Add({"a \"b\".csv", 3, "DOB", "no such calendar date", ""}).ok());
    ASSERT_TRUE(file.Add({"x.jsonl", 12, "", "not a JSON object", ""}).ok());
    ASSERT_TRUE(file.Finish().ok());
    EXPECT_EQ(file.count(), 2u);
  }
  EXPECT_EQ(test::ReadFile(dir / "r.jsonl"),
            "{\"file\":\"a \\\"b\\\".csv\",\"line\":3,\"field\":\"DOB\",\"reason\":\"no such "
            "calendar date\"}\n"
            "{\"file\":\"x.jsonl\",\"line\":12,\"field\":\"\",\"reason\":\"not a JSON object\"}\n");
  // A clean run empties the earlier run's file, and creates none where there was none.
  ASSERT_TRUE(RejectsFile(dir / "r.jsonl").Finish().ok());
  EXPECT_EQ(test::ReadFile(dir / "r.jsonl"), "");
  ASSERT_TRUE(RejectsFile(dir / "none.jsonl").Finish().ok());
  EXPECT_FALSE(std::filesystem::exists(dir / "none.jsonl"));
  RejectsFile unwritable(dir / "no-such-dir/r.jsonl");
  EXPECT_EQ(unwritable.Add({"f", 1, "", "r", ""}).message(),
            "cannot write the rejects file " + dir / "no-such-dir/r.jsonl");
}

TEST(FeedFormats, NamesAreTheCommandLineOnes) {
  EXPECT_EQ(FeedFormatFromName("jsonl"), FeedFormat::kJsonl);
  EXPECT_EQ(FeedFormatFromName("ssda903"), FeedFormat::kSsda903);
  EXPECT_EQ(FeedFormatFromName("police-csv"), FeedFormat::kPoliceCsv);
  EXPECT_EQ(FeedFormatFromName("yjs-csv"), FeedFormat::kYjsCsv);
  EXPECT_EQ(FeedFormatFromName("csv"), std::nullopt);
}

}  // namespace
}  // namespace careledger
