'use strict';
// photo-assign: picks the next product without a photo (optionally of a
// category) from product-catalog-api and assigns it to the photographer;
// assignments are kept in /tmp so one product goes to one photographer.
const fs = require('fs');

const GATEWAY = process.env.gateway_url || 'http://gateway.openfaas:8080';
const STORE = '/tmp/assignments.json';

function load() { try { return JSON.parse(fs.readFileSync(STORE, 'utf8')); } catch (e) { return {}; } }

module.exports = async (event, context) => {
  const b = typeof event.body === 'string' ? JSON.parse(event.body || '{}') : (event.body || {});
  if (!b.photographer) return context.status(400).succeed({ error: 'photographer required' });
  const headers = {};
  if (event.headers && event.headers['x-call-id']) headers['X-Call-Id'] = event.headers['x-call-id'];
  const q = b.category ? `?category=${encodeURIComponent(b.category)}` : '';
  const res = await fetch(`${GATEWAY}/function/product-catalog-api${q}`, { headers });
  const { products = [] } = await res.json().catch(() => ({}));
  const assigned = load();
  const next = products.find((p) => !p.image && !assigned[p.id]) || products.find((p) => !p.image);
  if (!next) return context.status(200).succeed({ assigned: null, reason: 'nothing to photograph' });
  assigned[next.id] = { photographer: b.photographer, at: new Date().toISOString() };
  fs.writeFileSync(STORE, JSON.stringify(assigned));
  return context.status(200).succeed({ assigned: next.id, photographer: b.photographer });
};
