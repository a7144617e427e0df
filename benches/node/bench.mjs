// Time whatsapp-chat-parser's parseString inside Node (file read and Node start-up excluded).
// usage: npm install && node bench.mjs PATH [RUNS=10]
import { readFileSync } from 'node:fs';
import { parseString } from 'whatsapp-chat-parser';

const path = process.argv[2];
const runs = Number(process.argv[3] ?? 10);
if (!path) {
  console.error('usage: node bench.mjs EXPORT.txt [RUNS]');
  process.exit(2);
}
const text = readFileSync(path, 'utf8');
const options = { parseAttachments: true };

// Warm-up (JIT), then timed runs.
let count = parseString(text, options).length;
const times = [];
for (let i = 0; i < runs; i++) {
  const t0 = process.hrtime.bigint();
  const messages = parseString(text, options);
  const t1 = process.hrtime.bigint();
  times.push(Number(t1 - t0) / 1e6);
  count = messages.length;
}
times.sort((a, b) => a - b);
const median = times[Math.floor(times.length / 2)];
console.log(JSON.stringify({
  parser: 'whatsapp-chat-parser',
  file: path,
  bytes: Buffer.byteLength(text),
  messages: count,
  runs,
  min_ms: +times[0].toFixed(1),
  median_ms: +median.toFixed(1),
  msg_per_s: Math.round(count / (median / 1000)),
}));
