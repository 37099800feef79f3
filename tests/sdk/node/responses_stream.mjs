// responses.create with stream: true: the SDK reads the named events; the text deltas
// concatenated equal the text of output_text.done and of the response in response.completed,
// and the SDK's stream helper builds the same final text.
import assert from 'node:assert/strict';
import { check, client, MODEL } from './lib.mjs';

const input = 'Stream a few words about limits.';

await check('responses_stream', async () => {
  const openai = client();
  const stream = await openai.responses.create({ model: MODEL, input, stream: true });
  const types = [];
  let deltas = '';
  let done = null;
  let completed = null;
  let lastSequence = -1;
  for await (const event of stream) {
    types.push(event.type);
    assert.ok(event.sequence_number > lastSequence, `sequence_number grows at ${event.type}`);
    lastSequence = event.sequence_number;
    if (event.type === 'response.output_text.delta') deltas += event.delta;
    if (event.type === 'response.output_text.done') done = event.text;
    if (event.type === 'response.completed') completed = event.response;
  }
  assert.equal(types[0], 'response.created', types.join(','));
  assert.equal(types.at(-1), 'response.completed', types.join(','));
  assert.ok(deltas.length > 0, 'the deltas carry text');
  assert.equal(done, deltas, 'output_text.done has the concatenated deltas');
  assert.equal(completed.status, 'completed');
  const finalText = completed.output
    .filter((o) => o.type === 'message')
    .flatMap((o) => o.content)
    .filter((p) => p.type === 'output_text')
    .map((p) => p.text)
    .join('');
  assert.equal(finalText, deltas, 'the completed response has the concatenated deltas');

  const helper = openai.responses.stream({ model: MODEL, input });
  const final = await helper.finalResponse();
  assert.equal(final.output_text, deltas, "the SDK's helper builds the same text");
  return `${types.length} events, ${deltas.length} characters, equal in delta, done, completed and helper`;
});
