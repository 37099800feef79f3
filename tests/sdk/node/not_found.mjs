// A model the fault file does not list: the SDK raises its NotFoundError (404, code
// model_not_found) for chat completions and for models.retrieve, and does not retry it.
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import { check, client, stats } from './lib.mjs';

async function notFound(call) {
  try {
    await call();
  } catch (e) {
    assert.ok(e instanceof OpenAI.NotFoundError, `a NotFoundError, got ${e?.constructor?.name}: ${e}`);
    assert.equal(e.status, 404);
    assert.equal(e.code, 'model_not_found');
    assert.equal(e.type, 'invalid_request_error');
    assert.match(e.message, /gpt-nonexistent/);
    return e;
  }
  assert.fail('the call succeeded');
}

await check('not_found', async () => {
  const openai = client({ maxRetries: 2 });
  const chat = await notFound(() =>
    openai.chat.completions.create({
      model: 'gpt-nonexistent',
      messages: [{ role: 'user', content: 'hello' }],
    }),
  );
  await notFound(() => openai.models.retrieve('gpt-nonexistent'));
  const s = await stats();
  assert.deepEqual(s.by_retry_count, { 0: 2 }, 'a 404 is never retried');
  return `NotFoundError: ${chat.message}`;
});
