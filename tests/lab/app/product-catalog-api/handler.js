'use strict';
// product-catalog-api: the catalog's store. GET lists products (filters:
// ?id=, ?category=) and POST adds or updates one. State is a JSON file in
// the container's /tmp (it lives as long as the warm container).
const fs = require('fs');
const path = require('path');

const DATA_DIR = process.env.catalog_dir || '/tmp/catalog';
const DATA_FILE = path.join(DATA_DIR, 'products.json');
const SEED = path.join(__dirname, 'seed-products.json');

function load() {
  try {
    return JSON.parse(fs.readFileSync(DATA_FILE, 'utf8'));
  } catch (e) {
    if (e.code !== 'ENOENT') throw e;
    // First call in this container: start from the seed catalogue.
    const seed = JSON.parse(fs.readFileSync(SEED, 'utf8'));
    save(seed);
    return seed;
  }
}

function save(products) {
  fs.mkdirSync(DATA_DIR, { recursive: true });
  const tmp = DATA_FILE + '.' + process.pid + '.tmp';
  fs.writeFileSync(tmp, JSON.stringify(products, null, 1));
  fs.renameSync(tmp, DATA_FILE);
}

module.exports = async (event, context) => {
  const method = (event.method || 'GET').toUpperCase();
  const q = event.query || {};
  if (method === 'GET') {
    let products = Object.values(load());
    if (q.id) products = products.filter((p) => p.id === q.id);
    if (q.category) products = products.filter((p) => p.category === q.category);
    const limit = Math.min(parseInt(q.limit || '50', 10) || 50, 500);
    return context.status(200).succeed({ count: products.length, products: products.slice(0, limit) });
  }
  if (method === 'POST' || method === 'PUT') {
    const p = typeof event.body === 'string' ? JSON.parse(event.body || '{}') : (event.body || {});
    if (!p.id || !p.name) return context.status(400).succeed({ error: 'id and name are required' });
    const products = load();
    const prev = products[p.id] || {};
    products[p.id] = { ...prev, ...p, updated: new Date().toISOString() };
    save(products);
    return context.status(prev.id ? 200 : 201).succeed({ stored: products[p.id] });
  }
  return context.status(405).succeed({ error: 'method not allowed' });
};
