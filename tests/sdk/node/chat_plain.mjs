// chat.completions.create without streaming: the SDK parses the mock's chat.completion.
import assert from 'node:assert/strict';
import { check, client, MODEL } from './lib.mjs';

await check('chat_plain', async () => {
  const c = await client().chat.completions.create({
    model: MODEL,
    messages: [{ role: 'user', content: 'Say something about load.' }],
  });
  assert.equal(c.object, 'chat.completion');
  assert.match(c.id, /^chatcmpl-/);
  assert.equal(c.model, MODEL);
  assert.equal(c.choices.length, 1);
  const [choice] = c.choices;
  assert.equal(choice.index, 0);
  assert.equal(choice.message.role, 'assistant');
  assert.equal(typeof choice.message.content, 'string');
  assert.ok(choice.message.content.length > 0, 'the answer has text');
  assert.equal(choice.finish_reason, 'stop');
  assert.ok(c.usage.prompt_tokens > 0 && c.usage.completion_tokens > 0, JSON.stringify(c.usage));
  assert.equal(c.usage.total_tokens, c.usage.prompt_tokens + c.usage.completion_tokens);
  // The request id the SDK exposes comes from the mock's x-request-id.
  assert.match(c._request_id ?? '', /^req_/);
  return `${c.usage.completion_tokens} tokens, finish_reason stop, request id ${c._request_id}`;
});
