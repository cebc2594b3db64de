/**
 * The worker thread that holds a package's onnxruntime-node sessions (started by session-host.ts).
 * onnxruntime-node's InferenceSession.create and run are synchronous native calls; here they block this thread
 * instead of the service's event loop. Plain ESM JavaScript importing only onnxruntime-node, so it loads the same
 * under tsx, vitest, the tsx CLI and `node --import tsx` in the images, with no TypeScript loader.
 *
 * Protocol (the types are in session-host.ts): each message { id, op, ... } gets one reply { id, ok, value } or
 * { id, ok: false, error: { name, message } }.
 *   create { key, path, options } -> { ms }  a session for `key` (the ONNX file) with these SessionOptions
 *   run    { key, feeds }         -> outputs { name: { type, data, dims } }, their buffers transferred
 *   close  {}                     -> releases every session
 * Operations run one at a time in arrival order: ORT's intra-op pool is the parallelism, and a close never
 * overtakes a create or run queued before it.
 */
import { parentPort } from 'node:worker_threads';
import ort from 'onnxruntime-node';

/** key -> InferenceSession */
const sessions = new Map();

async function create({ key, path, options }) {
  const start = performance.now();
  const session = await ort.InferenceSession.create(path, options);
  const previous = sessions.get(key);
  sessions.set(key, session);
  if (previous) await previous.release();
  return { value: { ms: performance.now() - start } };
}

async function run({ key, feeds }) {
  const session = sessions.get(key);
  if (!session) throw new Error(`no session is open for ${key}`);
  const inputs = {};
  for (const [name, t] of Object.entries(feeds)) inputs[name] = new ort.Tensor(t.type, t.data, t.dims);
  const results = await session.run(inputs);
  const outputs = {};
  // Nothing here reads an output again: hand its memory to the caller instead of copying it.
  const transfer = new Set();
  for (const [name, tensor] of Object.entries(results)) {
    outputs[name] = { type: tensor.type, data: tensor.data, dims: [...tensor.dims] };
    if (ArrayBuffer.isView(tensor.data)) transfer.add(tensor.data.buffer);
  }
  return { value: outputs, transfer: [...transfer] };
}

async function close() {
  const all = [...sessions.values()];
  sessions.clear();
  for (const session of all) await session.release();
  return { value: undefined };
}

const operations = { create, run, close };

let queue = Promise.resolve();
parentPort.on('message', (message) => {
  queue = queue.then(async () => {
    try {
      const operation = operations[message.op];
      if (!operation) throw new Error(`unknown operation ${message.op}`);
      const { value, transfer = [] } = await operation(message);
      parentPort.postMessage({ id: message.id, ok: true, value }, transfer);
    } catch (error) {
      const { name = 'Error', message: text = String(error) } = error instanceof Error ? error : {};
      parentPort.postMessage({ id: message.id, ok: false, error: { name, message: text } });
    }
  });
});
