// careledger dashboard: every panel asks the JSON API (GET /api/v1/metrics/{metric}) for its
// figures and renders an SVG chart and a table of the same figures. Every second the page asks
// how far the store has got (GET /api/v1/head) and the panels ask again only when that (or the
// day) has moved, so a newly ingested event shows within about two seconds without a reload,
// and an open page on a quiet store costs the server one small request a second.
// Figures arrive as numbers, or as "<5"/"c" (published suppression) or null, and are shown as
// they come: the page never computes a figure the server suppressed.
'use strict';

const POLL_MS = 1000;
const SVG_NS = 'http://www.w3.org/2000/svg';
const RISKS = ['high', 'medium', 'low', 'no_apparent_risk'];
const COHORTS = ['cla', 'care_leaver', 'other'];
const TIERS = ['no_sanction', 'informal', 'out_of_court_formal', 'first_tier', 'community',
               'custody'];
const LABELS = {
  cla: 'Looked after', care_leaver: 'Care leavers', other: 'Other children',
  no_sanction: 'No sanction', informal: 'Informal', out_of_court_formal: 'Out of court (formal)',
  first_tier: 'First tier', community: 'Community', custody: 'Custody',
  high: 'High', medium: 'Medium', low: 'Low', no_apparent_risk: 'No apparent risk',
};

let exact = false;  // false: published figures (the default); true: the restricted API
// The bearer token for the exact view: asked once, kept for this tab only (sessionStorage),
// sent only while the exact view is on.
const TOKEN_KEY = 'careledger.token';
let token = null;
function auth() { return exact && token ? {Authorization: 'Bearer ' + token} : {}; }
let generation = 0;  // bumped when the mode changes, so answers to stale requests are dropped

// ---- dates (the browser's calendar; the API takes ISO dates) ----
function iso(y, m, d) {  // m is 1-12 and may overflow either way
  const t = new Date(Date.UTC(y, m - 1, d));
  return t.toISOString().slice(0, 10);
}
function today() {
  const t = new Date();
  return {y: t.getFullYear(), m: t.getMonth() + 1, d: t.getDate()};
}
function monthStarts(count) {  // first of this month and the count-1 months before, oldest first
  const t = today();
  const out = [];
  for (let i = count - 1; i >= 0; i--) out.push(iso(t.y, t.m - i, 1));
  return out;
}
function nextMonth(first) {
  const [y, m] = first.split('-').map(Number);
  return iso(y, m + 1, 1);
}

// ---- the API ----
function url(metric, params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params || {})) if (v) q.set(k, v);
  q.set('published', exact ? 'false' : 'true');
  return '/api/v1/metrics/' + metric + '?' + q.toString();
}
// What the latest answer said of the partitions it covers: null while answers are the
// area's; else the API's coverage (this instance's partitions, and who answers for the rest).
let partial = null;
async function fetchMetric(metric, params) {
  const u = url(metric, params);
  const r = await fetch(u, {cache: 'no-store', headers: auth()});
  if (!r.ok) throw new Error(metric + ': HTTP ' + r.status);
  const a = await r.json();
  partial = a.partial ? a.coverage : null;
  return a;
}

