// The browser half of tests/bench/bench-web: first load to an interactive resource tree in Chromium,
// the bytes it transferred, and pved's CPU while the page polls. Settings in $BENCH_WEB (JSON);
// prints one JSON object of results.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';

const cfg = JSON.parse(process.env.BENCH_WEB);
const require = createRequire(join(cfg.top, 'web', 'package.json'));
const { chromium } = require('playwright-core');
const res = {};

const browser = await chromium.launch({ executablePath: cfg.chromium, args: ['--no-sandbox'] });

// CPU seconds of the given processes (utime + stime from /proc/PID/stat).
function cpu(pids) {
	const hz = 100;
	let t = 0;
	for (const p of pids) {
		const s = readFileSync(`/proc/${p}/stat`, 'utf8');
		const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
		t += (Number(f[11]) + Number(f[12])) / hz;
	}
	return t;
}
async function cpuOver(pids, seconds) {
	const c0 = cpu(pids), t0 = performance.now();
	await new Promise((r) => setTimeout(r, seconds * 1000));
	return (cpu(pids) - c0) / ((performance.now() - t0) / 1000);
}

res.idle_cpu = await cpuOver(cfg.pids, cfg.cpu_seconds);

const loads = [];
let bytes = 0, requests = 0;
let page;
for (let i = 0; i < cfg.rounds; i++) {
	// A new context each round: a cold cache, as a first visit.
	const ctx = await browser.newContext({ ignoreHTTPSErrors: true, viewport: { width: 1280, height: 800 } });
	await ctx.addCookies([{ name: 'PVEAuthCookie', value: encodeURIComponent(cfg.ticket), url: cfg.url, secure: true, sameSite: 'Strict' }]);
	await ctx.addInitScript(([u, c]) => localStorage.setItem('pved-login', JSON.stringify({ username: u, csrf: c })),
		[cfg.user, cfg.csrf]);
	page = await ctx.newPage();
	const cdp = await ctx.newCDPSession(page);
	await cdp.send('Network.enable');
	let b = 0, n = 0;
	cdp.on('Network.loadingFinished', (e) => { b += e.encodedDataLength; n++; });
	const t0 = Date.now();
	await page.goto(cfg.url + '/');
	await page.locator(`.tree [data-id="qemu/${cfg.first_vmid}"]`).waitFor({ timeout: 30000 });
	const tTree = Date.now() - t0;
	// Interactive: End and Up in the tree select the last guest (the storage is below it), its panel opens with its status.
	await page.locator('.tree').press('End');
	await page.locator('.tree').press('ArrowUp');
	if (cfg.verbose) await page.screenshot({ path: '/tmp/webdev/end.png' });
	await page.locator(`.tree [data-id="qemu/${cfg.last_vmid}"][aria-selected=true]`).waitFor({ timeout: 30000 });
	await page.locator('[data-testid=guest-status]').waitFor({ timeout: 30000 });
	const tUsable = Date.now() - t0;
	const perf = await page.evaluate(() => performance.getEntriesByType('resource').map((e) =>
		`${e.name.replace(location.origin, '')} start ${e.startTime.toFixed(0)} end ${e.responseEnd.toFixed(0)} size ${e.encodedBodySize}`)
		.concat(performance.getEntriesByType('mark').map((m) => `mark ${m.name} ${m.startTime.toFixed(0)}`)).concat([`nav ${JSON.stringify(performance.getEntriesByType('navigation')[0].toJSON(), ['requestStart', 'responseEnd', 'domInteractive', 'domContentLoadedEventEnd'])}`]));
	// In the page's own timeline: navigation to the tree drawn with the guests, and from the key
	// press to the guest's panel showing its status.
	const marks = await page.evaluate(() => performance.getEntriesByType('mark').map((m) => [m.name, m.startTime]));
	const at = (name, after = 0) => (marks.find(([n, t]) => n === name && t >= after) || [name, NaN])[1];
	const tree = at('tree');
	const key = marks.filter(([n2]) => n2 === 'tree-key').pop()[1];
	loads.push({ tree_ms: tTree, interactive_ms: tUsable, page_tree_ms: tree, page_select_ms: at('guest-status', key) - key,
		perf: cfg.verbose ? perf : undefined });
	if (i === 0) { bytes = b; requests = n; }
	if (i < cfg.rounds - 1) await ctx.close();
}
const median = (k) => loads.map((l) => l[k]).sort((a, b) => a - b)[Math.floor(loads.length / 2)];
res.loads = loads;
for (const k of ['tree_ms', 'interactive_ms', 'page_tree_ms', 'page_select_ms']) res[`median_${k}`] = median(k);
res.first_load_bytes = bytes;
res.first_load_requests = requests;

// The page stays open on the node's summary (the busiest view: resources, tasks and status polled).
await page.evaluate((n) => { location.hash = encodeURIComponent(`node/${n}`); }, cfg.node);
await page.locator("[data-testid=node-figures]").waitFor();
await page.waitForTimeout(1000);
res.polling_cpu = await cpuOver(cfg.pids, cfg.cpu_seconds);
await browser.close();
console.log(JSON.stringify(res));
