// The PostgreSQL peer's SQL (bench/postgres_peer.cc), as an analyst would write it against one
// table of typed event columns. Kept apart from the harness so it reads as SQL.
#pragma once

namespace careledger::pg {

// Staged as jsonb (one document per line), then typed columns extracted. occurred_on is the
// date as written (local), occurred_at the instant (a bare date is midnight UTC), both to the
// second as careledger keeps them.
inline constexpr const char* kSchema = R"sql(
SET TimeZone = 'UTC';
CREATE TABLE events (
  event_id    text COLLATE "C" PRIMARY KEY,
  type        text NOT NULL,
  child_id    text COLLATE "C" NOT NULL,
  occurred_at timestamptz NOT NULL,
  occurred_on date NOT NULL,
  recorded_at timestamptz NOT NULL,
  supersedes  text COLLATE "C",
  data        jsonb NOT NULL
);
CREATE TABLE disposal_tier (disposal text PRIMARY KEY, tier text NOT NULL);
CREATE TABLE home_office_disposal (code int PRIMARY KEY, disposal text NOT NULL);
CREATE UNLOGGED TABLE staging (doc jsonb NOT NULL);
)sql";

inline constexpr const char* kLoad = R"sql(
SET TimeZone = 'UTC';
INSERT INTO events
SELECT doc->>'event_id', doc->>'type', doc->>'child_id',
       date_trunc('second', (doc->>'occurred_at')::timestamptz),
       left(doc->>'occurred_at', 10)::date,
       date_trunc('second', (doc->>'recorded_at')::timestamptz),
       doc->>'supersedes', coalesce(doc->'data', '{}')
FROM staging;
DROP TABLE staging;
CREATE INDEX events_child_order ON events (child_id, occurred_at, recorded_at);
CREATE INDEX events_care ON events (child_id, occurred_at, recorded_at)
  WHERE type LIKE 'care.%';
CREATE INDEX events_offending ON events (child_id, (data->>'offence_id'))
  WHERE type IN ('offence.recorded', 'outcome.recorded', 'court.outcome_recorded');
CREATE INDEX events_supersedes ON events (supersedes) WHERE supersedes IS NOT NULL;
CREATE INDEX events_retracted ON events ((data->>'target_event_id'))
  WHERE type = 'event.retracted';
ANALYZE events;
)sql";

// Shared by both queries: the events after corrections (a supersedes or an event.retracted of
// the same child removes its target, as careledger's ResolveChild does), each child's care
// stretches between consecutive care events with the state after each (open, legal status), and
// the date of birth of the latest registration. An end at the same instant as the start that
// just cut an open period short ends that previous period, not the new one (ResolveChild).
// :'at', :'from', :'to' are psql variables.
inline constexpr const char* kCommon = R"sql(
SET TimeZone = 'UTC';
CREATE OR REPLACE FUNCTION add_years(d date, n int) RETURNS date IMMUTABLE LANGUAGE sql AS $$
  -- 29 February's birthday in a common year is 1 March, as the law counts it.
  SELECT CASE WHEN extract(month FROM d) = 2 AND extract(day FROM d) = 29
              THEN make_date(extract(year FROM d)::int + n, 3, 1)
              ELSE (d + make_interval(years => n))::date END $$;
CREATE OR REPLACE FUNCTION age_on(dob date, d date) RETURNS int IMMUTABLE LANGUAGE sql AS $$
  SELECT CASE WHEN dob IS NULL OR d < dob THEN NULL
              ELSE extract(year FROM d)::int - extract(year FROM dob)::int
                   - (d < add_years(dob, extract(year FROM d)::int
                                         - extract(year FROM dob)::int))::int END $$;
CREATE OR REPLACE FUNCTION type_rank(t text) RETURNS int IMMUTABLE LANGUAGE sql AS $$
  SELECT CASE WHEN t = 'child.registered' THEN 0
              WHEN t IN ('care.period_started', 'missing.reported', 'offence.recorded',
                         'yjs.case_opened') THEN 1
              WHEN t IN ('care.legal_status_changed', 'care.placement_changed') THEN 2
              ELSE 3 END $$;
