// The demo data application in a real browser: Debian's Chromium driven by playwright-core,
// an axe-core accessibility check on every page (no violation of serious or critical impact),
// and a screenshot of every page.
//
//   node demo_walk.mjs --manifest M.json --expect EXPECT.json --screenshots DIR [--chromium PATH]
//
// EXPECT.json: {"<dataset id>": {"total": "$1,234.56", "rows": [["roma", "$123.45"], …]}}, the
// sums of the CSVs as the test read them from S3 itself. Prints one line per check; exits
// non-zero at the first failure.
import { readFileSync, mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { chromium } from 'playwright-core';

const require = createRequire(import.meta.url);
const args = {};
for (let i = 2; i < process.argv.length; i += 2) args[process.argv[i].replace(/^--/, '')] = process.argv[i + 1];
const manifest = JSON.parse(readFileSync(args.manifest, 'utf8'));
const expect = JSON.parse(readFileSync(args.expect, 'utf8'));
const shots = args.screenshots;
mkdirSync(shots, { recursive: true });
const axeSource = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');

function fail(msg) {
  console.error(`FAIL: ${msg}`);
  process.exit(1);
}
function ok(cond, msg) {
  if (!cond) fail(msg);
  console.log(`ok: ${msg}`);
}

async function axe(page, name) {
  await page.evaluate(axeSource);
  const result = await page.evaluate(async () => await window.axe.run(document, { resultTypes: ['violations'] }));
  const bad = result.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  if (bad.length) {
    fail(`${name}: accessibility violations: ${JSON.stringify(bad.map((v) => ({ id: v.id, impact: v.impact, nodes: v.nodes.map((n) => n.target) })))}`);
  }
  console.log(`ok: ${name}: no serious or critical accessibility violations`);
}

async function shot(page, name) {
  await page.screenshot({ path: `${shots}/${name}.png`, fullPage: true });
}

async function signIn(page, user, label) {
  await page.goto(manifest.demo_url);
  await shot(page, `${label}-00-welcome`);
  await axe(page, `${label} welcome`);
  await page.getByRole('link', { name: 'Sign in' }).first().click();
  await page.waitForSelector('#username');
  await shot(page, `${label}-01-idp-sign-in`);
  await axe(page, `${label} sign-in page`);
  // A wrong password: the sign-in page again, with a message.
  await page.fill('#username', user.username);
  await page.fill('#password', 'not-the-password');
  await page.click('button[type=submit]');
  await page.waitForSelector('.error');
  ok((await page.textContent('.error')).includes('do not match'), `${label}: a wrong password gets the sign-in page again with a message`);
  await shot(page, `${label}-02-idp-wrong-password`);
  await page.fill('#username', user.username);
  await page.fill('#password', user.password);
  await page.click('button[type=submit]');
  await page.waitForURL(/\/datasets$/);
  ok(true, `${label}: signed in, on the datasets page`);
}

async function chart(page, id, label) {
  await page.click(`a[href="/datasets/${id}"]`);
  await page.waitForURL(new RegExp(`/datasets/${id}$`));
  const want = expect[id];
  ok(await page.isVisible('svg.pie'), `${label}: ${id}: the pie chart is drawn`);
  const slices = await page.$$eval('svg.pie path, svg.pie circle', (n) => n.length);
  ok(slices === want.rows.length, `${label}: ${id}: ${slices} slices, one per variety (${want.rows.length})`);
  const rows = await page.$$eval('tbody tr', (trs) => trs.map((tr) => [tr.querySelector('th').textContent.trim(), tr.querySelectorAll('td')[1].textContent.trim()]));
  const sorted = (r) => [...r].sort((a, b) => a[0].localeCompare(b[0]));
  ok(JSON.stringify(sorted(rows)) === JSON.stringify(sorted(want.rows)), `${label}: ${id}: the table's revenue per variety is the data's (${JSON.stringify(rows)})`);
  const total = (await page.textContent('.total')).trim();
  ok(total === want.total, `${label}: ${id}: the total is ${want.total} (page: ${total})`);
  const labels = await page.$$eval('svg.pie title', (t) => t.map((x) => x.textContent));
  ok(want.rows.every(([v, amount]) => labels.some((l) => l.startsWith(`${v}: ${amount}`))), `${label}: ${id}: every slice is labelled with its variety and amount`);
  await shot(page, `${label}-04-chart-${id}`);
  await axe(page, `${label} chart of ${id}`);
}

async function refused(page, id, label) {
  await page.goto(`${manifest.demo_url}/datasets`);
  await page.click(`a[href="/datasets/${id}"]`);
  await page.waitForSelector('.request-id');
  const rid = (await page.textContent('.request-id')).trim();
  ok(/^[0-9a-f-]{36}$/.test(rid), `${label}: ${id}: refused, with the request id ${rid}`);
  ok((await page.textContent('main')).includes('no grant for you or your groups covers it'), `${label}: ${id}: the page says no grant covers it`);
  await shot(page, `${label}-05-refused-${id}`);
  await axe(page, `${label} refusal of ${id}`);
  return rid;
}

async function whoReadWhat(page, user, id, label) {
  await page.click('a[href="/audit"]');
  await page.waitForURL(/\/audit/);
  const rows = await page.$$eval('tbody tr', (trs) => trs.map((tr) => [...tr.querySelectorAll('td')].map((td) => td.textContent.trim())));
  const prefix = `s3://example-bucket/${expect[id].prefix}`;
  ok(rows.some((r) => r[1].startsWith(user.name) && r[2].startsWith(prefix) && r[4] === 'read'), `${label}: who read what lists ${user.name}'s GetObject of ${prefix}… on their behalf`);
  // Filter by the person.
  await page.selectOption('#user', user.user_id);
  await page.click('form.filter button[type=submit]');
  await page.waitForURL(/user=/);
  const filtered = await page.$$eval('tbody tr', (trs) => trs.map((tr) => tr.querySelectorAll('td')[1]?.textContent.trim() ?? ''));
  ok(filtered.length > 0 && filtered.every((p) => p.startsWith(user.name)), `${label}: filtered by ${user.name}, only their reads are listed`);
  await shot(page, `${label}-06-who-read-what`);
  await axe(page, `${label} who read what`);
}

async function signOut(page, label) {
  await page.click('nav button[type=submit]');
  await page.waitForURL(new RegExp(`^${manifest.demo_url}/?$`));
  await page.goto(`${manifest.demo_url}/datasets`);
  ok(!page.url().endsWith('/datasets'), `${label}: signed out: the datasets page sends back to the start`);
  await shot(page, `${label}-07-signed-out`);
}

const browser = await chromium.launch({
  executablePath: args.chromium || '/usr/bin/chromium',
  headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
try {
  const users = manifest.idp.users;
  const mateo = users.find((u) => u.username === 'mateo.jackson');
  const blue = users.find((u) => u.groups.includes('Blue Project Group'));
  for (const [user, mine, theirs, label] of [[mateo, 'tomatoes', 'blueberries', 'mateo'], [blue, 'blueberries', 'tomatoes', 'blue']]) {
    // bypassCSP: the pages allow no script; axe-core is injected by the test.
    const context = await browser.newContext({ bypassCSP: true, viewport: { width: 1280, height: 900 } });
    const page = await context.newPage();
    await signIn(page, user, label);
    const links = await page.$$eval('a.title', (a) => a.map((x) => x.getAttribute('href')));
    ok(links.includes(`/datasets/${mine}`), `${label}: ${mine} is among the datasets`);
    await shot(page, `${label}-03-datasets`);
    await axe(page, `${label} datasets`);
    const mineSection = await page.$$eval('h2', (h) => h.map((x) => x.textContent));
    ok(mineSection.includes('Datasets you may read'), `${label}: the datasets page tells readable from not`);
    await chart(page, mine, label);
    // Readable on a phone: 390 px wide.
    await page.setViewportSize({ width: 390, height: 844 });
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    ok(overflow <= 0, `${label}: the chart page fits a 390 px wide screen (overflow ${overflow}px)`);
    await shot(page, `${label}-04-chart-${mine}-390px`);
    await page.setViewportSize({ width: 1280, height: 900 });
    await refused(page, theirs, label);
    await whoReadWhat(page, user, mine, label);
    await signOut(page, label);
    await context.close();
  }
  console.log('browser walk ok');
} finally {
  await browser.close();
}