// ---- figures ----
function isNum(v) { return typeof v === 'number' && isFinite(v); }
function text(v) {
  if (v === null || v === undefined) return '–';
  if (isNum(v)) return v.toLocaleString('en-GB');
  return String(v);
}
function label(k) { return LABELS[k] || k; }
function el(tag, attrs, children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
  for (const c of [].concat(children || [])) {
    e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return e;
}
function svg(tag, attrs, children) {
  const e = document.createElementNS(SVG_NS, tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
  for (const c of [].concat(children || [])) {
    e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return e;
}
// A cell holding one figure: data-figure names it for tests and scripts, data-value holds the
// value exactly as the API gave it.
function figureCell(value, figure, format) {
  const attrs = {class: format ? 'text' : 'num',
                 'data-value': value === null ? 'null' : String(value)};
  if (figure) attrs['data-figure'] = figure;
  return el('td', attrs, format ? format(value) : text(value));
}

// A table: columns [{key, title, figure(row) -> data-figure name, format(value) -> text}], rows
// from the API. The first column heads its row; a column with a format holds text, not figures.
function table(caption, columns, rows) {
  if (!rows.length) return el('p', {class: 'empty'}, caption + ': none.');
  const head = el('tr', {}, columns.map((c) => el('th', {scope: 'col'}, c.title)));
  const body = rows.map((r) => el('tr', {}, columns.map((c, i) => {
    if (i === 0) return el('th', {scope: 'row'}, c.format ? c.format(r[c.key]) : text(r[c.key]));
    return figureCell(r[c.key], c.figure ? c.figure(r) : null, c.format);
  })));
  return el('table', {}, [el('caption', {}, caption), el('thead', {}, head),
    el('tbody', {}, body)]);
}

function legend(series) {
  return el('ul', {class: 'legend', 'aria-hidden': 'true'}, series.map((s, i) => el('li', {}, [
    svg('svg', {class: 'chart key', viewBox: '0 0 20 12', width: '20', height: '12'},
        svg('rect', {class: 's' + i, width: '20', height: '12'})),
    ' ' + s])));
}

// Horizontal bars. rows: [{label, parts: [{value, series}], note}]; a part whose value is not a
// number (suppressed) draws nothing and its text says why. The chart is a picture of the table
// beside it, so it is hidden from screen readers.
function barChart(rows, opts) {
  opts = opts || {};
  const labelW = opts.labelWidth || 170, barW = 420, rowH = 20, gap = 6;
  let max = 0;
  for (const r of rows) {
    let sum = 0;
    for (const p of r.parts) if (isNum(p.value)) sum += p.value;
    max = Math.max(max, sum);
  }
  if (opts.max) max = Math.max(max, opts.max);
  const height = rows.length * (rowH + gap) + gap;
  const root = svg('svg', {class: 'chart', viewBox: `0 0 ${labelW + barW + 160} ${height}`,
    width: String(labelW + barW + 160), height: String(height), 'aria-hidden': 'true'});
  rows.forEach((r, i) => {
    const y = gap + i * (rowH + gap);
    root.append(svg('text', {x: labelW - 6, y: y + rowH - 5, 'text-anchor': 'end'}, r.label));
    let x = labelW;
    for (const p of r.parts) {
      if (!isNum(p.value) || max <= 0) continue;
      const w = Math.max(p.value > 0 ? 1 : 0, (p.value / max) * barW);
      root.append(svg('rect', {class: 's' + (p.series || 0), x, y, width: w, height: rowH}));
      x += w;
    }
    const note = r.note !== undefined ? r.note : r.parts.map((p) => text(p.value)).join(' + ');
    root.append(svg('text', {x: x + 6, y: y + rowH - 5}, note));
  });
  root.append(svg('line', {class: 'axis', x1: labelW, x2: labelW, y1: 0, y2: height}));
  return root;
}

// A line over time; points that are not numbers leave a gap.
function lineChart(points) {
  const w = 720, h = 220, left = 50, right = 30, top = 10, bottom = 40;
  const nums = points.map((p) => p.value).filter(isNum);
  const max = nums.length ? Math.max(...nums) : 1;
  const min = nums.length ? Math.min(...nums) : 0;
  const lo = Math.max(0, min - (max - min) * 0.2 - 1), hi = max + (max - min) * 0.1 + 1;
  const sx = (i) => left + (i * (w - left - right)) / Math.max(1, points.length - 1);
  const sy = (v) => top + (h - top - bottom) * (1 - (v - lo) / (hi - lo));
  const root = svg('svg', {class: 'chart', viewBox: `0 0 ${w} ${h}`, width: String(w),
    height: String(h), 'aria-hidden': 'true'});
  for (const v of [lo, (lo + hi) / 2, hi]) {
    root.append(svg('line', {class: 'grid', x1: left, x2: w - right, y1: sy(v), y2: sy(v)}));
    root.append(svg('text', {x: left - 4, y: sy(v) + 4, 'text-anchor': 'end'}, Math.round(v)));
  }
  let d = '';
  points.forEach((p, i) => {
    if (!isNum(p.value)) { d += ' '; return; }
    d += (d === '' || d.endsWith(' ') ? 'M' : 'L') + sx(i).toFixed(1) + ' ' +
         sy(p.value).toFixed(1);
    root.append(svg('circle', {class: 'dot', cx: sx(i), cy: sy(p.value), r: 3}));
    if ((points.length - 1 - i) % 3 === 0) {  // every third month, ending with the latest
      root.append(svg('text', {x: sx(i), y: h - bottom + 16, 'text-anchor': 'middle'},
                      p.label.slice(0, 7)));
    }
  });
  root.insertBefore(svg('path', {class: 'line', d: d.replace(/ +/g, ' ').trim()}),
                    root.firstChild);
  root.append(svg('line', {class: 'axis', x1: left, x2: w - right, y1: h - bottom,
    y2: h - bottom}));
  return root;
}

// A panel's notes, once each. The published view's marker note is left out: the page states it
// once, in its footer.
function notes(...answers) {
  const all = [];
  for (const a of answers) {
    for (const n of a.notes || []) {
      if (!n.startsWith('published figures:') && !all.includes(n)) all.push(n);
    }
  }
  return el('ul', {class: 'notes'}, all.map((n) => el('li', {}, n)));
}
function selectorText(a) {
  if (a.period) return 'period ' + a.period.replace('..', ' to ') + ' (end exclusive)';
  if (a.year_ending) return 'year ending ' + a.year_ending;
  if (a.at) return 'at ' + a.at;
  return '';
}

// ---- panels: each returns the answers it rendered from, and a render function ----
const panels = [];
function panel(id, load, render) { panels.push({id, load, render, last: null}); }

// The headline alone, so that a new event shows without waiting for the 24 dates of the trend.
panel('cla-now', async () => [await fetchMetric('cla', {})], (node, [now]) => {
  const v = now.rows.length ? now.rows[0].value : 0;
  node.textContent = text(v);
  node.setAttribute('data-value', String(v));
  node.setAttribute('data-at', now.at || '');
});

panel('cla-trend', async () => Promise.all(monthStarts(24).map((m) => fetchMetric('cla', {at: m}))),
    (node, trend) => {
  const points = trend.map((a) => ({label: a.at, value: a.rows.length ? a.rows[0].value : 0}));
  node.replaceChildren(lineChart(points),
      table('Children looked after on the first of each month', [
        {key: 'label', title: 'Date'},
        {key: 'value', title: 'Children looked after', figure: (r) => 'cla-at-' + r.label},
      ], points), notes(...trend));
});

panel('care-leavers', async () => [await fetchMetric('care-leavers', {})], (node, [a]) => {
  node.replaceChildren(
      barChart(a.rows.map((r) => ({label: r.band, parts: [{value: r.care_leavers}]}))),
      table('Care leavers ' + selectorText(a) + '; percentages of those with a contact in the ' +
            'last 12 months', [
        {key: 'band', title: 'Age band'},
        {key: 'care_leavers', title: 'Care leavers', figure: (r) => 'care-leavers-' + r.band},
        {key: 'with_contact_12m', title: 'With a contact in 12 months'},
        {key: 'in_touch_pct', title: '% in touch'},
        {key: 'suitable_accommodation_pct', title: '% suitable accommodation'},
        {key: 'eet_pct', title: '% in education, employment or training'},
      ], a.rows), notes(a));
});

panel('outcomes', async () => [await fetchMetric('outcomes', {by: 'cohort,tier'})],
    (node, [a]) => {
  const cell = (c, t) => a.rows.find((r) => r.cohort === c && r.tier === t);
  const tiers = TIERS.filter((t) => a.rows.some((r) => r.tier === t))
      .concat([...new Set(a.rows.map((r) => r.tier))].filter((t) => !TIERS.includes(t)));
  const cohorts = COHORTS.filter((c) => a.rows.some((r) => r.cohort === c));
  // One small chart per cohort, each to its own scale: the cohorts differ in size by tens.
  const charts = cohorts.map((c) => el('div', {}, [el('h3', {}, label(c)),
    barChart(tiers.map((t) => {
      const r = cell(c, t);
      return {label: label(t), parts: [{value: r ? r.offences : 0}]};
    }))]));
  const rows = tiers.map((t) => {
    const row = {tier: t};
    for (const c of cohorts) { const r = cell(c, t); row[c] = r ? r.offences : 0; }
    return row;
  });
  node.replaceChildren(...charts,
      table('Offences with an outcome, ' + selectorText(a) + ', by tier and cohort',
          [{key: 'tier', title: 'Tier', format: label}].concat(cohorts.map((c) => ({
            key: c, title: label(c), figure: (r) => 'outcomes-' + c + '-' + r.tier}))), rows),
      table('Of them, offences at the placement', [{key: 'tier', title: 'Tier', format: label}]
          .concat(cohorts.map((c) => ({key: c, title: label(c),
            figure: (r) => 'outcomes-at-placement-' + c + '-' + r.tier}))),
          tiers.map((t) => {
            const row = {tier: t};
            for (const c of cohorts) { const r = cell(c, t); row[c] = r ? r.at_placement : 0; }
            return row;
          })),
      notes(a));
});

panel('informal-share', async () => [await fetchMetric('informal-share', {by: 'cohort'})],
    (node, [a]) => {
  node.replaceChildren(
      barChart(a.rows.map((r) => ({label: label(r.cohort), parts: [{value: r.informal_pct}],
        note: isNum(r.informal_pct) ? r.informal_pct + '%' : text(r.informal_pct)})), {max: 100}),
      table('No sanction or informal outcome, ' + selectorText(a), [
        {key: 'cohort', title: 'Cohort', format: label},
        {key: 'offences', title: 'Offences with an outcome'},
        {key: 'no_sanction_or_informal', title: 'No sanction or informal'},
        {key: 'informal_pct', title: '%', figure: (r) => 'informal-share-' + r.cohort},
      ], a.rows), notes(a));
});

// The OC2 year ends on 31 March: the latest such year, and the two before it.
function yearEndings() {
  const t = today();
  const latest = t.m > 3 || (t.m === 3 && t.d >= 31) ? t.y : t.y - 1;
  return [latest - 2, latest - 1, latest].map((y) => iso(y, 3, 31));
}
panel('criminalisation', async () => Promise.all(
    yearEndings().map((at) => fetchMetric('criminalisation', {at}))), (node, answers) => {
  const rows = answers.map((a) => Object.assign({year_ending: a.year_ending || a.at},
      a.rows[0] || {}));
  const latest = rows[rows.length - 1];
  node.replaceChildren(
      el('p', {class: 'headline'}, ['Ratio for the year ending ' + latest.year_ending + ': ',
        el('strong', {'data-figure': 'oc2-ratio', 'data-value': String(latest.ratio)},
           text(latest.ratio)),
        ' (children in care ' + text(latest.oc2_rate_pct) + '% against all children ' +
        text(latest.area_rate_pct) + '%; above 1, children in care are more often given a ' +
        'formal outcome)']),
      barChart(rows.map((r) => ({label: r.year_ending, parts: [{value: r.ratio}]}))),
      table('Children aged 10-17 with a formal outcome in the year', [
        {key: 'year_ending', title: 'Year ending'},
        {key: 'oc2_cohort', title: 'OC2 cohort'},
        {key: 'oc2_with_formal', title: 'Of them with a formal outcome'},
        {key: 'oc2_rate_pct', title: 'OC2 rate %', figure: (r) => 'oc2-rate-' + r.year_ending},
        {key: 'area_with_formal', title: 'All children with a formal outcome'},
        {key: 'area_population_10_17', title: 'Population aged 10-17'},
        {key: 'area_rate_pct', title: 'Area rate %', figure: (r) => 'area-rate-' + r.year_ending},
        {key: 'ratio', title: 'Ratio', figure: (r) => 'oc2-ratio-' + r.year_ending},
      ], rows), notes(...answers));
});

panel('missing', async () => {
  const months = monthStarts(12);
  return Promise.all(months.map((m) =>
      fetchMetric('missing', {by: 'risk', period: m + '..' + nextMonth(m)})));
}, (node, answers) => {
  const risks = RISKS.filter((k) => answers.some((a) => a.rows.some((r) => r.risk === k)));
  const rows = answers.map((a) => {
    const row = {month: a.period.slice(0, 7)};
    for (const k of risks) {
      const r = a.rows.find((x) => x.risk === k);
      row[k] = r ? r.episodes : 0;
    }
    return row;
  });
  node.replaceChildren(legend(risks.map(label)),
      barChart(rows.map((r) => ({label: r.month,
        parts: risks.map((k, i) => ({value: r[k], series: i}))})), {labelWidth: 80}),
      table('Missing episodes starting in each month, by risk level',
          [{key: 'month', title: 'Month'}].concat(risks.map((k) => ({key: k, title: label(k),
            figure: (r) => 'missing-' + r.month + '-' + k}))), rows),
      notes(...answers));
});

function changeText(v) {
  if (!isNum(v)) return text(v);
  return (v > 0 ? '▲ +' : v < 0 ? '▼ ' : '') + v + '%';
}
panel('callouts', async () => [await fetchMetric('callouts', {by: 'month'})], (node, [a]) => {
  const select = document.getElementById('callouts-month');
  const months = a.rows.map((r) => r.month);
  if (select.options.length !== months.length ||
      [...select.options].some((o, i) => o.value !== months[i])) {
    const keep = select.value;
    select.replaceChildren(...months.map((m) => el('option', {value: m}, m)));
    // The last complete month by default: the board compares a month with a year before.
    select.value = months.includes(keep) ? keep : months[Math.max(0, months.length - 2)] || '';
    // The homes panel follows the month chosen here: ask it again with the new list.
    if (select.value !== keep) panels.find((x) => x.id === 'callouts-homes').last = null;
  }
  node.replaceChildren(legend(['This year', 'A year earlier']),
      barChart(a.rows.flatMap((r) => [
        {label: r.month, parts: [{value: r.total}],
         note: text(r.total) + ' (' + changeText(r.change_pct) + ')'},
        {label: 'a year earlier', parts: [{value: r.total_year_earlier, series: 1}]},
      ]), {labelWidth: 110}),
      table('Call-outs from placements per month, all homes, ' + selectorText(a), [
        {key: 'month', title: 'Month'},
        {key: 'missing_reports', title: 'Missing reports'},
        {key: 'notifiable_incidents', title: 'Notifiable incidents'},
        {key: 'emergencies', title: 'Emergencies'},
        {key: 'restraints', title: 'Restraints'},
        {key: 'offences_at_placement', title: 'Offences at the placement'},
        {key: 'total', title: 'Total', figure: (r) => 'callouts-' + r.month + '-total'},
        {key: 'total_year_earlier', title: 'A year earlier'},
        {key: 'change_pct', title: 'Change %', figure: (r) => 'callouts-' + r.month + '-change'},
      ], a.rows), notes(a));
});

panel('callouts-homes', async () => {
  const month = document.getElementById('callouts-month').value;
  if (!month) return null;  // the month list has not come yet
  const from = month + '-01';
  return [await fetchMetric('callouts', {period: from + '..' + nextMonth(from)})];
}, (node, answers) => {
  const month = document.getElementById('callouts-month').value;
  document.getElementById('callouts-month-name').textContent = month || '…';
  if (!answers.length) { node.replaceChildren(); return; }
  const [a] = answers;
  const rows = a.rows.filter((r) => r.month === month);
  node.replaceChildren(
      table('Call-outs per home in ' + month + ' and the same month a year earlier', [
        {key: 'home_id', title: 'Home'},
        {key: 'missing_reports', title: 'Missing reports'},
        {key: 'notifiable_incidents', title: 'Notifiable incidents'},
        {key: 'emergencies', title: 'Emergencies'},
        {key: 'restraints', title: 'Restraints'},
        {key: 'offences_at_placement', title: 'Offences at the placement'},
        {key: 'total', title: 'Total', figure: (r) => 'callouts-home-' + r.home_id + '-total'},
        {key: 'total_year_earlier', title: 'A year earlier'},
        {key: 'change_pct', title: 'Change %',
          figure: (r) => 'callouts-home-' + r.home_id + '-change'},
      ], rows), notes(a));
});

panel('offence-profile', async () => [await fetchMetric('offence-profile', {})], (node, [a]) => {
  node.replaceChildren(legend(['Here', 'England and Wales']),
      barChart(a.rows.flatMap((r) => [
        {label: label(r.offence_group).replace(/_/g, ' '), parts: [{value: r.rate_per_100k_10_17}],
         note: text(r.rate_per_100k_10_17) + ' (ratio ' + text(r.ratio) + ')'},
        {label: 'England and Wales', parts: [{value: r.national_rate_per_100k, series: 1}]},
      ]), {labelWidth: 180}),
      table('Offences with an outcome per 100,000 children aged 10-17, ' + selectorText(a), [
        {key: 'offence_group', title: 'Offence group', format: (g) => g.replace(/_/g, ' ')},
        {key: 'offences', title: 'Offences'},
        {key: 'rate_per_100k_10_17', title: 'Rate here'},
        {key: 'national_rate_per_100k', title: 'England and Wales'},
        {key: 'ratio', title: 'Ratio (above 1: more here)',
          figure: (r) => 'offence-ratio-' + r.offence_group},
      ], a.rows), notes(a));
});

// The KPIs: one row each, its status in words (colour only repeats it).
async function fetchKpis() {
  const r = await fetch('/api/v1/kpi?published=' + (exact ? 'false' : 'true'),
      {cache: 'no-store', headers: auth()});
  if (!r.ok) throw new Error('kpi: HTTP ' + r.status);
  return r.json();
}
const STATUS_TEXT = {green: 'On target', amber: 'Amber', red: 'Red', no_target: 'No target',
  no_figure: 'No figure'};
panel('kpi', async () => [await fetchKpis()], (node, [a]) => {
  const status = (v) => STATUS_TEXT[v] || String(v);
  const rows = a.rows.map((r) => ({...r, kpi: r.kpi.replace(/_/g, ' ')}));
  node.replaceChildren(
      table('KPIs for ' + a.period.replace('..', ' to ') + ' (windows as the notes say)', [
        {key: 'kpi', title: 'KPI'},
        {key: 'value', title: 'Now', figure: (r) => 'kpi-' + r.kpi.replace(/ /g, '_')},
        {key: 'year_earlier', title: 'A year earlier'},
        {key: 'change', title: 'Change', format: text},
        {key: 'target', title: 'Target', format: text},
        {key: 'status', title: 'Status', format: status,
          figure: (r) => 'kpi-status-' + r.kpi.replace(/ /g, '_')},
        {key: 'national', title: 'England', format: text},
        {key: 'region', title: 'Region', format: text},
        {key: 'neighbours', title: 'Statistical neighbours', format: text},
        {key: 'local', title: 'Published here', format: text},
        {key: 'unit', title: 'Unit', format: String},
      ].filter((c) => a.rows.length === 0 || c.key in a.rows[0]), rows), notes(a));
  for (const td of node.querySelectorAll('td[data-figure^="kpi-status-"]')) {
    td.classList.add('rag-' + td.getAttribute('data-value'));
  }
});

// The out-of-court panel's worklist names children: asked for (with the token) and shown only
// in the exact view; in the published view nothing is fetched and the section stays hidden.
async function fetchPanel() {
  const r = await fetch('/api/v1/panel', {cache: 'no-store', headers: auth()});
  if (!r.ok) throw new Error('panel: HTTP ' + r.status);
  return r.json();
}
const yesNo = (v) => (v === 'yes' ? 'Yes' : 'No');
panel('panel-worklist', async () => [exact && token ? await fetchPanel() : null],
    (node, [a]) => {
  document.getElementById('panel-section').hidden = !a;
  if (!a) return node.replaceChildren();
  node.replaceChildren(
      table('Offences waiting for a decision on ' + a.as_of, [
        {key: 'child_id', title: 'Child'},
        {key: 'days_waiting', title: 'Days waiting', figure: (r) => 'panel-days-' + r.offence_id},
        {key: 'status', title: 'Waiting for',
          format: (v) => (v === 'charged' ? 'Court (charged)' : 'Outcome')},
        {key: 'offence_date', title: 'Offence date', format: String},
        {key: 'cohort', title: 'Cohort', format: label},
        {key: 'offence_group', title: 'Offence group', format: (g) => g.replace(/_/g, ' ')},
        {key: 'knife_related', title: 'Knife-related', format: yesNo},
        {key: 'exploitation_risk', title: 'Exploitation risk',
          format: (v) => (v === 'medium_or_high' ? 'Medium or high' : 'Other')},
        {key: 'area', title: 'Placed', format: (v) => v.replace(/_/g, ' ')},
        {key: 'at_placement', title: 'At the placement', format: yesNo},
        {key: 'home_id', title: 'Home', format: String},
        {key: 'offence_id', title: 'Offence', format: String},
      ], a.rows), notes(a));
});

// ---- polling ----
const failures = new Map();  // panel id -> why its last request failed
// Another instance of the group answers for some partitions: every figure on the page leaves
// them out, and the page says so, naming where they are answered.
function showCoverage() {
  const c = document.getElementById('coverage');
  if (!partial) {
    c.hidden = true;
    c.textContent = '';
    return;
  }
  // Each holder of missing partitions, and why the figures could not have them.
  const where = (partial.answered_elsewhere || []).map((o) => {
    const holder = o.advertised || o.instance;
    return (holder ? holder + ' holds ' : '') + 'partition' +
           (o.partitions.length === 1 ? ' ' : 's ') + o.partitions.join(', ') +
           (o.why ? ' (' + o.why + ')' : '');
  });
  c.textContent = 'Partial: these figures are of partitions ' + partial.partitions.join(', ') +
                  ' only. Missing: ' +
                  (where.length ? where.join('; ') : 'partitions ' + partial.missing.join(', ')) +
                  '.';
  c.hidden = false;
}
function showStatus() {
  showCoverage();
  const s = document.getElementById('status');
  if (failures.size) {
    s.textContent = 'Could not load ' + [...failures].map(([id, why]) => id + ' (' + why + ')')
        .join(', ') + '; retrying every second.';
    s.className = 'error';
  } else if (panels.some((p) => p.last === null)) {
    s.textContent = 'Loading…';
    s.className = '';
  } else {
    s.textContent = 'Updated ' + new Date().toLocaleTimeString('en-GB') +
                    (exact ? ' (exact figures)' : ' (published figures)');
    s.className = '';
  }
}

// Loads one panel; true when it has its figures.
async function refresh(p, gen) {
  const node = document.getElementById(p.id);
  try {
    const answers = await p.load();
    if (gen !== generation) return false;
    if (answers === null) return true;  // not ready to ask: p.last stays null, so next tick
    // Redraw only what changed, so a reader's place (and a screen reader's) is kept.
    const key = JSON.stringify(answers);
    if (key !== p.last) {
      p.last = key;
      p.render(node, answers);
      node.setAttribute('data-updated', new Date().toISOString());
    }
    node.removeAttribute('aria-busy');
    failures.delete(p.id);
    return true;
  } catch (e) {
    if (gen === generation) failures.set(p.id, e.message);
    return false;
  }
}

// The store's head and today's date: while both stay the same, so do the figures. Null when
// the server cannot say (then every panel asks each time).
async function head() {
  try {
    const r = await fetch('/api/v1/head', {cache: 'no-store', headers: auth()});
    if (!r.ok) return null;
    return (await r.json()).log_records + '@' + new Date().toDateString();
  } catch (e) {
    return null;
  }
}

let seen = null;  // the head all panels last loaded at
async function poll(gen) {
  if (gen !== generation) return;  // a mode change started a new loop
  const now = await head();
  const moved = now === null || now !== seen;
  const due = panels.filter((p) => moved || p.last === null);
  const loaded = await Promise.all(due.map((p) => refresh(p, gen)));
  if (gen !== generation) return;
  if (moved) seen = loaded.every((ok) => ok) ? now : null;
  showStatus();
  setTimeout(() => poll(gen), POLL_MS);
}

function start() {
  generation++;
  seen = null;
  for (const p of panels) {
    p.last = null;
    document.getElementById(p.id).setAttribute('aria-busy', 'true');
  }
  poll(generation);
}

// Whether the server takes this token (a wrong one is refused with 401 everywhere).
async function tokenWorks(t) {
  try {
    const r = await fetch('/api/v1/head', {cache: 'no-store', headers: {Authorization: 'Bearer ' + t}});
    return r.ok;
  } catch (e) {
    return false;
  }
}

function setExact(on) {
  exact = on;
  document.getElementById('exact').checked = on;
  document.getElementById('token-form').hidden = true;
  document.getElementById('mode').textContent = on
      ? 'Exact figures from the restricted API: not for publication.'
      : 'Published figures: counts of 1 to 4 show as <5; figures derived from them, and counts ' +
        'the totals would give away, as c.';
  start();
}

document.addEventListener('DOMContentLoaded', () => {
  const box = document.getElementById('exact');
  const form = document.getElementById('token-form');
  const input = document.getElementById('token');
  box.checked = false;
  // The exact view is offered only by a server that has a token.
  fetch('/api/v1/head', {cache: 'no-store'}).then((r) => r.ok ? r.json() : {}).then((h) => {
    document.getElementById('exact-control').hidden = !h.exact_figures;
  }).catch(() => {});
  box.addEventListener('change', async () => {
    if (!box.checked) return setExact(false);
    box.checked = false;  // on only once a token is taken
    const saved = sessionStorage.getItem(TOKEN_KEY);
    if (saved && await tokenWorks(saved)) {
      token = saved;
      return setExact(true);
    }
    form.hidden = false;
    input.focus();
  });
  document.getElementById('controls').addEventListener('submit', async (e) => {
    e.preventDefault();
    const t = input.value.trim();
    input.value = '';
    if (t && await tokenWorks(t)) {
      token = t;
      sessionStorage.setItem(TOKEN_KEY, t);
      return setExact(true);
    }
    sessionStorage.removeItem(TOKEN_KEY);
    document.getElementById('mode').textContent =
        'The token was refused: published figures only.';
  });
  document.getElementById('callouts-month').addEventListener('change', () => {
    const p = panels.find((x) => x.id === 'callouts-homes');
    p.last = null;
  });
  start();
});
