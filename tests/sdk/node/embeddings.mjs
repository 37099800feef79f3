// embeddings.create as the SDK calls it by default: it asks for encoding_format "base64" and
// decodes each embedding as little-endian float32; each must be `dimensions` floats of unit norm.
import assert from 'node:assert/strict';
import { check, client } from './lib.mjs';

const DIMENSIONS = 64;

await check('embeddings', async () => {
  const openai = client();
  const input = ['the first text', 'a second, different text'];
  const r = await openai.embeddings.create({
    model: 'text-embedding-3-small',
    input,
    dimensions: DIMENSIONS,
  });
  assert.equal(r.object, 'list');
  assert.equal(r.data.length, input.length);
  r.data.forEach((d, i) => {
    assert.equal(d.object, 'embedding');
    assert.equal(d.index, i);
    assert.ok(Array.isArray(d.embedding), 'the SDK decoded base64 into an array');
    assert.equal(d.embedding.length, DIMENSIONS);
    assert.ok(d.embedding.every(Number.isFinite), 'every float is finite');
    const norm = Math.sqrt(d.embedding.reduce((s, x) => s + x * x, 0));
    assert.ok(Math.abs(norm - 1) < 1e-4, `unit norm, got ${norm}`);
  });
  assert.notDeepEqual(r.data[0].embedding, r.data[1].embedding, 'different texts differ');
  assert.ok(r.usage.prompt_tokens > 0, JSON.stringify(r.usage));

  // Asked for floats outright, the mock sends the same vector as JSON numbers.
  const floats = await openai.embeddings.create({
    model: 'text-embedding-3-small',
    input: input[0],
    dimensions: DIMENSIONS,
    encoding_format: 'float',
  });
  const a = floats.data[0].embedding;
  assert.equal(a.length, DIMENSIONS);
  a.forEach((x, i) => assert.equal(Math.fround(x), r.data[0].embedding[i], `float ${i}`));
  return `${input.length} vectors of ${DIMENSIONS} floats, unit norm, base64 equal to float`;
});
