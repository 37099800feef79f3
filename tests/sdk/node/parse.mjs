// chat.completions.parse with a zod schema (the SDK's documented structured-output path): the
// SDK sends response_format json_schema (strict) and parses the content with the schema, so
// `parsed` is an object with the schema's required keys of the right types.
import assert from 'node:assert/strict';
import { zodResponseFormat } from 'openai/helpers/zod';
import { z } from 'zod';
import { check, client, MODEL } from './lib.mjs';

const Person = z.object({
  name: z.string(),
  age: z.number().int(),
  tags: z.array(z.string()),
  retired: z.boolean(),
});

await check('parse', async () => {
  const c = await client().chat.completions.parse({
    model: MODEL,
    messages: [{ role: 'user', content: 'Describe a person.' }],
    response_format: zodResponseFormat(Person, 'person'),
  });
  const [choice] = c.choices;
  assert.equal(choice.finish_reason, 'stop');
  const parsed = choice.message.parsed;
  assert.ok(parsed && typeof parsed === 'object', `parsed is an object: ${choice.message.content}`);
  assert.deepEqual(Object.keys(parsed).sort(), ['age', 'name', 'retired', 'tags']);
  assert.equal(typeof parsed.name, 'string');
  assert.ok(Number.isInteger(parsed.age));
  assert.ok(Array.isArray(parsed.tags));
  assert.equal(typeof parsed.retired, 'boolean');
  assert.deepEqual(parsed, JSON.parse(choice.message.content));
  return `parsed ${choice.message.content}`;
});
