// The GPT of gpu/nn written with @tensorflow/tfjs ops, and a training step with the same AdamW,
// global-norm clipping and schedule as gpu/train: the benchmark's peer. Backend-agnostic (the
// benchmark runs it on tfjs-backend-webgpu; test/bench/tfjs-parity.ts on the CPU backend).

import * as tf from "@tensorflow/tfjs";
import { decays, initParameters, parameterShapes, type GPTConfig } from "../../../gpu/nn/config";
import { BatchSampler, learningRate, TRAIN_DEFAULTS } from "../../../gpu/train";

function layerNorm(x: tf.Tensor2D, g: tf.Tensor, b: tf.Tensor): tf.Tensor2D {
  const { mean, variance } = tf.moments(x, -1, true);
  return x.sub(mean).mul(tf.rsqrt(variance.add(1e-5))).mul(g).add(b) as tf.Tensor2D;
}

function gelu(x: tf.Tensor): tf.Tensor {
  // x * x * x, not pow(x, 3): WGSL's pow is undefined for negative bases.
  const inner = x.add(x.mul(x).mul(x).mul(0.044715)).mul(Math.sqrt(2 / Math.PI));
  return x.mul(0.5).mul(tf.tanh(inner).add(1));
}

/** Mean cross-entropy of the GPT on tokens [B*T] against targets [B*T]. */
export function gptLossTf(p: Map<string, tf.Variable>, c: GPTConfig, tokens: tf.Tensor1D, targets: tf.Tensor1D, B: number, T: number, mask: tf.Tensor): tf.Scalar {
  const C = c.nEmbd;
  const H = c.nHead;
  const hd = C / H;
  const w = (n: string) => p.get(n)!;
  const pos = w("wpe.weight").slice([0, 0], [T, C]);
  let x = tf.gather(w("wte.weight"), tokens).reshape([B, T, C]).add(pos).reshape([B * T, C]) as tf.Tensor2D;
  const heads = (t: tf.Tensor) => t.reshape([B, T, H, hd]).transpose([0, 2, 1, 3]) as tf.Tensor4D;
  for (let l = 0; l < c.nLayer; l++) {
    const h = (n: string) => w(`h.${l}.${n}`);
    const ln1 = layerNorm(x, h("ln_1.weight"), h("ln_1.bias"));
    const qkv = tf.matMul(ln1, h("attn.c_attn.weight") as tf.Tensor2D).add(h("attn.c_attn.bias"));
    const [q, k, v] = tf.split(qkv, 3, 1).map(heads);
    const scores = tf.matMul(q, k, false, true).mul(1 / Math.sqrt(hd)).add(mask);
    const y = tf.matMul(tf.softmax(scores), v).transpose([0, 2, 1, 3]).reshape([B * T, C]) as tf.Tensor2D;
    x = x.add(tf.matMul(y, h("attn.c_proj.weight") as tf.Tensor2D).add(h("attn.c_proj.bias")));
    const ln2 = layerNorm(x, h("ln_2.weight"), h("ln_2.bias"));
    const fc = gelu(tf.matMul(ln2, h("mlp.c_fc.weight") as tf.Tensor2D).add(h("mlp.c_fc.bias"))) as tf.Tensor2D;
    x = x.add(tf.matMul(fc, h("mlp.c_proj.weight") as tf.Tensor2D).add(h("mlp.c_proj.bias")));
  }
  const xf = layerNorm(x, w("ln_f.weight"), w("ln_f.bias"));
  const logits = tf.matMul(xf, w("wte.weight") as tf.Tensor2D, false, true);
  const logp = tf.logSoftmax(logits);
  return tf.neg(tf.sum(tf.mul(tf.oneHot(targets, c.vocabSize), logp))).div(B * T) as tf.Scalar;
}

export interface TfjsTrainer {
  /** Records training step i (0-based) and returns its loss (caller disposes). */
  step(i: number): tf.Scalar;
  dispose(): void;
}

/** gpu/train's loop in tfjs: the same init (seed), batches (BatchSampler), AdamW defaults and clipping. */
export function tfjsTrainer(config: GPTConfig, o: { seed: number; batchSize: number; lr: number; steps: number; data: ArrayLike<number> }): TfjsTrainer {
  const B = o.batchSize;
  const T = config.blockSize;
  const weights = initParameters(config, o.seed);
  const params = new Map<string, tf.Variable>();
  for (const [name, shape] of parameterShapes(config)) params.set(name, tf.variable(tf.tensor(weights.get(name)!, shape), true, `${name}#${o.seed}`));
  const names = [...params.keys()];
  const m = new Map(names.map((n) => [n, tf.variable(tf.zerosLike(params.get(n)!), false)]));
  const v = new Map(names.map((n) => [n, tf.variable(tf.zerosLike(params.get(n)!), false)]));
  const varList = names.map((n) => params.get(n)!);
  const mask = tf.tensor(Float32Array.from({ length: T * T }, (_, i) => (i % T <= Math.floor(i / T) ? 0 : -1e9)), [T, T]);
  const sampler = new BatchSampler(o.data, B, T, o.seed);
  const { beta1: b1, beta2: b2, weightDecay: wd, gradClip: clip } = TRAIN_DEFAULTS;
  const eps = 1e-8;
  const schedule = { lr: o.lr, warmupSteps: 0, steps: o.steps };
  return {
    step: (i) =>
      tf.tidy(() => {
        const { x, y } = sampler.next();
        const tokens = tf.tensor1d(x, "int32");
        const targets = tf.tensor1d(y, "int32");
        const { value, grads } = tf.variableGrads(() => gptLossTf(params, config, tokens, targets, B, T, mask), varList);
        // tf.stack + sum, not tf.addN: tfjs-backend-webgpu 4.22's AddN of this many scalars returns
        // another tensor's value on SwiftShader (here the loss), which made the clipping wrong.
        const norm = tf.sqrt(tf.sum(tf.stack(names.map((n) => tf.sum(tf.square(grads[params.get(n)!.name]))))));
        const scale = tf.minimum(1, tf.div(clip, norm.add(1e-6)));
        const lr = learningRate(i, schedule);
        const bc1 = 1 - b1 ** (i + 1);
        const bc2 = 1 - b2 ** (i + 1);
        for (const n of names) {
          const p = params.get(n)!;
          const g = grads[p.name].mul(scale);
          const m1 = m.get(n)!.mul(b1).add(g.mul(1 - b1));
          const v1 = v.get(n)!.mul(b2).add(g.square().mul(1 - b2));
          m.get(n)!.assign(m1);
          v.get(n)!.assign(v1);
          const decayed = decays(n) ? p.mul(1 - lr * wd) : p;
          p.assign(decayed.sub(m1.div(bc1).div(tf.sqrt(v1.div(bc2)).add(eps)).mul(lr)));
        }
        return tf.keep(value);
      }),
    dispose: () => {
      mask.dispose();
      for (const map of [params, m, v]) for (const t of map.values()) t.dispose();
    },
  };
}
