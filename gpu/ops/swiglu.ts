// SwiGLU, the activation of the Llama / Mistral / Qwen2 MLP: down(silu(gate(x)) * up(x)).

import type { GpuContext } from "../device";
import type { Tensor } from "../tensor";
import { elementWG, expectSameShape, grid1d } from "./util";

export function swiglu(ctx: GpuContext, gate: Tensor, up: Tensor): Tensor {
  expectSameShape("swiglu", ["gate", "up"], gate, up);
  const out = ctx.empty(gate.shape, "f32", "swiglu");
  const WG = elementWG(ctx);
  ctx.dispatch({
    kernel: "swiglu",
    entry: "forward",
    constants: { WG },
    params: { u: [gate.size] },
    // gate, up, out
    bindings: [gate, up, out],
    groups: grid1d(ctx, gate.size, WG),
  });
  return out;
}

export function swigluBackward(ctx: GpuContext, gate: Tensor, up: Tensor, dy: Tensor): { dgate: Tensor; dup: Tensor } {
  expectSameShape("swigluBackward", ["gate", "up"], gate, up);
  expectSameShape("swigluBackward", ["gate", "dy"], gate, dy);
  const dgate = ctx.empty(gate.shape, "f32", "swigluBackward");
  const dup = ctx.empty(gate.shape, "f32", "swigluBackward");
  const WG = elementWG(ctx);
  ctx.dispatch({
    kernel: "swiglu",
    entry: "backward",
    constants: { WG },
    params: { u: [gate.size] },
    // gate, up, -, dy, dgate, dup
    bindings: [gate, up, null, dy, dgate, dup],
    groups: grid1d(ctx, gate.size, WG),
  });
  return { dgate, dup };
}
