// An error that strikes a chat stream part-way (the mock sends OpenAI's error object as an SSE
// event after 5 content pieces, as the fault file says): the SDK raises APIError carrying the error's fields, not a bare
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
  let pieces = 0;
  let error = null;
  try {
    for await (const chunk of stream) {
      const piece = chunk.choices[0]?.delta?.content;
      if (piece) pieces += 1;
      text += piece ?? '';
    }
  } catch (e) {
    error = e;
  }
  assert.ok(error, `the stream ended with an error (got ${text.length} characters and no error)`);
  assert.ok(error instanceof OpenAI.APIError, `an APIError, got ${error.constructor.name}: ${error}`);
  assert.equal(pieces, 5, 'the fault file puts the error after 5 content pieces');
  assert.ok(error.error && typeof error.error === 'object', 'the error object is kept');
  // status = 503 in the fault file: OpenAI's overloaded server_error object.
  assert.equal(error.type, 'server_error');
  assert.equal(error.message, error.error.message);
  assert.equal(error.status, undefined, 'an error in a 200 stream has no status of its own');
  return `${text.length} characters, then APIError type=${error.type} code=${error.code}: ${error.message}`;
});
