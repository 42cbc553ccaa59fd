'use strict';
// purchase-authenticate: first function of the purchase chain. It checks
// the buyer's password against the user table shipped with the function
// (PBKDF2), keeps a failed-login counter per user in /tmp, and passes the
// order on to purchase-get-price through the gateway.
const crypto = require('crypto');
const fs = require('fs');
const path = require('path');

const GATEWAY = process.env.gateway_url || 'http://gateway.openfaas:8080';
const USERS = JSON.parse(fs.readFileSync(path.join(__dirname, 'users.json'), 'utf8'));
const FAILS = '/tmp/auth-failures.json';

function failures() {
  try { return JSON.parse(fs.readFileSync(FAILS, 'utf8')); } catch (e) { return {}; }
}

function verify(user, password) {
  const u = USERS[user];
  if (!u || typeof password !== 'string') return false;
  const got = crypto.pbkdf2Sync(password, u.salt, 20000, 32, 'sha256');
  return crypto.timingSafeEqual(got, Buffer.from(u.hash, 'hex'));
}

async function callFunction(name, payload, callId) {
  const headers = { 'Content-Type': 'application/json' };
  if (callId) headers['X-Call-Id'] = callId;
  const res = await fetch(`${GATEWAY}/function/${name}`, { method: 'POST', headers, body: JSON.stringify(payload) });
  const text = await res.text();
  let body;
  try { body = JSON.parse(text); } catch (e) { body = { raw: text }; }
  return { status: res.status, body };
}

module.exports = async (event, context) => {
  const b = typeof event.body === 'string' ? JSON.parse(event.body || '{}') : (event.body || {});
  const fails = failures();
  const user = String(b.user || '');
  if ((fails[user] || 0) >= 5) {
    return context.status(429).succeed({ error: 'too many failed logins' });
  }
  if (!verify(user, b.password)) {
    fails[user] = (fails[user] || 0) + 1;
    fs.writeFileSync(FAILS, JSON.stringify(fails));
    return context.status(401).succeed({ error: 'bad credentials' });
  }
  if (fails[user]) {
    delete fails[user];
    fs.writeFileSync(FAILS, JSON.stringify(fails));
  }
  const order = {
    user,
    items: Array.isArray(b.items) ? b.items : [],
    region: b.region || USERS[user].region,
    card: b.card || {},
  };
  if (b.fraud_rules) order.fraud_rules = b.fraud_rules;
  const res = await callFunction('purchase-get-price', order, event.headers && event.headers['x-call-id']);
  return context.status(res.status).succeed(res.body);
};
