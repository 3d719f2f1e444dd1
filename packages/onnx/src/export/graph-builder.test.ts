/**
 * GraphBuilder: attribute typing against the opset-17 schemas, initializer encoding, unused-node
 * removal and the channels-first twin bookkeeping.
 */
import { fromBinary } from '@bufbuild/protobuf';
import { AttributeProto_AttributeType, ModelProtoSchema } from 'onnx-buf';
import { describe, expect, it } from 'vitest';
import { applyActivation } from './activations.js';
import { GraphBuilder } from './graph-builder.js';

function builder(): GraphBuilder {
  return new GraphBuilder((x, a, ctx) => applyActivation(x, a, ctx));
}

describe('GraphBuilder', () => {
  it('types attributes by the op schema and honours forced kinds', () => {
    const b = builder();
    b.reserve('x');
    b.reserve('y');
    b.setShape('x', [null, 4]);
    const [s] = b.addNode('Softmax', ['x'], 1, { axis: -1 });
    const [l] = b.addNode('LeakyRelu', [s], 1, { alpha: 1 });
    const [c] = b.addNode('Custom', [l], 1, { n: { int: 3 }, sizes: { ints: [1, 2] }, w: 2 }, 'com.example');
    b.addNode('Identity', [c], ['y']);
    const bytes = b.toModelBytes(
      [{ name: 'x', dtype: 'float32', shape: [null, 4] }],
      [{ name: 'y', dtype: 'float32', shape: [null, 4] }],
      { graphName: 'g', metadata: {} },
    );
    const model = fromBinary(ModelProtoSchema, bytes);
    const nodes = model.graph?.node ?? [];
    expect(nodes[0].attribute[0]).toMatchObject({
      name: 'axis',
      type: AttributeProto_AttributeType.INT,
      i: -1n,
    });
    // LeakyRelu's alpha is a FLOAT in the schema even when the value is integral.
    expect(nodes[1].attribute[0]).toMatchObject({
      name: 'alpha',
      type: AttributeProto_AttributeType.FLOAT,
      f: 1,
    });
    expect(nodes[2].attribute.map((a) => [a.name, a.type])).toEqual([
      ['n', AttributeProto_AttributeType.INT],
      ['sizes', AttributeProto_AttributeType.INTS],
      ['w', AttributeProto_AttributeType.FLOAT],
    ]);
    expect(model.opsetImport.map((o) => [o.domain, Number(o.version)])).toEqual([
      ['', 17],
      ['com.example', 1],
    ]);
  });

  it('drops nodes and initializers no output depends on, and reuses layout twins', () => {
    const b = builder();
    b.reserve('img');
    b.reserve('out');
    b.setShape('img', [null, 4, 4, 2]);
    const cf = b.toChannelsFirst('img');
    expect(b.toChannelsFirst('img')).toBe(cf);
    expect(b.shapeOf(cf)).toEqual([null, 2, 4, 4]);
    expect(b.fromChannelsFirst(cf)).toBe('img');
    b.addInitializer('unused', Float32Array.of(1, 2), [2]);
    const [dead] = b.addNode('Relu', [cf], 1);
    expect(dead).toBeTruthy();
    b.addNode('Identity', ['img'], ['out']);
    const model = fromBinary(
      ModelProtoSchema,
      b.toModelBytes(
        [{ name: 'img', dtype: 'float32', shape: [null, 4, 4, 2] }],
        [{ name: 'out', dtype: 'float32', shape: [null, 4, 4, 2] }],
        { graphName: 'g', metadata: { a: 'b' } },
      ),
    );
    expect(model.graph?.node.map((n) => n.opType)).toEqual(['Identity']);
    expect(model.graph?.initializer).toEqual([]);
    expect(model.metadataProps.map((p) => [p.key, p.value])).toEqual([['a', 'b']]);
  });

  it('rejects initializers whose data does not fit their dims', () => {
    expect(() => builder().addInitializer('w', Float32Array.of(1, 2, 3), [2, 2])).toThrow(
      /dims \[2, 2\] need 4 values, got 3/,
    );
  });
});
