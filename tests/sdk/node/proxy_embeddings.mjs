// embeddings.create through the proxy (`tests/proxy_sdk.rs`), as the SDK calls it by default: it
// asks for encoding_format "base64" and decodes little-endian float32. The proxy sends one input
// per request, so each call has one string (a list is the proxy's 400 naming `input`, checked
// here too); the vector has `dimensions` floats of unit norm and equals the "float" answer.
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import { check, client } from './lib.mjs';

const DIMENSIONS = 64;
const MODEL = 'text-embedding-3-small';

await check('proxy_embeddings', async () => {
  const openai = client();
  const r = await openai.embeddings.create({ model: MODEL, input: 'the first text', dimensions: DIMENSIONS });
  assert.equal(r.object, 'list');
  assert.equal(r.data.length, 1);
  const [d] = r.data;
  assert.equal(d.object, 'embedding');
  assert.ok(Array.isArray(d.embedding), 'the SDK decoded base64 into an array');
  assert.equal(d.embedding.length, DIMENSIONS);
  assert.ok(d.embedding.every(Number.isFinite), 'every float is finite');
  const norm = Math.sqrt(d.embedding.reduce((s, x) => s + x * x, 0));
  assert.ok(Math.abs(norm - 1) < 1e-4, `unit norm, got ${norm}`);
  assert.ok(r.usage.prompt_tokens > 0, JSON.stringify(r.usage));

  const floats = await openai.embeddings.create({
    model: MODEL,
    input: 'the first text',
    dimensions: DIMENSIONS,
    encoding_format: 'float',
  });
  const a = floats.data[0].embedding;
  assert.equal(a.length, DIMENSIONS);
  a.forEach((x, i) => assert.equal(Math.fround(x), d.embedding[i], `float ${i}`));

  const list = await openai.embeddings.create({ model: MODEL, input: ['a', 'b'] }).then(
    () => assert.fail('a list of inputs was expected to be refused'),
    (e) => e,
  );
  assert.ok(list instanceof OpenAI.BadRequestError, `a BadRequestError, got ${list}`);
  assert.equal(list.param, 'input');
  return `${DIMENSIONS} floats, unit norm, base64 equal to float; a list of inputs is a 400 naming input`;
});
