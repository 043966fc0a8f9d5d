#!/usr/bin/env node
// idp_signin.mjs: play the user's browser for `tip auth`. Tests put it in BROWSER, so tip
// runs it with the authorization URL as its last argument:
//
//   BROWSER="node idp_signin.mjs --username U --password P [options] --url" tip auth
//
// It signs in at the identity provider (the test IdP's or the development IdP's form: any
// form with a password field), follows the redirects to tip's loopback callback and delivers
// it, then prints tip's page (status and text) on stdout. Exit 0 when tip answered 200.
//
// Options:
//   --chromium PATH       drive that Chromium (playwright-core) instead of plain HTTP requests
//   --screenshot FILE     with --chromium, a screenshot of tip's final page
//   --print-callback      do not deliver the callback: print its URL (the test sends it itself)
//   --set NAME=VALUE      change a parameter of the authorization URL first (repeatable),
//                         e.g. --set nonce=forged
//   --out FILE            write what would go to stdout to FILE instead (tip ignores the
//                         browser's output)
// Exits 1 with a message on stderr when a step fails.

import { parseArgs } from 'node:util';
import { writeFileSync } from 'node:fs';

const { values: opt } = parseArgs({
  options: {
    url: { type: 'string' },
    username: { type: 'string' },
    password: { type: 'string' },
    chromium: { type: 'string' },
    screenshot: { type: 'string' },
    'print-callback': { type: 'boolean', default: false },
    set: { type: 'string', multiple: true, default: [] },
    out: { type: 'string' },
  },
});
for (const name of ['url', 'username', 'password']) {
  if (opt[name] === undefined) fail(`missing --${name}`);
}

function fail(message) {
  const line = `idp_signin.mjs: ${message}`;
  console.error(line);
  if (opt.out) writeFileSync(opt.out, `ERROR ${line}\n`);
  process.exit(1);
}

function emit(text) {
  if (opt.out) writeFileSync(opt.out, text + '\n');
  else console.log(text);
}

const authorize = new URL(opt.url);
for (const s of opt.set) {
  const i = s.indexOf('=');
  authorize.searchParams.set(s.slice(0, i), s.slice(i + 1));
}
const redirectUri = authorize.searchParams.get('redirect_uri');
if (!redirectUri) fail('the authorization URL has no redirect_uri');
const isCallback = (u) => u.startsWith(redirectUri);

const decode = (s) => s.replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&lt;/g, '<')
  .replace(/&gt;/g, '>').replace(/&amp;/g, '&');
const text = (html) => decode(html.replace(/<style[\s\S]*?<\/style>/g, '').replace(/<[^>]+>/g, ' '))
  .replace(/\s+/g, ' ').trim();

async function viaHttp() {
  const jar = new Map();
  async function request(url, init = {}) {
    const headers = { ...init.headers };
    if (jar.size) headers.cookie = [...jar].map(([n, v]) => `${n}=${v}`).join('; ');
    const res = await fetch(url, { ...init, headers, redirect: 'manual' });
    for (const cookie of res.headers.getSetCookie()) {
      const pair = cookie.split(';')[0];
      const name = pair.slice(0, pair.indexOf('=')).trim();
      const value = pair.slice(pair.indexOf('=') + 1).trim();
      if (value) jar.set(name, value); else jar.delete(name);
    }
    return res;
  }
  let url = authorize.toString();
  let init = {};
  for (let step = 0; step < 20; step++) {
    if (isCallback(url)) return url;
    const res = await request(url, init);
    init = {};
    if (res.status >= 300 && res.status < 400) {
      url = new URL(res.headers.get('location'), url).toString();
      continue;
    }
    const html = await res.text();
    const form = /<form[^>]*>[\s\S]*?<\/form>/.exec(html.replace(/<form[^>]*id="abort"[\s\S]*?<\/form>/, ''));
    if (res.status === 401 || !form || !/type="password"/.test(form[0])) {
      fail(`HTTP ${res.status} at ${new URL(url).pathname}: ${text(html).slice(0, 300)}`);
    }
    const action = /action="([^"]*)"/.exec(form[0]);
    const body = new URLSearchParams();
    for (const input of form[0].matchAll(/<input[^>]*>/g)) {
      const name = /name="([^"]*)"/.exec(input[0]);
      if (!name) continue;
      const value = /value="([^"]*)"/.exec(input[0]);
      body.set(decode(name[1]), value ? decode(value[1]) : '');
    }
    body.set('username', opt.username);
    body.set('password', opt.password);
    url = new URL(action ? decode(action[1]) : '', url).toString();
    init = { method: 'POST', body, headers: { 'content-type': 'application/x-www-form-urlencoded' } };
  }
  fail('too many steps before the callback');
}

async function viaChromium() {
  const { chromium } = await import('playwright-core');
  const browser = await chromium.launch({ executablePath: opt.chromium, args: ['--no-sandbox'] });
  try {
    const page = await browser.newPage();
    let callback;
    if (opt['print-callback']) {
      await page.route(`${redirectUri}**`, (route) => {
        callback = route.request().url();
        return route.fulfill({ body: 'caught' });
      });
    }
    await page.goto(authorize.toString());
    await page.fill('input[name="username"]', opt.username);
    await page.fill('input[name="password"]', opt.password);
    await Promise.all([
      page.waitForURL((u) => isCallback(u.toString()), { timeout: 30000 }),
      page.click('button[type="submit"], #submit'),
    ]);
    if (callback) return { callback };
    await page.waitForLoadState('load');
    if (opt.screenshot) await page.screenshot({ path: opt.screenshot, fullPage: true });
    return { page: await page.textContent('body') };
  } finally {
    await browser.close();
  }
}

if (opt.chromium) {
  const r = await viaChromium();
  if (r.callback) emit(r.callback);
  else emit(`200 ${r.page.replace(/\s+/g, ' ').trim()}`);
} else {
  const callback = await viaHttp();
  if (opt['print-callback']) {
    emit(callback);
  } else {
    const res = await fetch(callback, { redirect: 'manual' });
    const body = await res.text();
    emit(`${res.status} ${text(body)}`);
    if (res.status !== 200) process.exit(1);
  }
}
