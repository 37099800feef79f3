// embeddings.create through the proxy (`tests/proxy_sdk.rs`), as the SDK calls it by default: it
// asks for encoding_format "base64" and decodes little-endian float32. The vector has `dimensions`
// floats of unit norm and equals the "float" answer; a list of inputs comes back as one vector per
// input, in order, each equal to that input's own; a list with a non-string is the proxy's 400
// naming `input`.
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

  const list = await openai.embeddings.create({
    model: MODEL,
    input: ['the first text', 'another text'],
    dimensions: DIMENSIONS,
  });
  assert.equal(list.data.length, 2);
  list.data.forEach((e, i) => assert.equal(e.index, i, 'in order'));
  list.data[0].embedding.forEach((x, i) => assert.equal(x, d.embedding[i], `first input's float ${i}`));
  assert.notDeepEqual(list.data[1].embedding, d.embedding, 'a different text, a different vector');

  const bad = await openai.embeddings.create({ model: MODEL, input: ['a', 7] }).then(
    () => assert.fail('a list with a number was expected to be refused'),
    (e) => e,
  );
  assert.ok(bad instanceof OpenAI.BadRequestError, `a BadRequestError, got ${bad}`);
  assert.equal(bad.param, 'input');
  return `${DIMENSIONS} floats, unit norm, base64 equal to float; a list of two inputs in order; a non-string input is a 400 naming input`;
});