CREATE OR REPLACE VIEW removed AS
  SELECT child_id, supersedes AS event_id FROM events WHERE supersedes IS NOT NULL
  UNION
  SELECT child_id, (data->>'target_event_id') COLLATE "C" FROM events
  WHERE type = 'event.retracted';
CREATE OR REPLACE VIEW live_events AS
  SELECT e.* FROM events e
  WHERE NOT EXISTS (SELECT 1 FROM removed r
                    WHERE r.child_id = e.child_id AND r.event_id = e.event_id);
CREATE OR REPLACE VIEW care_stretches AS
WITH care AS (
  SELECT child_id, type, occurred_at, occurred_on, data->>'legal_status' AS legal_status,
         row_number() OVER w AS ord, lag(occurred_on) OVER w AS prev_on
  FROM live_events WHERE type LIKE 'care.%'
  WINDOW w AS (PARTITION BY child_id
               ORDER BY occurred_at, recorded_at, type_rank(type), event_id)
), starts_ends AS (
  SELECT ord, child_id, type, occurred_at,
         lag(type, 1) OVER w AS t1, lag(occurred_at, 1) OVER w AS at1,
         lag(prev_on, 1) OVER w AS prev_on1, lag(occurred_on, 1) OVER w AS on1,
         lag(type, 2) OVER w AS t2, lag(occurred_at, 2) OVER w AS at2,
         lag(type, 3) OVER w AS t3, lag(occurred_at, 3) OVER w AS at3
  FROM care WHERE type IN ('care.period_started', 'care.period_ended')
  WINDOW w AS (PARTITION BY child_id ORDER BY ord)
), kept AS (
  SELECT c.* FROM care c
  WHERE NOT EXISTS (
    SELECT 1 FROM starts_ends s
    WHERE s.child_id = c.child_id AND s.ord = c.ord AND s.type = 'care.period_ended'
      AND s.t1 = 'care.period_started' AND s.at1 = s.occurred_at AND s.prev_on1 < s.on1
      AND (s.t2 = 'care.period_started'
           OR (s.t2 = 'care.period_ended' AND s.t3 = 'care.period_started' AND s.at2 = s.at3)))
), grouped AS (
  SELECT *,
         count(*) FILTER (WHERE type IN ('care.period_started', 'care.period_ended'))
           OVER w AS open_group,
         count(*) FILTER (WHERE type IN ('care.period_started', 'care.legal_status_changed'))
           OVER w AS status_group,
         lead(occurred_on) OVER w AS next_on
  FROM kept WINDOW w AS (PARTITION BY child_id ORDER BY ord)
), state AS (
  SELECT child_id, occurred_on AS from_on, next_on AS to_on,
         first_value(type) OVER (PARTITION BY child_id, open_group ORDER BY ord)
           = 'care.period_started' AS open,
         first_value(legal_status) OVER (PARTITION BY child_id, status_group ORDER BY ord)
           AS legal_status
  FROM grouped
)
SELECT child_id, from_on, to_on FROM state
WHERE open AND legal_status NOT IN ('V3', 'V4') AND (to_on IS NULL OR from_on < to_on);
CREATE OR REPLACE VIEW child_dob AS
  SELECT DISTINCT ON (child_id) child_id, (data->>'dob')::date AS dob
  FROM live_events WHERE type = 'child.registered'
  ORDER BY child_id, occurred_at DESC, recorded_at DESC, event_id DESC;
)sql";

// M1: children looked after at :'at' (a stretch ending on the day does not count on it).
inline constexpr const char* kCla = R"sql(
SELECT count(DISTINCT child_id) FROM care_stretches
WHERE from_on <= :'at'::date AND (to_on IS NULL OR :'at'::date < to_on);
)sql";

