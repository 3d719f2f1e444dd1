/**
 * Child-process probe for the "never crashes" test: loads every path given on the command line
 * with OnnxModel.load and prints one JSON line per file with the error's name (or "ok").
 */
import { OnnxModel } from './onnx-model.js';

for (const path of process.argv.slice(2)) {
  try {
    const model = await OnnxModel.load(path);
    await model.warmup();
    await model.close();
    console.log(JSON.stringify({ path, result: 'ok' }));
  } catch (error) {
    console.log(JSON.stringify({ path, result: (error as Error).name, message: (error as Error).message }));
  }
}
