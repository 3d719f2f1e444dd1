/**
 * The entry point of one OnnxWorkerPool worker: a worker thread or a child process holding one
 * OnnxModel, so ONNX Runtime's synchronous compute runs off the service's event loop.
 */
import { parentPort } from 'node:worker_threads';
import { OnnxModel } from './onnx-model.js';
import { type FromWorker, serializeError, type ToWorker } from './pool-protocol.js';

type Send = (message: FromWorker) => void;

function channel(): { send: Send; onMessage: (handler: (m: ToWorker) => void) => void; exit: () => void } {
  if (parentPort) {
    const port = parentPort;
    return {
      send: (m) => port.postMessage(m),
      onMessage: (h) => port.on('message', h),
      exit: () => port.close(),
    };
  }
  if (process.send) {
    // The parent went away (crash or close): nothing left to serve.
    process.on('disconnect', () => process.exit(0));
    return {
      send: (m) => process.send?.(m),
      onMessage: (h) => process.on('message', h as (m: unknown) => void),
      exit: () => process.disconnect(),
    };
  }
  throw new Error('pool-worker: expected to run as a worker thread or a forked child process');
}

const { send, onMessage, exit } = channel();
let model: OnnxModel | undefined;

onMessage(async (message) => {
  if (message.type === 'init') {
    try {
      model = await OnnxModel.load(message.source, message.options);
      send({
        type: 'ready',
        model: {
          name: model.name,
          version: model.version,
          metadata: { ...model.metadata },
          inputs: [...model.inputs],
          outputs: [...model.outputs],
        },
      });
    } catch (error) {
      send({ type: 'init-error', error: serializeError(error) });
    }
  } else if (message.type === 'run') {
    try {
      if (!model) throw new Error('pool-worker: run before init');
      const outputs = message.batch
        ? await model.runBatch(message.feeds, message.options)
        : await model.run(message.feeds, message.options);
      send({ type: 'result', id: message.id, outputs });
    } catch (error) {
      send({ type: 'error', id: message.id, error: serializeError(error) });
    }
  } else if (message.type === 'close') {
    await model?.close();
    model = undefined;
    exit();
  }
});
