/** The bytes the C reference writes for (seed, i): both sides must produce the same stream. */
export function pattern(seed: number, i: number): number {
  return (seed * 31 + i * 7 + (i >>> 8)) & 0xff;
}

/** Fills `dst` with the pattern of `seed`. */
export function fillPattern(dst: Uint8Array, seed: number): Uint8Array {
  for (let i = 0; i < dst.length; i++) dst[i] = pattern(seed, i);
  return dst;
}

/** 32-bit FNV-1a, as the C reference prints it. */
export function fnv1a(bytes: Uint8Array, hash = 2166136261): number {
  let h = hash;
  for (let i = 0; i < bytes.length; i++) h = Math.imul(h ^ bytes[i]!, 16777619) >>> 0;
  return h;
}
