// responses.create without streaming: a `response` object whose output message the SDK turns
// into `output_text`.
import assert from 'node:assert/strict';
import { check, client, MODEL } from './lib.mjs';

await check('responses_plain', async () => {
  const r = await client().responses.create({ model: MODEL, input: 'Tell me about outages.' });
  assert.equal(r.object, 'response');
  assert.match(r.id, /^resp_/);
  assert.equal(r.status, 'completed');
  const messages = r.output.filter((o) => o.type === 'message');
  assert.equal(messages.length, 1, JSON.stringify(r.output));
  const [message] = messages;
  assert.equal(message.role, 'assistant');
  const parts = message.content.filter((p) => p.type === 'output_text');
  assert.ok(parts.length >= 1, JSON.stringify(message.content));
  assert.equal(typeof r.output_text, 'string');
  assert.ok(r.output_text.length > 0, 'output_text has the answer');
  assert.equal(r.output_text, parts.map((p) => p.text).join(''));
  assert.ok(r.usage.input_tokens > 0 && r.usage.output_tokens > 0, JSON.stringify(r.usage));
  assert.equal(r.usage.total_tokens, r.usage.input_tokens + r.usage.output_tokens);
  return `${r.output_text.length} characters of output_text, status completed`;
});
