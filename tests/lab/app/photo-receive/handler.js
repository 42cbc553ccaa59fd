'use strict';
// photo-receive: a photographer uploads the photo of a product, either
// inline (image.data, base64) or as a link (image.url, fetched). The photo
// is stored under /tmp/photos, converted to the requested format by the
// converter shipped with the function (convert-sim.sh), signed with the
// storage token from its OpenFaaS secret, and the product's image field is
// updated in product-catalog-api through the gateway.
//
// DELIBERATE FLAW (a), see tests/lab/README.md: the converter runs through
// a shell with the request's "format" field pasted into the command line
// unquoted (child_process.exec), an OS command injection as in OWASP
// ServerlessGoat's document converter.
const { exec } = require('child_process');
const crypto = require('crypto');
const fs = require('fs');
const path = require('path');

const GATEWAY = process.env.gateway_url || 'http://gateway.openfaas:8080';
const CONVERTER = path.join(__dirname, 'convert-sim.sh');
const PHOTOS = '/tmp/photos';
const TOKEN = '/var/openfaas/secrets/lab-storage-token';

function run(cmd) {
  return new Promise((resolve, reject) => {
    exec(cmd, { timeout: 15000, maxBuffer: 1 << 20 }, (err, stdout, stderr) => {
      if (err) { err.stderr = stderr; return reject(err); }
      resolve(stdout);
    });
  });
}

module.exports = async (event, context) => {
  const b = typeof event.body === 'string' ? JSON.parse(event.body || '{}') : (event.body || {});
  const img = b.image || {};
  const name = String(img.name || '').replace(/[^a-zA-Z0-9._-]/g, '_');
  if (!name || !b.product_id) return context.status(400).succeed({ error: 'product_id and image.name required' });
  let data;
  if (img.url) {
    const res = await fetch(String(img.url));
    if (!res.ok) return context.status(502).succeed({ error: `fetch ${img.url}: HTTP ${res.status}` });
    data = Buffer.from(await res.arrayBuffer());
  } else {
    data = Buffer.from(String(img.data || ''), 'base64');
  }
  if (data.length === 0) return context.status(400).succeed({ error: 'empty image' });
  fs.mkdirSync(PHOTOS, { recursive: true });
  const src = path.join(PHOTOS, name);
  fs.writeFileSync(src, data);
  const format = b.format || 'jpg';
  const dst = `${src.replace(/\.[^.]*$/, '')}.converted`;
  let out;
  try {
    out = await run('sh ' + CONVERTER + ' --to ' + format + ' ' + src + ' ' + dst); // <- flaw (a)
  } catch (e) {
    return context.status(422).succeed({ error: 'conversion failed', detail: String(e.stderr || e.message).slice(0, 300) });
  }
  const token = fs.readFileSync(TOKEN, 'utf8').trim();
  const sig = crypto.createHmac('sha256', token).update(fs.readFileSync(dst)).digest('hex');
  const url = `store://photos/${b.product_id}/${path.basename(dst)}?sig=${sig.slice(0, 16)}`;
  const headers = { 'Content-Type': 'application/json' };
  if (event.headers && event.headers['x-call-id']) headers['X-Call-Id'] = event.headers['x-call-id'];
  const res = await fetch(`${GATEWAY}/function/product-catalog-api`, {
    method: 'POST', headers, body: JSON.stringify({ id: b.product_id, name: b.product_name || b.product_id, image: url }),
  });
  return context.status(200).succeed({ stored: url, converter: out.trim(), catalog: res.status });
};
