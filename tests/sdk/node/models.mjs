// models.list and models.retrieve: the SDK pages through the mock's list and reads one model.
import assert from 'node:assert/strict';
import { check, client } from './lib.mjs';

await check('models', async () => {
  const openai = client();
  const ids = [];
  for await (const m of openai.models.list()) {
    assert.equal(m.object, 'model');
    ids.push(m.id);
  }
  assert.deepEqual(ids, ['gpt-4o-mini', 'o3-mini'], 'the fault file lists these');
  const m = await openai.models.retrieve('o3-mini');
  assert.equal(m.id, 'o3-mini');
  assert.equal(m.object, 'model');
  assert.equal(typeof m.owned_by, 'string');
  assert.ok(Number.isInteger(m.created));
  return `listed ${ids.join(', ')}; retrieved ${m.id}`;
});
