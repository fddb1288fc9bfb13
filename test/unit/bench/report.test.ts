import { test } from 'node:test';
import assert from 'node:assert/strict';
import { median, ratio, summarize } from '../../../bench/lib/stats.js';
import { checkTargets, fanOutSvg, markdownTable, niceTicks, textTable, toRow, type Measurement } from '../../../bench/lib/report.js';
import { parseAnsibleRecap, parseFlightRecap } from '../../../bench/lib/tools.js';

test('median of odd and even counts, unsorted input left alone', () => {
  const xs = [3, 1, 2];
  assert.equal(median(xs), 2);
  assert.deepEqual(xs, [3, 1, 2]);
  assert.equal(median([4, 1, 3, 2]), 2.5);
  assert.throws(() => median([]));
});

test('summaries round to milliseconds; ratio is peer over Flight', () => {
  assert.deepEqual(summarize([1.23456, 0.5, 2]), { median: 1.235, min: 0.5, max: 2 });
  assert.equal(ratio({ median: 10, min: 9, max: 11 }, { median: 1.6, min: 1, max: 2 }), 6.25);
});

const noChange10: Measurement = {
  scenario: 'no-change', servers: 10, peer: 'ansible', flight: [1, 1.2, 0.8], peerRuns: [6, 7, 5],
  flightConnections: [10, 10, 10], peerConnections: [10, 10, 10],
};

test('a row carries exactly the keys issue 7 names, in its order', () => {
  const row = toRow(noChange10);
  assert.deepEqual(Object.keys(row), ['scenario', 'servers', 'flight_s', 'ansible_s', 'ratio_vs_ansible', 'runs']);
  assert.deepEqual(row.flight_s, { median: 1, min: 0.8, max: 1.2 });
  assert.equal(row.ratio_vs_ansible, 6);
  assert.equal(row.runs, 3);
  const fan = toRow({ scenario: 'fan-out', servers: 5, flight: [0.5, 0.7] });
  assert.deepEqual(Object.keys(fan), ['scenario', 'servers', 'flight_s', 'runs']);
});

test('targets: met and missed, from the medians', () => {
  const rows = [
    toRow(noChange10),
    toRow({ scenario: 'no-change', servers: 50, peer: 'ansible', flight: [2], peerRuns: [10] }),
    toRow({ scenario: 'release', servers: 3, peer: 'capistrano', flight: [4], peerRuns: [6] }),
    toRow({ scenario: 'release', servers: 3, peer: 'floor', flight: [4], peerRuns: [2] }),
    toRow({ scenario: 'release', servers: 3, peer: 'floor_app', flight: [4], peerRuns: [3] }),
    toRow({ scenario: 'fan-out', servers: 1, flight: [1] }),
    toRow({ scenario: 'fan-out', servers: 50, flight: [2.5] }),
    toRow({ scenario: 'start', servers: 1, peer: 'node', flight: [0.2], peerRuns: [0.14] }),
    toRow({ scenario: 'change', servers: 5, peer: 'ansible', flight: [5], peerRuns: [60] }),
    toRow({ scenario: 'laravel-release', servers: 3, peer: 'floor_app', flight: [10], peerRuns: [8] }),
    toRow({ scenario: 'laravel-release', servers: 3, peer: 'capistrano', flight: [10], peerRuns: [11] }),
    toRow({ scenario: 'laravel-release', servers: 10, peer: 'floor_app', flight: [30], peerRuns: [25] }),
    toRow({ scenario: 'many-apps', servers: 3, peer: 'one_app', flight: [20], peerRuns: [9] }),
  ];
  const got = checkTargets(rows).map((c) => [c.value, c.met]);
  assert.deepEqual(got, [
    ['0.200 s (node alone 0.140 s)', false],
    ['6.0x', true],
    ['5.0x', false],
    ['12.0x', true],
    ['1.50x', true],
    ['2.00x the floor', false],
    ['1.33x that floor', true],
    ['1.25x that floor', false],
    ['1.20x that floor', true],
    ['1.10x', false],
    ['2.22x one app', false],
    ['2.50x', true],
  ]);
});

test('tables show median (min-max), ratio and logins', () => {
  const rows = [toRow(noChange10)];
  const text = textTable(rows, [{ flightConnections: 10, peerConnections: 10, flightCpu: 1.234, peerCpu: 30 }]);
  assert.match(text, /no-change\s+10\s+1\.00 \(0\.80-1\.20\)\s+ansible\s+6\.00 \(5\.00-7\.00\)\s+6\.00x\s+10\/10\s+1\.2\/30\.0\s+3/);
  const md = markdownTable(rows).split('\n');
  assert.equal(md[0], '| scenario | servers | Flight s | peer | peer s | ratio | SSH logins F/peer | CPU s F/peer | runs |');
  assert.equal(md[2], '| no-change | 10 | 1.00 (0.80-1.20) | ansible | 6.00 (5.00-7.00) | 6.00x | - | - | 3 |');
});

test('axis ticks are round numbers covering the maximum', () => {
  assert.deepEqual(niceTicks(10, 5), [0, 2, 4, 6, 8, 10]);
  assert.deepEqual(niceTicks(0.37, 5), [0, 0.1, 0.2, 0.3, 0.4]);
  assert.deepEqual(niceTicks(0), [0, 1]);
});

test('the fan-out chart is one well-formed SVG with a point per size and the target line', () => {
  const rows = [1, 10, 50].map((n, i) => toRow({ scenario: 'fan-out', servers: n, flight: [0.5 + i * 0.2, 0.6 + i * 0.2] }));
  const svg = fanOutSvg(rows, 'caption <&>');
  assert.ok(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"'));
  assert.ok(svg.trimEnd().endsWith('</svg>'));
  assert.equal(svg.match(/<circle /g)?.length, 3);
  assert.match(svg, /target ceiling: 3 x the 1-server time \(1\.65 s\)/);
  assert.match(svg, /caption &lt;&amp;&gt;/);
  assert.equal(svg.match(/<polyline /g)?.length, 1);
});

test('recaps: Flight JSON events and Ansible PLAY RECAP lines', () => {
  const flight = '{"event":"task_end"}\n{"event":"recap","hosts":{"a":{"ok":20,"changed":0,"failed":0,"skipped":0,"unreachable":0}},"ms":5,"connections":1}\n';
  assert.equal(parseFlightRecap(flight)?.connections, 1);
  assert.equal(parseFlightRecap('nothing'), undefined);
  const ansible = 'PLAY RECAP ****\nlab-1  : ok=23   changed=1    unreachable=0    failed=0    skipped=0\nlab-2  : ok=22   changed=0    unreachable=1    failed=2    skipped=0\n';
  assert.deepEqual(parseAnsibleRecap(ansible), { hosts: 2, changed: 1, failed: 3 });
});
