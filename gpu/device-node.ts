// Node-only device acquisition through Dawn (the `webgpu` package). Never import from a browser module.

import { existsSync, mkdirSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { requestGpuContext, GpuError, type GpuContext, type GpuContextOptions } from "./device";

const SWIFTSHADER_ICD = "/usr/lib/chromium/vk_swiftshader_icd.json";

export interface NodeGpuOptions extends GpuContextOptions {
  /** Dawn toggles; the default disables robustness checks, which are costly on CPU drivers. */
  dawnFeatures?: string[];
}

let gpuSingleton: GPU | null = null;

/** Dawn's GPU object (one per process; Dawn reads its flags once). */
export async function nodeGpu(dawnFeatures: string[] = ["disable_robustness"]): Promise<GPU> {
  if (gpuSingleton) return gpuSingleton;
  // Without a hardware driver, SwiftShader (shipped by Debian's chromium) is the Vulkan device.
  if (!process.env.VK_ICD_FILENAMES && existsSync(SWIFTSHADER_ICD)) process.env.VK_ICD_FILENAMES = SWIFTSHADER_ICD;
  giveWaylandARuntimeDir();
  let mod: typeof import("webgpu");
  try {
    mod = await import("webgpu");
  } catch (e) {
    throw new GpuError(`cannot load Dawn (the 'webgpu' package): ${(e as Error).message}`);
  }
  Object.assign(globalThis, mod.globals);
  const flags = dawnFeatures.length ? [`enable-dawn-features=${dawnFeatures.join(",")}`] : [];
  gpuSingleton = mod.create(flags);
  return gpuSingleton;
}

/**
 * The Vulkan loader probes for a Wayland display, and libwayland prints "error: XDG_RUNTIME_DIR is
 * invalid or not set" when a server, a container or CI has no login session: noise nobody can act on,
 * since no display is needed. A private, empty runtime folder makes the probe fail quietly.
 */
function giveWaylandARuntimeDir() {
  if (process.env.XDG_RUNTIME_DIR) return;
  const dir = path.join(os.tmpdir(), `hearth-runtime-${os.userInfo().uid}`);
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    process.env.XDG_RUNTIME_DIR = dir;
  } catch {
    // Only a message is at stake.
  }
}

/**
 * Dawn's promises spin the main thread while they wait, stealing a core from CPU drivers;
 * sleeping briefly between event-loop turns keeps the wait cheap.
 */
export function sleepingWait<T>(p: Promise<T>): Promise<T> {
  let done = false;
  const tracked = p.finally(() => {
    done = true;
  });
  const cell = new Int32Array(new SharedArrayBuffer(4));
  return new Promise<T>((resolve, reject) => {
    const tick = () => {
      if (done) return;
      Atomics.wait(cell, 0, 0, 0.2);
      setImmediate(tick);
    };
    setImmediate(tick);
    tracked.then(resolve, reject);
  });
}

export async function requestNodeGpuContext(options: NodeGpuOptions = {}): Promise<GpuContext> {
  const gpu = await nodeGpu(options.dawnFeatures);
  try {
    return await requestGpuContext(gpu, { waitHook: sleepingWait, ...options });
  } catch (e) {
    const icd = process.env.VK_ICD_FILENAMES ?? "(unset)";
    throw new GpuError(
      `${(e as Error).message}. In Node, Hearth needs a Vulkan loader (libvulkan1) and a Vulkan driver; ` +
        `without a GPU install Debian's chromium for SwiftShader (VK_ICD_FILENAMES=${icd})`,
    );
  }
}

/** Node counterpart of openGpu: Dawn device plus this adapter's measured kernel choices. */
export async function openNodeGpu(options: NodeGpuOptions & { autotune?: boolean } = {}): Promise<GpuContext> {
  const ctx = await requestNodeGpuContext(options);
  if (options.autotune !== false) {
    const { tuneEngine } = await import("./index");
    await tuneEngine(ctx);
  }
  return ctx;
}
