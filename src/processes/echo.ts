import { z } from 'zod';
import { sleep } from './sleep.js';
import type { ProcessDefinition } from './types.js';

/**
 * `echo`, shaped for the official test suite (ets-ogcapi-processes10) as ../docs/ogcapi.md 4.1 lays out: the
 * first input is a plain string with an output of the same id (raw-value-one); two outputs, so a default raw
 * response is multipart; `pause` sleeps (integers accepted) so results can be asked for before they are ready;
 * `mixedInput` is a top-level oneOf (mixed-type tests); `jsonInput` carries a contentMediaType (the suite sends
 * a wrong value there and expects a 400). No object, bbox or binary inputs: the suite fills those oddly.
 */
const inputs = z
  .object({
    echoInput: z.string().describe('Text to echo (required).'),
    pause: z.number().min(0).max(60).optional().describe('Seconds to wait before answering (0..60).'),
    mixedInput: z.xor([z.string(), z.number()]).optional().describe('A string or a number; echoed as mixedOutput.'),
    jsonInput: z
      .string()
      .refine((text) => isJson(text), 'must be a JSON document as a string')
      .optional()
      .meta({ contentMediaType: 'application/json' })
      .describe('A JSON document, as a string.'),
  })
  .strict();

export const echoProcess: ProcessDefinition = {
  id: 'echo',
  version: '1.0.0',
  title: 'Echo',
  description: 'Echoes its inputs: the test process of the OGC API - Processes test suite.',
  keywords: ['test', 'echo'],
  jobControlOptions: ['sync-execute', 'async-execute', 'dismiss'],
  outputTransmission: ['value', 'reference'],
  defaultTransmission: 'value',
  limited: false,
  inputs,
  inputTitles: { echoInput: 'Text to echo', pause: 'Pause (seconds)', mixedInput: 'String or number', jsonInput: 'JSON text' },
  outputs: {
    echoInput: { title: 'The echoed text', mediaType: 'text/plain', schema: { type: 'string' } },
    mixedOutput: { title: 'mixedInput, or echoInput when it is absent', mediaType: 'text/plain', schema: { oneOf: [{ type: 'string' }, { type: 'number' }] } },
  },
  textByReference: ['echoInput'],
  async prepare(values) {
    const input = values as z.infer<typeof inputs>;
    return {
      inputs: values,
      async run(job) {
        if (input.pause) await sleep(input.pause * 1000, job.signal);
        const mixed = input.mixedInput ?? input.echoInput;
        return {
          outputs: {
            echoInput: { kind: 'value', value: input.echoInput, mediaType: 'text/plain' },
            mixedOutput: { kind: 'value', value: mixed, mediaType: 'text/plain' },
          },
        };
      },
    };
  },
};

function isJson(text: string): boolean {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}
