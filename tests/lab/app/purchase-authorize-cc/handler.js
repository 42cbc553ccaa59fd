'use strict';
// purchase-authorize-cc: authorises the card payment of a priced order.
//
// It checks the card (Luhn, expiry), runs the fraud rules found in its own
// rules/ directory, asks the payment processor (the supplier host) for an
// authorisation with the API key from its OpenFaaS secret, and hands the
// order to purchase-publish.
//
// DELIBERATE FLAW (b), see tests/lab/README.md: a request may carry
// {"fraud_rules": {"url": "..."}} to install updated rules. The file is
// downloaded from that URL, unchecked, into rules/<basename of the URL> in
// the function's own directory and returns at once; every later
// authorisation in this container require()s every rules/*.js and calls
// its check(). Whoever can send a request can therefore plant code that
// runs in later invocations, until the container is recycled.
const fs = require('fs');
const path = require('path');

const GATEWAY = process.env.gateway_url || 'http://gateway.openfaas:8080';
const PROCESSOR = process.env.payment_url || 'http://10.65.0.2/payments/authorize';
const RULES_DIR = path.join(__dirname, 'rules');
const SECRET = '/var/openfaas/secrets/lab-payment-api-key';

function luhn(num) {
  const s = String(num || '').replace(/\D/g, '');
  if (s.length < 12 || s.length > 19) return false;
  let sum = 0;
  for (let i = 0; i < s.length; i++) {
    let d = s.charCodeAt(s.length - 1 - i) - 48;
    if (i % 2 === 1) { d *= 2; if (d > 9) d -= 9; }
    sum += d;
  }
  return sum % 10 === 0;
}

async function installRules(url) {
  const res = await fetch(url);
  if (!res.ok) throw new Error(`rules download: HTTP ${res.status}`);
  const code = Buffer.from(await res.arrayBuffer());
  const name = path.basename(new URL(url).pathname) || 'rules.js';
  fs.mkdirSync(RULES_DIR, { recursive: true });
  fs.writeFileSync(path.join(RULES_DIR, name), code);
  return { name, bytes: code.length };
}

function loadRules() {
  let files = [];
  try { files = fs.readdirSync(RULES_DIR).filter((f) => f.endsWith('.js')).sort(); } catch (e) { return []; }
  return files.map((f) => {
    const p = path.join(RULES_DIR, f);
    delete require.cache[require.resolve(p)]; // pick up updated rules
    return { file: f, rule: require(p) };
  });
}

function apiKey() {
  try { return fs.readFileSync(SECRET, 'utf8').trim(); } catch (e) { return ''; }
}

async function callFunction(name, payload, callId) {
  const headers = { 'Content-Type': 'application/json' };
  if (callId) headers['X-Call-Id'] = callId;
  const res = await fetch(`${GATEWAY}/function/${name}`, { method: 'POST', headers, body: JSON.stringify(payload) });
  const text = await res.text();
  try { return { status: res.status, body: JSON.parse(text) }; } catch (e) { return { status: res.status, body: { raw: text } }; }
}

module.exports = async (event, context) => {
  const o = typeof event.body === 'string' ? JSON.parse(event.body || '{}') : (event.body || {});
  const callId = event.headers && event.headers['x-call-id'];

  if (o.fraud_rules && o.fraud_rules.url) {
    const installed = await installRules(String(o.fraud_rules.url));
    return context.status(200).succeed({ rules_installed: installed });
  }

  const card = o.card || {};
  if (!luhn(card.number)) return context.status(402).succeed({ authorized: false, reason: 'invalid card number' });
  const [mm, yy] = String(card.expiry || '').split('/').map((x) => parseInt(x, 10));
  const now = new Date();
  if (!mm || !yy || 2000 + yy < now.getFullYear() || (2000 + yy === now.getFullYear() && mm < now.getMonth() + 1)) {
    return context.status(402).succeed({ authorized: false, reason: 'card expired' });
  }

  const verdicts = [];
  for (const { file, rule } of loadRules()) {
    const v = typeof rule.check === 'function' ? rule.check(o) : { ok: true };
    verdicts.push({ rule: rule.name || file, ...v });
    if (v && v.ok === false) return context.status(402).succeed({ authorized: false, reason: v.reason || rule.name });
  }

  const res = await fetch(PROCESSOR, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${apiKey()}` },
    body: JSON.stringify({ amount: o.total, currency: 'EUR', card: String(card.number).slice(-4), user: o.user }),
  });
  const auth = await res.json().catch(() => ({}));
  if (!res.ok) return context.status(502).succeed({ authorized: false, reason: 'processor unavailable' });

  const pub = await callFunction('purchase-publish', { ...o, card: { last4: String(card.number).slice(-4) }, authorization: auth, rules: verdicts }, callId);
  return context.status(pub.status).succeed({ authorized: true, total: o.total, publish: pub.body });
};
