// The synthetic feed: a local authority's children as three source systems would report them.
// Shapes follow published national statistics in outline, so the figures look like a real
// authority's and never a real child's (identifiers come from the seed alone):
// - DfE "Children looked after in England" (SSDA903): about 70 CLA per 10,000 children; ages
//   at entry; mostly foster care, about 1 in 6 in children's homes, many with private
//   providers and out of area; C2/C1/V2/E1 the commonest legal statuses; V3/V4 short breaks;
//   about 1 in 10 CLA missing in a year, some many times; care leavers' contacts at 17–21.
// - MoJ/YJB "Youth justice statistics": only 10–17 year olds offend; the offence-group mix;
//   children in care several times as likely to offend as others; outcomes from no further
//   action to custody, with Home Office outcome codes; charges followed by a court outcome.
// - What real extracts do: some records late, re-sent, corrected, retracted, or malformed.
// The population is the area's 0–17s: births spread over the whole span so the number of
// children stays near --children; a child appears only once a source knows of them.
#include <algorithm>
#include <cmath>
#include <ostream>

#include "generate_child.h"

namespace careledger {

uint64_t FeedSummary::events() const {
  uint64_t n = 0;
  for (const auto& [type, count] : events_by_type) n += count;
  return n;
}

using generate_detail::ChildStory;
using generate_detail::Feed;
using generate_detail::Mix;
using generate_detail::Random;
using std::chrono::days;

Status GenerateFeed(const GeneratorOptions& o, std::ostream& out, FeedSummary* summary) {
  if (o.children < 0) return Status::BadInput("--children must not be negative");
  if (o.end <= o.start) return Status::BadInput("--end must be after --start");
  for (double rate : {o.late_rate, o.duplicate_rate, o.correction_rate, o.invalid_rate}) {
    if (!(rate >= 0 && rate <= 1)) return Status::BadInput("feed fault rates must be in [0, 1]");
  }
  if (!NationalYouthOffences().ok()) return NationalYouthOffences().status();
  FeedSummary local;
  FeedSummary& s = summary ? *summary : local;
  s = FeedSummary{};
  Feed feed(o, s);
  // Everyone aged 0–17 at some time from the care history's start to the window's end, born
  // evenly, so that about `children` are 0–17 at any moment.
  const Date history = o.start - days{3 * 365};
  const Date first_birth = Anniversary(history, -18);
  const int64_t span = (o.end - first_birth).count();
  const auto people = uint64_t(std::llround(double(o.children) * double(span) / (18 * 365.25)));
  // About 4 children's homes per 10,000 children, in and out of the area, used by the area.
  const int homes = std::max(4, int(o.children / 2500));
  Random births(Mix(o.seed, 0xb1a7));
  for (uint64_t i = 0; i < people && o.children > 0; ++i) {
    Date dob = first_birth + days{births.Uniform(0, span - 1)};
    ChildStory(o, feed, i, dob, homes).Run();
  }
  return feed.Write(out);
}

}  // namespace careledger