// M3: offences whose final disposal (the one decided last, from the disposal or the Home
// Office outcome code) was decided in [:'from', :'to'), by the child's cohort on the offence
// date (the record's, else the decision's) and the disposal's tier.
inline constexpr const char* kOutcomes = R"sql(
WITH records AS (
  SELECT DISTINCT ON (child_id, data->>'offence_id')
         child_id, data->>'offence_id' AS offence_id, occurred_on
  FROM live_events WHERE type = 'offence.recorded'
  ORDER BY child_id, data->>'offence_id', occurred_at DESC, recorded_at DESC, event_id DESC
), withdrawn AS (
  SELECT DISTINCT e.child_id, e.data->>'offence_id' AS offence_id
  FROM events e JOIN removed r ON r.child_id = e.child_id AND r.event_id = e.event_id
  WHERE e.type = 'offence.recorded'
), finals AS (
  SELECT DISTINCT ON (child_id, offence_id) child_id, offence_id, disposal, decided
  FROM (SELECT e.child_id, e.data->>'offence_id' AS offence_id, e.occurred_at, e.recorded_at,
               e.event_id,
               coalesce(nullif(e.data->>'disposal', ''), h.disposal) AS disposal,
               coalesce(left(e.data->>'decided_at', 10)::date, e.occurred_on) AS decided
        FROM live_events e
        LEFT JOIN home_office_disposal h ON h.code = (e.data->>'home_office_outcome')::int
        WHERE e.type IN ('outcome.recorded', 'court.outcome_recorded')) o
  WHERE disposal IS NOT NULL
  ORDER BY child_id, offence_id, decided DESC, occurred_at DESC, recorded_at DESC,
           event_id DESC
), offences AS (
  SELECT f.child_id, f.offence_id, f.disposal, coalesce(r.occurred_on, f.decided) AS offence_on
  FROM finals f
  LEFT JOIN records r USING (child_id, offence_id)
  WHERE f.decided >= :'from'::date AND f.decided < :'to'::date
    AND NOT (r.child_id IS NULL AND EXISTS (SELECT 1 FROM withdrawn w
                                            WHERE w.child_id = f.child_id
                                              AND w.offence_id = f.offence_id))
), stretches AS MATERIALIZED (
  SELECT * FROM care_stretches
), clipped AS (
  -- Each offence against each of its child's stretches: whether the stretch holds the offence
  -- date, and the stretch cut to [14th birthday, offence date) for the care-leaver test.
  SELECT o.child_id, o.offence_id, o.disposal, o.offence_on, d.dob,
         s.from_on <= o.offence_on AND (s.to_on IS NULL OR o.offence_on < s.to_on) AS holds,
         -- (greatest and least skip NULLs: a child without stretches has nothing to cut)
         CASE WHEN s.child_id IS NOT NULL THEN greatest(s.from_on, add_years(d.dob, 14)) END
           AS cut_from,
         CASE WHEN s.child_id IS NOT NULL
              THEN least(coalesce(s.to_on, o.offence_on), o.offence_on) END AS cut_to
  FROM offences o
  LEFT JOIN child_dob d USING (child_id)
  LEFT JOIN stretches s USING (child_id)
), judged AS (
  SELECT disposal,
         CASE WHEN coalesce(bool_or(holds), false) THEN 'cla'
              WHEN age_on(dob, offence_on) BETWEEN 16 AND 25
                   AND sum(greatest(0, cut_to - cut_from)) >= 91
                   AND bool_or(cut_to > cut_from AND cut_to > add_years(dob, 16))
              THEN 'care_leaver'
              ELSE 'other' END AS cohort
  FROM clipped
  GROUP BY child_id, offence_id, disposal, offence_on, dob
)
SELECT j.cohort, coalesce(t.tier, 'unknown') AS tier, count(*)
FROM judged j LEFT JOIN disposal_tier t USING (disposal)
GROUP BY 1, 2 ORDER BY 1, 2;
)sql";

}  // namespace careledger::pg
