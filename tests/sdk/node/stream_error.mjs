// An error that strikes a chat stream part-way (the mock sends OpenAI's error object as an SSE
// event after some content): the SDK raises APIError carrying the error's fields, not a bare
// TypeError from a cut connection.
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import { check, client, MODEL } from './lib.mjs';

await check('stream_error', async () => {
  const stream = await client().chat.completions.create({
    model: MODEL,
    messages: [{ role: 'user', content: 'Stream until it breaks.' }],
    stream: true,
  });
  let text = '';
  let error = null;
  try {
    for await (const chunk of stream) {
      text += chunk.choices[0]?.delta?.content ?? '';
    }
  } catch (e) {
    error = e;
  }
  assert.ok(error, `the stream ended with an error (got ${text.length} characters and no error)`);
  assert.ok(error instanceof OpenAI.APIError, `an APIError, got ${error.constructor.name}: ${error}`);
  assert.ok(text.length > 0, 'some content came before the error');
  assert.equal(typeof error.message, 'string');
  assert.ok(error.error && typeof error.error === 'object', 'the error object is kept');
  assert.equal(typeof error.type, 'string');
  return `${text.length} characters, then APIError type=${error.type} code=${error.code}: ${error.message}`;
});
